"""Each kind of hostile request an outside test found, against a real server: a clear 4xx, nothing changed.

The kinds (each once answered 500, or in no documented format): JSON nested
1,000 to 100,000 levels, objects inside text fields, a NUL in a path id, a
lone surrogate in a field name or a marks key (the ballot fast path too), a
roster CSV with a 200,000-character field, a charset other than UTF-8, a
3 MB body, routes and methods that do not exist, unknown websocket paths.
Every answer must be our error format, valid UTF-8, with an X-Request-ID;
the ledger (tests.hostile.ledger) taken before the first request must find
no change after the last; the server must log no traceback.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django_tenants.utils import schema_context

from tests.hostile.fuzz import error_format_problem
from tests.hostile.hall import Hall, set_up_hall
from tests.hostile.ledger import Ledger
from tests.live.server import LiveServer, county_host, make_live_county, marks_for
from tests.live.ws import Screen

DEEP = [1_000, 100_000]
SURROGATE = '"\\ud800"'  # a lone surrogate as JSON writes it: ASCII on the wire, unencodable once parsed


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[LiveServer]:
    server = LiveServer(threads=4)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def hall(hostile_server: LiveServer, make_county: Any, django_db_blocker: Any) -> Iterator[Hall]:
    with django_db_blocker.unblock():
        county = make_live_county(make_county)
        hall = set_up_hall(hostile_server, county)
        ledger = Ledger.take(county.schema_name)
    yield hall
    # Every request of this module was refused: nothing may have changed anywhere.
    with django_db_blocker.unblock(), schema_context("public"):
        assert ledger.check([]) == []
    log = Path(hostile_server.log.name).read_text(errors="replace")
    assert "Traceback" not in log and "Internal Server Error" not in log, log[-3000:]


class Client:
    """The county's host on the server, as a role (token) or anonymous."""

    def __init__(self, hall: Hall, role: str | None = None) -> None:
        self.hall = hall
        headers = {"Host": f"{county_host(hall.county)}:{hall.server.port}"}
        if role is not None:
            token = next(i.token for i in hall.identities if i.name == role)
            headers["Authorization"] = f"Token {token}"
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{hall.server.port}", headers=headers, timeout=120)

    def send(self, method: str, path: str, body: bytes | str | None = None, *,
             content_type: str = "application/json", **kwargs: Any) -> httpx.Response:
        headers = {"Idempotency-Key": str(uuid.uuid4()), **kwargs.pop("headers", {})}
        if body is not None:
            headers["Content-Type"] = content_type
        content = body.encode() if isinstance(body, str) else body
        return self.http.request(method, path, content=content, headers=headers, **kwargs)


def refused(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """The error of an answer that must be `status` (and `code`) in the documented format."""
    text = response.content.decode("utf-8")  # strict: an answer that cannot be decoded fails here
    problem = error_format_problem(response.status_code, response.headers, text)
    assert problem is None, problem
    assert response.status_code == status, (response.status_code, text[:500])
    error: dict[str, Any] = response.json()["error"]
    if code is not None:
        assert error["code"] == code, error
    return error


# -- JSON nested 1,000 to 100,000 levels ---------------------------------------------------------


@pytest.mark.parametrize("levels", DEEP)
def test_deep_json_is_refused_everywhere_before_it_is_parsed(hall: Hall, levels: int) -> None:
    deep = "[" * levels + "]" * levels
    within_size = min(levels, 40_000)  # 200 KB of '{"a":', under API_MAX_JSON_BYTES: refused for depth, not size
    deep_object = '{"a":' * within_size + "1" + "}" * within_size
    anonymous, admin, host, teller = (Client(hall), Client(hall, "county_admin"), Client(hall, "host"),
                                      Client(hall, "teller"))
    for client, path in [
        (anonymous, f"/api/v/{hall.open}/ballot/"),  # the ballot fast path
        (anonymous, f"/api/v/{hall.open}/form/"),
        (anonymous, f"/api/v/{hall.open}/question/"),
        (anonymous, "/api/token/"),
        (admin, "/api/rounds/"),
        (admin, "/api/meetings/"),
        (host, f"/api/meetings/{hall.open}/comments/"),
        (teller, f"/api/meetings/{hall.open}/paper-batches/"),
    ]:
        refused(client.send("POST", path, deep), 400, "json_too_deep")
        refused(client.send("POST", path, deep_object), 400, "json_too_deep")
    # Brackets inside strings are text, not depth: a shallow body full of them gets past the depth check.
    brackets = json.dumps({"code": "[" * 5000, "marks": {}})
    refused(anonymous.send("POST", f"/api/v/{hall.open}/ballot/", brackets), 400, "invalid_input")


def test_objects_inside_text_fields_are_invalid_input(hall: Hall) -> None:
    nested: Any = "x"
    for _ in range(10):
        nested = {"a": nested}
    admin, host, anonymous = Client(hall, "county_admin"), Client(hall, "host"), Client(hall)
    error = refused(admin.send("POST", "/api/rounds/", json.dumps({"name": nested, "year": 2026,
                                                                    "variant": "zhi_ping_cun_guan"})), 400, "invalid_input")
    assert set(error["details"]) == {"name"}
    refused(host.send("POST", f"/api/meetings/{hall.open}/comments/",
                      json.dumps({"subject_id": "shuji", "text": nested})), 400, "invalid_input")
    refused(anonymous.send("POST", f"/api/v/{hall.open}/ballot/",
                           json.dumps({"code": nested, "marks": marks_for()})), 400, "invalid_input")
    refused(anonymous.send("POST", f"/api/v/{hall.open}/ballot/",
                           json.dumps({"code": hall.codes["party_member"][0], "marks": {"shuji": {"zongti": nested}}})),
            400, "invalid_input")


# -- NUL and lone surrogates ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [
    "/api/v/%00/form/", "/api/v/%00/ballot/", "/api/meetings/%00/", "/api/meetings/a%00b/announce/",
    "/api/meetings/{open}/questions/%00/answer/", "/api/meetings/{open}/paper-batches/%00/",
    "/api/meetings/%ED%A0%80/", "/api/meetings/%F0%9F%98%80/", "/api/meetings/{long}/",
    "/api/meetings/{open}/paper-batches/99999999999999999999/",
])
def test_an_id_no_route_takes_is_a_404_in_the_error_format(hall: Hall, path: str) -> None:
    path = path.format(open=hall.open, long="m" * 65)
    for client in (Client(hall), Client(hall, "county_admin")):
        for method in ("GET", "POST"):
            error = refused(client.send(method, path, "{}"), 404, "not_found")
            assert "\x00" not in json.dumps(error) and "\\u0000" not in json.dumps(error)


@pytest.mark.parametrize("body", [
    '{"code": "%(code)s", "marks": {%(s)s: {"zongti": "chenzhi"}}}',  # a marks key (the fast path)
    '{"code": "%(code)s", "marks": {"shuji": {%(s)s: "chenzhi"}}}',
    '{"code": "%(code)s", "marks": {"shuji": {"zongti": %(s)s}}}',
    '{"code": %(s)s, "marks": {}}',
    '{%(s)s: 1, "code": "%(code)s", "marks": {}}',  # a field name
    '{"code": "%(code)s", "marks": {"shuji\\u0000": {"zongti": "chenzhi"}}}',  # NUL in a key
    '{"code": "%(code)s\\u0000", "marks": {}}',
])
def test_nul_and_lone_surrogates_are_refused_on_the_ballot_fast_path(hall: Hall, body: str) -> None:
    text = body % {"code": hall.codes["party_member"][0], "s": SURROGATE}
    error = refused(Client(hall).send("POST", f"/api/v/{hall.open}/ballot/", text), 400, "invalid_characters")
    assert "\\ud800" not in json.dumps(error)


@pytest.mark.parametrize(("role", "path", "body"), [
    (None, "/api/v/{open}/form/", '{"code": %(s)s}'),
    (None, "/api/v/{open}/form/", '{%(s)s: "x", "code": "x"}'),
    (None, "/api/v/{open}/question/", '{"code": "x", "subject_id": "shuji", "text": "a\\u0000b"}'),
    (None, "/api/token/", '{"username": %(s)s, "password": "x"}'),
    ("county_admin", "/api/rounds/", '{"name": "a", "year": 2026, "variant": "zhi_ping_cun_guan", "rules": {%(s)s: 1}}'),
    ("county_admin", "/api/meetings/", '{"round_id": "r\\u0000", "title": %(s)s}'),
    ("host", "/api/meetings/{open}/comments/", '{"subject_id": "shuji", "text": %(s)s}'),
    ("host", "/api/meetings/{open}/check-in/", '{"member_id": "pm0\\u0000"}'),
    ("teller", "/api/meetings/{open}/paper-batches/",
     '{"batch_no": 1, "ballots": [{"code": "x", "marks": {%(s)s: {}}}]}'),
])
def test_nul_and_lone_surrogates_are_refused_in_every_key_and_text(hall: Hall, role: str | None, path: str,
                                                                   body: str) -> None:
    response = Client(hall, role).send("POST", path.format(open=hall.open), body % {"s": SURROGATE})
    refused(response, 400, "invalid_characters")


def test_other_bounds_of_a_json_body(hall: Hall) -> None:
    anonymous, admin = Client(hall), Client(hall, "county_admin")
    refused(anonymous.send("POST", f"/api/v/{hall.open}/form/", json.dumps({"k" * 129: 1, "code": "x"})),
            400, "key_too_long")
    rules = '{"name": "a", "year": 2026, "variant": "zhi_ping_cun_guan", "rules": {"x": %s}}'
    refused(admin.send("POST", "/api/rounds/", rules % "1e400"), 400, "number_out_of_range")
    refused(admin.send("POST", "/api/rounds/", rules % "NaN"), 400, "malformed_request")
    refused(anonymous.send("POST", f"/api/v/{hall.open}/ballot/", b'{"code": "\xff"}'), 400, "malformed_request")
    refused(anonymous.send("POST", f"/api/v/{hall.open}/ballot/", "not json"), 400, "malformed_request")
    refused(admin.send("POST", "/api/rounds/", "1" * 5000), 400, "malformed_request")  # past int's digit limit


# -- charsets, media types, sizes ----------------------------------------------------------------


@pytest.mark.parametrize("charset", ["latin-1", "utf-16", "gb18030", "nonsense"])
def test_json_in_another_charset_is_415(hall: Hall, charset: str) -> None:
    body = json.dumps({"code": hall.codes["party_member"][0], "marks": marks_for()})
    content_type = f"application/json; charset={charset}"
    refused(Client(hall).send("POST", f"/api/v/{hall.open}/ballot/", body, content_type=content_type),
            415, "unsupported_charset")
    refused(Client(hall).send("POST", f"/api/v/{hall.open}/form/", '{"code": "x"}', content_type=content_type),
            415, "unsupported_charset")
    refused(Client(hall, "host").send("POST", f"/api/meetings/{hall.open}/comments/", "{}", content_type=content_type),
            415, "unsupported_charset")
    # UTF-8 said aloud is UTF-8.
    refused(Client(hall).send("POST", f"/api/v/{hall.open}/form/", '{"code": "x"}',
                              content_type="application/json; charset=UTF-8"), 400, "malformed_code")


def test_other_media_types_are_415(hall: Hall) -> None:
    refused(Client(hall).send("POST", f"/api/v/{hall.open}/ballot/", "code=x", content_type="text/plain"),
            415, "unsupported_media_type")
    refused(Client(hall, "county_admin").send("POST", "/api/rounds/", "a=b",
                                               content_type="application/x-www-form-urlencoded"),
            415, "unsupported_media_type")


@pytest.mark.parametrize("megabytes", [1, 3, 20])
def test_large_bodies_get_413_in_the_error_format(hall: Hall, megabytes: int) -> None:
    body = json.dumps({"code": "x" * (megabytes * 1024 * 1024), "marks": {}})
    refused(Client(hall).send("POST", f"/api/v/{hall.open}/ballot/", body), 413, "request_too_large")
    refused(Client(hall).send("POST", f"/api/v/{hall.open}/form/", body), 413, "request_too_large")
    refused(Client(hall, "county_admin").send("POST", "/api/rounds/", body), 413, "request_too_large")


# -- roster files ----------------------------------------------------------------------------------


def _xlsx_with_a_broken_sheet() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        archive.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        archive.writestr("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
        archive.writestr("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>姓名</t></is></c></row><row r="2"><c')
    return out.getvalue()


@pytest.mark.parametrize(("filename", "content", "code"), [
    ("r.csv", ("姓名,身份类别,乡镇,村\n" + "x" * 200_000 + ",党员,柳林乡,柳林村\n").encode(), "cell_too_long"),
    ("r.csv", ("姓名,身份类别,乡镇,村\n张三,党员," + "乡" * 100_000 + ",柳林村\n").encode(), "cell_too_long"),
    ("r.csv", "姓名,身份类别,乡镇,村\n张\x00三,党员,柳林乡,柳林村\n".encode(), "invalid_characters"),
    ("r.csv", b"\xff\xfe" + "姓名,身份类别\n".encode("utf-16-le") + b"\x00\xd8", "bad_encoding"),
    ("r.csv", b"\xef\xbb\xbf\xff\xfe\xfd", "bad_encoding"),
    ("r.xlsx", _xlsx_with_a_broken_sheet(), "unreadable_file"),
])
def test_hostile_roster_files_are_refused_with_their_row(hall: Hall, filename: str, content: bytes, code: str) -> None:
    client = Client(hall, "county_admin")
    response = client.http.post("/api/rosters/import/", files={"file": (filename, content)},
                                headers={"Idempotency-Key": str(uuid.uuid4())})
    error = refused(response, 400, "roster_invalid")
    assert [e["code"] for e in error["details"]["errors"]] == [code], error
    assert len(response.content) < 2000  # the 200,000 characters are not echoed back


def test_a_roster_form_with_a_nul_in_a_value_is_refused(hall: Hall) -> None:
    client = Client(hall, "county_admin")
    response = client.http.post("/api/rosters/import/", files={"file": ("r.csv", "姓名,身份类别\n".encode())},
                                data={"dry_run": "tr\x00ue"}, headers={"Idempotency-Key": str(uuid.uuid4())})
    refused(response, 400, "invalid_characters")


# -- routes, methods, pages, websockets --------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/", "/api", "/api/nope/", "/api/meetings/x/nope/", "/api/v/x/", "/api/%00"])
def test_unmatched_api_routes_are_404_in_the_error_format(hall: Hall, path: str) -> None:
    for method in ("GET", "POST", "DELETE"):
        refused(Client(hall).send(method, path), 404, "not_found")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v/{open}/ballot/"), ("PUT", "/api/v/{open}/ballot/"), ("DELETE", "/api/meetings/"),
    ("PATCH", "/api/rounds/"), ("POST", "/api/schema/"), ("POST", "/api/docs/"), ("GET", "/api/token/"),
    ("PUT", "/api/meetings/{open}/"),
])
def test_a_method_a_route_does_not_take_is_405_in_the_error_format(hall: Hall, method: str, path: str) -> None:
    refused(Client(hall, "county_admin").send(method, path.format(open=hall.open)), 405, "method_not_allowed")


def test_an_unknown_host_under_api_is_404_in_the_error_format(hall: Hall) -> None:
    response = httpx.get(hall.server.url("127.0.0.1", "/api/meetings/"), headers={"Host": "nowhere.localhost"},
                         timeout=60)
    refused(response, 404, "unknown_host")


@pytest.mark.parametrize("path", ["/nope/", "/hall/%00/screen/", "/hall/a%00b/console/", "/v/%ED%A0%80"])
def test_pages_outside_the_api_answer_chinese_pages(hall: Hall, path: str) -> None:
    response = Client(hall).send("GET", path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.content.decode("utf-8")
    assert 'lang="zh-Hans"' in page and "页面不存在" in page
    assert response.headers.get("X-Request-ID")


def test_a_form_without_its_csrf_token_gets_a_chinese_page(hall: Hall) -> None:
    response = Client(hall).send("POST", "/login/", "username=a&password=b",
                                 content_type="application/x-www-form-urlencoded")
    assert response.status_code == 403
    page = response.content.decode("utf-8")
    assert 'lang="zh-Hans"' in page and "csrf_failed" in page


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/m/%00/screen/", "/ws/m/a%00b/phone/", "/ws/m/" + "a" * 65 + "/teller/",
                                  "/", "/api/meetings/"])
def test_unknown_websocket_paths_get_an_error_message_and_a_close(hall: Hall, path: str) -> None:
    server_log = Path(hall.server.log.name)
    logged_before = len(server_log.read_bytes())
    screen = Screen(hall.server, county_host(hall.county), path)
    try:
        message = screen.next()
        assert message is not None and message["type"] == "error" and message["code"] == "not_found", message
        assert screen.next() is None and screen.close_code == 4404
    finally:
        screen.close()
    # A clean refusal, not a server error: nothing of it in the server's log.
    logged = server_log.read_bytes()[logged_before:].decode("utf-8", "replace")
    assert "Traceback" not in logged and "ERROR" not in logged, logged[-2000:]
