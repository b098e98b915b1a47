"""shuping-verify: check an exported Shuping meeting log, on any machine with Python 3.11+.

    python3 shuping_verify.py meeting.jsonl [--head HASH ...] [--json]
    python3 shuping_verify.py county-2026.tar      (a county-year archive: every stream)

One file, the standard library only: download it from the platform
(``/shuping-verify.py``) or take it from the repository, and run it with no
database and no other code of ours. ``shuping log verify`` runs this very
module, so the two always say the same. It checks, in file order:

* the chain: strict JSON lines, the header, each event's hash and link, the
  header's count and head, and the heads published outside the platform
  (``--head``); a head that is not the last event is reported as PREFIX ONLY;
* the count: every ``ResultsAnnounced`` is recounted from the ballots and
  paper batches before it in the same log; any difference is named with the
  subject and the figure;
* completeness: a log that contains its ``MeetingClosed`` must hold its
  results before it and end there (only the events the meeting allows after
  its close may follow).

It reads a meeting's public log (``shuping-public-log``: personal data
removed, see section 14) and a county-year archive (a tar file of logs with a
hashed manifest, section 15) the same way.

Exit status: 0 verified; 1 tampered, invalid or miscounted; 2 unreadable
file or bad arguments; 3 verified, but the trusted heads pin a prefix only.
The specification is docs/event-log-format.md (sections 8 and 13 to 15), not this code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from typing import Any, TextIO

LOG_FORMAT = "shuping-log"
LOG_FORMAT_VERSION = 1
PUBLIC_FORMAT = "shuping-public-log"  # section 14: events with personal data redacted
ARCHIVE_FORMAT = "shuping-archive"  # section 15: a county's year in one tar file
EVENT_FORMAT = "shuping-event/1"
GENESIS_HASH = "0" * 64
MAX_SAFE_INTEGER = 2**53 - 1
HEADER_KEYS = frozenset({"format", "format_version", "county", "stream", "exported_at", "event_count", "head_hash"})
EVENT_KEYS = frozenset(
    {"position", "stream", "version", "type", "schema_version", "data", "metadata", "recorded_at", "prev_hash", "hash"}
)
_HASHED = ("stream", "version", "type", "schema_version", "data", "metadata", "recorded_at", "prev_hash")
_EVENT_TYPES = (("position", "integer"), ("stream", "string"), ("version", "integer"), ("type", "string"),
                ("schema_version", "integer"), ("data", "object"), ("metadata", "object"),
                ("recorded_at", "string"), ("prev_hash", "string"), ("hash", "string"))
_TYPE_NAMES_ZH = {"object": "对象", "array": "数组", "string": "字符串", "integer": "整数", "number": "小数",
                  "boolean": "布尔值", "null": "null"}
# Events a meeting may record after MeetingClosed: late answers to deferred
# questions, and revoking the hall screen's links (allowed in every phase).
AFTER_CLOSE = frozenset({"QuestionAnswered", "ScreenLinksRevoked"})
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HEX64_RE = re.compile(r"[0-9a-f]{64}\Z")
_FORBIDDEN_RE = re.compile("[\x00\ud800-\udfff]")


# -- canonical JSON (section 6) ----------------------------------------------------------------


class CanonicalError(ValueError):
    """A value has no canonical form."""


def is_hex_digest(value: object) -> bool:
    return isinstance(value, str) and _HEX64_RE.match(value) is not None


def _plain(value: Any) -> bool:
    """Only exact dict/list/str/int/bool/None the canonical form accepts (json.dumps is then exact)."""
    kind = type(value)
    if kind is str:
        return _FORBIDDEN_RE.search(value) is None
    if kind is dict:
        return all(type(k) is str and _KEY_RE.match(k) and _plain(v) for k, v in value.items())
    if kind is list:
        return all(_plain(item) for item in value)
    if kind is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    return value is None or value is True or value is False


def _check(value: Any, path: str) -> None:
    """Raise CanonicalError naming the first value (by its path) that has no canonical form."""
    where = path or "(root)"
    if isinstance(value, str):
        bad = _FORBIDDEN_RE.search(value)
        if bad is not None:
            char = bad.group()
            what = "U+0000 (NUL, rejected by PostgreSQL jsonb)" if char == "\x00" else (
                f"lone surrogate U+{ord(char):04X} (not encodable as UTF-8)")
            raise CanonicalError(f"{where}: string contains {what} at index {bad.start()}")
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalError(f"{where}: integer {value} is outside ±(2**53-1); store it as a string")
    elif isinstance(value, float):
        raise CanonicalError(f"{where}: floats are not allowed ({value!r}); their text form is not portable "
                             "between languages. Use a string like \"87.5\" or an integer numerator/denominator")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or _KEY_RE.match(key) is None:
                raise CanonicalError(f"{where}: object key {key!r} is not an ASCII identifier "
                                     "matching ^[A-Za-z_][A-Za-z0-9_]*$")
            _check(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
    else:
        raise CanonicalError(f"{where}: values of type {type(value).__name__} are not allowed")


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 bytes of a value: sorted keys, no whitespace, minimal escapes."""
    try:
        if not _plain(value):
            _check(value, "")
    except RecursionError:
        raise CanonicalError("value is nested too deeply to encode") from None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def event_hash(county: str, line: dict[str, Any]) -> str:
    """SHA-256 (hex) of an event line's hash input (section 5)."""
    for name, minimum in (("version", 1), ("schema_version", 0)):
        if line[name] < minimum:
            raise CanonicalError(f"{name} must be >= {minimum}, got {line[name]}")
    hash_input = {"format": EVENT_FORMAT, "county": county, **{name: line[name] for name in _HASHED}}
    return hashlib.sha256(canonical_json(hash_input)).hexdigest()


# -- reading lines (sections 2 to 4) -----------------------------------------------------------


class BadLine(Exception):
    """A line cannot be read; carries both languages of the reason."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message, self.message_zh = message, message_zh


@dataclass(frozen=True)
class LogHeader:
    county: str
    stream: str
    exported_at: str
    event_count: int
    head_hash: str | None
    public: bool = False


@dataclass(frozen=True)
class LogEvent:
    position: int
    stream: str
    version: int
    prev_hash: str
    hash: str
    computed_hash: str
    type: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    redacted: bool = False  # a public log's redacted event: its hash is taken as published


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two equal keys wins: a file with one could show two contents.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise BadLine(f"duplicate key {key!r}", f"键 {key!r} 重复出现")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise BadLine(f"{name} is not valid JSON", f"{name} 不是合法的 JSON")


def _integer(token: str) -> int:
    if token == "-0":
        raise BadLine("-0 is not an acceptable integer", "-0 不是可接受的整数")
    return int(token)


# Fractions and exponents parse as floats, which the canonical check refuses with their path.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_int=_integer)


def parse_json_line(raw: str | bytes) -> Any:
    """Parse one line as strict JSON; raise BadLine when it is not."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadLine(f"not valid UTF-8 (byte offset {exc.start})", f"不是合法的 UTF-8 编码（字节偏移 {exc.start}）") from None
    if not raw.strip():
        raise BadLine("empty line", "空行")
    try:
        return _DECODER.decode(raw)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON: {exc.msg} at column {exc.colno}",
                      f"不是合法的 JSON：第 {exc.colno} 列附近出错（{exc.msg}）") from None
    except (ValueError, RecursionError) as exc:
        raise BadLine(f"not acceptable JSON: {exc}", f"无法接受的 JSON：{exc}") from None


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                       (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_keys(obj: dict[str, Any], expected: frozenset[str], what: str, what_zh: str) -> None:
    missing, unknown = sorted(expected - obj.keys()), sorted(obj.keys() - expected)
    if missing or unknown:
        en = "; ".join(([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else []))
        zh = "；".join(([f"缺少 {'、'.join(missing)}"] if missing else []) + ([f"多出 {'、'.join(unknown)}"] if unknown else []))
        raise BadLine(f"{what} has the wrong set of keys ({en})", f"{what_zh}的字段不符合格式（{zh}）")


def _wrong_type(name: str, expected: str, value: Any) -> BadLine:
    got = _json_type(value)
    return BadLine(f"{name} must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}, got {got}",
                   f"{name} 应为{_TYPE_NAMES_ZH.get(expected, expected)}，实际为{_TYPE_NAMES_ZH.get(got, got)}")


def parse_header(raw: str | bytes) -> LogHeader:
    """Read the header line; raise BadLine when it is not a header of this format."""
    if isinstance(raw, bytes) and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a byte order mark carries no meaning
    elif isinstance(raw, str) and raw.startswith("\ufeff"):
        raw = raw[1:]
    obj = parse_json_line(raw)
    if not isinstance(obj, dict):
        raise BadLine("the header must be a JSON object", "文件头必须是 JSON 对象")
    _check_keys(obj, HEADER_KEYS, "the header", "文件头")
    if obj["format"] not in (LOG_FORMAT, PUBLIC_FORMAT):
        raise BadLine(f"format must be {LOG_FORMAT!r}, got {obj['format']!r}", f"format 应为 {LOG_FORMAT!r}，实际为 {obj['format']!r}")
    if not _is_int(obj["format_version"]) or obj["format_version"] != LOG_FORMAT_VERSION:
        raise BadLine(f"unsupported format_version {obj['format_version']!r} (this verifier reads {LOG_FORMAT_VERSION})",
                      f"不支持的 format_version {obj['format_version']!r}（本校验器支持 {LOG_FORMAT_VERSION}）")
    for name in ("county", "stream", "exported_at"):
        if not isinstance(obj[name], str):
            raise _wrong_type(name, "string", obj[name])
        if not obj[name]:
            raise BadLine(f"{name} must not be empty", f"{name} 不能为空")
    try:
        canonical_json([obj["county"], obj["stream"]])  # both enter every hash input
    except CanonicalError as exc:
        raise BadLine(f"county/stream cannot be hashed: {exc}", f"county/stream 无法参与哈希：{exc}") from None
    if not _is_int(obj["event_count"]):
        raise _wrong_type("event_count", "integer", obj["event_count"])
    if obj["event_count"] < 0:
        raise BadLine("event_count must not be negative", "event_count 不能为负数")
    if obj["head_hash"] is not None and not is_hex_digest(obj["head_hash"]):
        raise BadLine("head_hash must be null or 64 lowercase hex digits", "head_hash 必须为 null 或 64 位小写十六进制数")
    return LogHeader(obj["county"], obj["stream"], obj["exported_at"], obj["event_count"], obj["head_hash"],
                     obj["format"] == PUBLIC_FORMAT)


def line_locator(obj: Any) -> tuple[int | None, int | None]:
    """Best-effort (position, version) of a line that failed to parse fully."""
    if not isinstance(obj, dict):
        return None, None
    position, version = obj.get("position"), obj.get("version")
    return (position if _is_int(position) else None, version if _is_int(version) else None)


def parse_event(obj: Any, county: str, *, public: bool = False) -> LogEvent:
    """Check the shape of a parsed event line and hash its content; raise BadLine if wrong."""
    if not isinstance(obj, dict):
        kind = _json_type(obj)
        raise BadLine(f"an event line must be a JSON object, got {kind}", f"事件行必须是 JSON 对象，实际为{_TYPE_NAMES_ZH.get(kind, kind)}")
    _check_keys(obj, EVENT_KEYS | {"redacted"} if public else EVENT_KEYS, "the event", "事件")
    if public and not isinstance(obj["redacted"], bool):
        raise _wrong_type("redacted", "boolean", obj["redacted"])
    for name, expected in _EVENT_TYPES:
        if not (_is_int(obj[name]) if expected == "integer" else _json_type(obj[name]) == expected):
            raise _wrong_type(name, expected, obj[name])
    if not -MAX_SAFE_INTEGER <= obj["position"] <= MAX_SAFE_INTEGER:
        raise BadLine("position is outside ±(2**53-1)", "position 超出 ±(2**53-1) 范围")
    for name in ("prev_hash", "hash"):
        if not is_hex_digest(obj[name]):
            raise BadLine(f"{name} must be 64 lowercase hex digits", f"{name} 必须是 64 位小写十六进制数")
    try:
        computed = event_hash(county, obj)
    except CanonicalError as exc:
        raise BadLine(f"content is not in the canonical value set: {exc}", f"内容不符合规范化编码的取值规则：{exc}") from None
    redacted = public and obj["redacted"]
    # A redacted event's content is not what was hashed: its hash stands as published (section 14).
    return LogEvent(obj["position"], obj["stream"], obj["version"], obj["prev_hash"], obj["hash"],
                    obj["hash"] if redacted else computed, obj["type"], obj["data"], redacted)


# -- the recount (section 13) -------------------------------------------------------------------


class Uncountable(Exception):
    """The log does not hold what a recount needs (rules, a code's category, a mark)."""


def percent_tenths(rate: Fraction) -> int:
    """A rate in tenths of a percent, rounded half up: 1/3 -> 333, 1/8 -> 125."""
    scaled = rate * 1000
    return (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)


def display_percent(rate: Fraction | None) -> str:
    if rate is None:
        return "—"
    tenths = percent_tenths(rate)
    return f"{tenths // 10}.{tenths % 10}%"


def display_decimal(value: Fraction | None) -> str:
    if value is None:
        return "—"
    tenths = percent_tenths(value / 100)
    return f"{tenths // 10}.{tenths % 10}"


def scale_of(rules: dict[str, Any], subject: dict[str, Any]) -> dict[str, Any]:
    """The scale a subject is graded on: its kind's scale (rules.scales), or the one scale of older rules."""
    if "scales" in rules:
        return rules["scales"][subject.get("kind", "person")]
    return rules["scale"]


def group_categories(min_size: int, per_category: dict[str, int], graders: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """A subject's groups (id, categories): categories with fewer than min_size ballots are pooled."""
    present = [(cat, per_category[cat]) for cat in graders if per_category.get(cat, 0) > 0]
    small = [cat for cat, n in present if n < min_size]
    large = [(cat, n) for cat, n in present if n >= min_size]
    if not small:
        return [(cat, (cat,)) for cat, _ in large]
    if sum(per_category[cat] for cat in small) >= min_size or not large:
        return [*((cat, (cat,)) for cat, _ in large), ("other", tuple(small))]
    absorbing = min(large, key=lambda item: item[1])[0]  # the smallest named group; ties: rules order
    kept = [(cat, (cat,)) for cat, _ in large if cat != absorbing]
    return [*kept, ("other", tuple(cat for cat in graders if cat in small or cat == absorbing))]


def _subject_outcome(rules: dict[str, Any], subject: dict[str, Any], ballots: list[tuple[str, Any]],
                     per_category: dict[str, int]) -> dict[str, Any]:
    scale = scale_of(rules, subject)
    grades = scale["grades"]
    criteria = [c["id"] for c in rules["criteria"]]
    weights = rules.get("category_weights", {})
    sid = subject["subject_id"]
    groups: list[dict[str, Any]] = []
    for group_id, categories in group_categories(rules.get("min_group_size", 5), per_category,
                                                 rules["graders"].get(subject["level"], [])):
        counts = {c: {g["id"]: 0 for g in grades} for c in criteria}
        n = 0
        for category, marks in ballots:
            if category in categories:
                n += 1
                for criterion in criteria:
                    grade = marks.get(sid, {}).get(criterion) if isinstance(marks.get(sid), dict) else None
                    if grade not in counts[criterion]:
                        raise Uncountable(f"a ballot has no valid grade for {sid}.{criterion}")
                    counts[criterion][grade] += 1
        groups.append({"group_id": group_id, "categories": list(categories), "ballots": n, "counts": counts})
    total = {c: {g["id"]: sum(gr["counts"][c][g["id"]] for gr in groups) for g in grades} for c in criteria}
    n_ballots = sum(gr["ballots"] for gr in groups)
    marks_n = n_ballots * len(criteria)
    favourable = sum(total[c][g["id"]] for c in criteria for g in grades if g.get("favourable"))
    unfavourable = sum(total[c][g["id"]] for c in criteria for g in grades if g.get("unfavourable"))
    unfavourable_rate = Fraction(unfavourable, marks_n) if marks_n else None
    weighted, weight_sum = Fraction(0), 0
    for gr in groups:
        weight = sum(weights.get(cat, 1) for cat in gr["categories"])
        points = sum(g["points"] * gr["counts"][c][g["id"]] for c in criteria for g in grades)
        weighted += weight * Fraction(points, gr["ballots"] * len(criteria))
        weight_sum += weight
    score = weighted / weight_sum if weight_sum else None
    exact = score if score is not None else Fraction(0)
    return {
        "subject_id": sid, "name": subject["name"], "ballots": n_ballots, "counts": total, "groups": groups,
        "favourable_percent": display_percent(Fraction(favourable, marks_n) if marks_n else None),
        "unfavourable_percent": display_percent(unfavourable_rate),
        "score_numerator": exact.numerator, "score_denominator": exact.denominator,
        "score": display_decimal(score),
        "scale_id": scale["id"],
        "flagged": unfavourable_rate is not None
        and unfavourable_rate >= Fraction(rules.get("admonish_threshold", "3/10")),
    }


@dataclass
class MeetingFold:
    """What the recount reads of a meeting, folded from its events in log order."""

    rules: dict[str, Any] | None = None
    subjects: list[dict[str, Any]] = field(default_factory=list)
    roster: dict[str, str] = field(default_factory=dict)  # member id -> category
    checked_in: dict[str, set[str]] = field(default_factory=dict)  # category -> attendee ids
    issued: dict[str, str] = field(default_factory=dict)  # code hash -> category
    phone: dict[str, Any] = field(default_factory=dict)  # code hash -> marks
    paper: dict[int, dict[str, Any]] = field(default_factory=dict)  # batch -> teller -> {code: marks}
    announced: int = 0  # ResultsAnnounced events so far

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        self.announced += kind == "ResultsAnnounced"
        if kind == "MeetingConfigured":
            self.rules, self.subjects = data["rules"], data["subjects"]
            self.roster = {entry["member_id"]: entry["category"] for entry in data["roster"]}
        elif kind == "AttendeeCheckedIn":
            self.checked_in.setdefault(data["category"], set()).add(data["attendee_id"])
        elif kind == "BallotCodesIssued":
            self.issued.update(dict.fromkeys(data["code_hashes"], data["category"]))
        elif kind == "BallotCast" and data.get("source", "phone") == "phone":
            self.phone[data["code_hash"]] = data["marks"]
        elif kind == "PaperBatchEntered":
            # A teller's re-entry replaces their earlier one (dict order: first entry's place).
            entries = self.paper.setdefault(data["batch_no"], {})
            entries[data["teller"]] = {b["code_hash"]: b["marks"] for b in data["ballots"]}

    def reconciled(self, batch_no: int) -> dict[str, Any] | None:
        """A batch counts when two tellers' latest entries are identical."""
        entries = list(self.paper[batch_no].values())
        for i, first in enumerate(entries):
            if any(first == second for second in entries[i + 1:]):
                return first
        return None

    def results(self) -> dict[str, Any]:
        """The data a ResultsAnnounced must carry (all but `at`), recounted."""
        if self.rules is None:
            raise Uncountable("results announced before the meeting was configured")
        counted: dict[str, tuple[str, Any]] = {code: ("phone", marks) for code, marks in self.phone.items()}
        for batch_no in sorted(self.paper):
            for code, marks in (self.reconciled(batch_no) or {}).items():
                counted.setdefault(code, ("paper", marks))  # phone first, then the lowest batch
        unknown = sorted(code for code in counted if code not in self.issued)
        if unknown:
            raise Uncountable(f"a ballot's code {unknown[0][:16]}… was never issued")
        ballots = [(self.issued[code], counted[code][1]) for code in sorted(counted)]
        per_category: dict[str, int] = {}
        for category, _ in ballots:
            per_category[category] = per_category.get(category, 0) + 1
        grading = {cat for cats in self.rules["graders"].values() for cat in cats}
        eligible = sum(1 for cat in self.roster.values() if cat in grading) + sum(
            1 for cat, ids in self.checked_in.items() if cat in grading for i in ids if i not in self.roster)
        subjects = [_subject_outcome(self.rules, s, ballots, per_category) for s in self.subjects]
        phone = sum(1 for source, _ in counted.values() if source == "phone")
        return {
            "ballots_counted": len(ballots), "phone_ballots": phone, "paper_ballots": len(ballots) - phone,
            "eligible": eligible, "participation_percent": display_percent(Fraction(len(ballots), eligible) if eligible else None),
            "subjects": subjects, "flagged_subjects": [s["subject_id"] for s in subjects if s["flagged"]],
        }


def _differences(announced: Any, recounted: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(announced, dict) and isinstance(recounted, dict):
        for key in sorted(set(announced) | set(recounted)):
            _differences(announced.get(key), recounted.get(key), f"{path}.{key}" if path else key, out)
    elif isinstance(announced, list) and isinstance(recounted, list) and len(announced) == len(recounted):
        for index, (a, r) in enumerate(zip(announced, recounted, strict=True)):
            tag = r.get("subject_id") or r.get("group_id") if isinstance(r, dict) else None
            _differences(a, r, f"{path}[{tag or index}]", out)
    elif announced != recounted or type(announced) is not type(recounted):
        out.append((path, announced, recounted))


def recount_differences(fold: MeetingFold, announced: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(figure, announced, recounted) for each figure of a ResultsAnnounced that the recount does not reproduce."""
    out: list[tuple[str, Any, Any]] = []
    recounted = fold.results()
    if fold.rules is not None and "scales" not in fold.rules:
        # Results recorded before scales per kind (ResultsAnnounced v1) name no scale: the rules' one scale.
        named = {s.get("subject_id") for s in announced.get("subjects", []) if isinstance(s, dict) and "scale_id" in s}
        for subject in recounted.get("subjects", []):
            if subject["subject_id"] not in named:
                subject.pop("scale_id", None)
    _differences({k: v for k, v in announced.items() if k != "at"}, recounted, "", out)
    return out


# -- the checks and the report (section 8) ---------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the log; line 1 is the header, None for problems of no line."""

    line_no: int | None
    position: int | None
    version: int | None
    code: str
    message: str
    message_zh: str


@dataclass(frozen=True)
class TrustedHead:
    """Where a head hash published outside the platform was found in the log."""

    hash: str
    found: bool
    version: int | None = None
    position: int | None = None
    line_no: int | None = None


@dataclass
class VerifyReport:
    """The verdict. ``head_hash``/``verified_count`` describe the longest prefix that passed."""

    ok: bool
    county: str | None
    stream: str | None
    event_count: int
    head_hash: str | None
    problems: list[Problem] = field(default_factory=list)
    verified_count: int = 0
    exported_at: str | None = None
    trusted_heads: list[TrustedHead] = field(default_factory=list)
    results_recounted: int = 0  # ResultsAnnounced events recounted without a difference
    closed_at: int | None = None  # version of MeetingClosed, when the log has one
    prefix_only: bool = False  # trusted heads given, the latest found is not the last event
    public: bool = False  # a public log (section 14)
    redacted: int = 0  # its events whose content was redacted
    last_redacted: int | None = None  # the version of the last of them

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        result = asdict(self)
        result["first_problem"] = asdict(self.problems[0]) if self.problems else None
        return result


def _short(digest: str | None) -> str:
    return "null" if digest is None else digest[:16] + "…"


def normalise_heads(trusted_heads: Sequence[str]) -> list[str]:
    """Trusted heads in lower case without repeats; ValueError if one is not 64 hex digits."""
    heads: list[str] = []
    for head in [trusted_heads] if isinstance(trusted_heads, str) else trusted_heads:
        normalised = head.strip().lower()  # copied from paper in any case
        if not is_hex_digest(normalised):
            raise ValueError(f"可信头哈希必须是 64 位十六进制数 / trusted head must be 64 hex digits: {head!r}")
        if normalised not in heads:
            heads.append(normalised)
    return heads


def _check_link(event: LogEvent, header: LogHeader, expected: int, previous_hash: str,
                previous_position: int | None) -> tuple[str, str, str] | None:
    """(code, en, zh) of the first broken rule of one event, in the order of section 8; None if it holds."""
    if event.stream != header.stream:
        return ("stream_mismatch", f"event belongs to stream {event.stream!r}, the header says {header.stream!r}",
                f"事件属于会议流 {event.stream!r}，与文件头 {header.stream!r} 不一致")
    if previous_position is not None and event.position <= previous_position:
        return ("position_not_increasing", f"position {event.position} does not follow the previous position {previous_position}",
                f"日志位置 {event.position} 未大于上一条的位置 {previous_position}")
    if event.version != expected:
        if event.version < expected:
            what, what_zh = "events repeated or out of order", "事件重复或顺序被打乱"
        else:
            span = f"{expected}" if event.version == expected + 1 else f"{expected}–{event.version - 1}"
            what = f"{'version' if event.version == expected + 1 else 'versions'} {span} missing"
            what_zh = f"缺少第 {span} 版"
        return ("version_gap", f"expected version {expected}, found {event.version}: {what}",
                f"应为第 {expected} 版，实际为第 {event.version} 版：{what_zh}")
    if expected == 1 and event.prev_hash != GENESIS_HASH:
        return ("bad_genesis", f"the first event must have prev_hash {_short(GENESIS_HASH)} (64 zeros), found {_short(event.prev_hash)}",
                f"第一条事件的 prev_hash 必须是 64 个 0，实际为 {_short(event.prev_hash)}")
    if expected > 1 and event.prev_hash != previous_hash:
        return ("prev_hash_mismatch", f"prev_hash {_short(event.prev_hash)} does not equal the previous event's hash "
                f"{_short(previous_hash)}: an event was removed, inserted or changed before this one",
                f"prev_hash {_short(event.prev_hash)} 与上一条事件的哈希 {_short(previous_hash)} 不一致：此前有事件被删除、插入或篡改")
    if event.hash != event.computed_hash:
        return ("hash_mismatch", f"stored hash {_short(event.hash)} does not match the content, which hashes to "
                f"{_short(event.computed_hash)}: this event was altered",
                f"记录的哈希 {_short(event.hash)} 与内容计算出的 {_short(event.computed_hash)} 不一致：该事件内容被改动")
    return None


def _meeting_problems(event: LogEvent, fold: MeetingFold, closed_at: int | None) -> list[tuple[str, str, str]]:
    """Completeness and recount of one chained event (section 13)."""
    if closed_at is not None and event.type not in AFTER_CLOSE:
        return [("events_after_close", f"{event.type} after the meeting was closed at version {closed_at}: "
                 "a closed meeting's log ends at its close", f"会议已在第 {closed_at} 版结束，之后不应再有 {event.type}")]
    if event.type == "MeetingClosed" and not fold.announced:
        return [("close_without_results", "the meeting is closed but no results were announced before",
                 "会议已结束，但此前没有公布结果")]
    if event.type != "ResultsAnnounced":
        return []
    try:
        found = recount_differences(fold, event.data)
    except (Uncountable, KeyError, TypeError, AttributeError, ZeroDivisionError, ValueError) as exc:
        return [("recount_impossible", f"the announced results cannot be recounted from this log: {exc}",
                 f"无法根据本日志重新计票：{exc}")]
    out = []
    for path, announced, recounted in found:
        where, where_zh = path, path
        match = re.match(r"subjects\[([^\]]+)\]\.?(.*)", path)
        if match:
            name = next((s.get("name") for s in fold.subjects if s.get("subject_id") == match[1]), match[1])
            where, where_zh = f"subject {name} ({match[1]}): {match[2]}", f"述评对象 {name}（{match[1]}）：{match[2]}"
        out.append(("recount_mismatch", f"{where}: announced {announced!r}, recounted {recounted!r}",
                    f"{where_zh}：公布为 {announced!r}，重新计票为 {recounted!r}"))
    return out


def verify_lines(lines: Iterable[str | bytes], *, trusted_heads: Sequence[str] = ()) -> VerifyReport:
    """Verify an exported log given as lines; ValueError if a trusted head is not 64 hex digits."""
    heads = normalise_heads(trusted_heads)
    iterator = iter(lines)
    first = next(iterator, None)
    try:
        if first is None:
            raise BadLine("the file is empty (no header line)", "文件为空（没有文件头）")
        header = parse_header(first)
    except BadLine as exc:
        return VerifyReport(False, None, None, 0, None, [Problem(1, None, None, "bad_header", exc.message, exc.message_zh)])
    problems: list[Problem] = []
    found: dict[str, TrustedHead] = {}
    fold, closed_at, recounted = MeetingFold(), None, 0
    redacted, last_redacted = 0, None
    line_no = event_lines = verified = 0
    previous_hash, previous_position, broken_at = GENESIS_HASH, None, None
    for line_no, raw in enumerate(iterator, start=2):
        event_lines += 1
        if broken_at is not None:
            continue  # past the first break nothing can be trusted: count the lines only
        obj: Any = None
        try:
            obj = parse_json_line(raw)
            event = parse_event(obj, header.county, public=header.public)
        except BadLine as exc:
            problems.append(Problem(line_no, *line_locator(obj), "bad_line", exc.message, exc.message_zh))
            broken_at = line_no
            continue
        failure = _check_link(event, header, verified + 1, previous_hash, previous_position)
        if failure is not None:
            problems.append(Problem(line_no, event.position, event.version, *failure))
            broken_at = line_no
            continue
        verified, previous_hash, previous_position = verified + 1, event.hash, event.position
        if event.redacted:
            redacted, last_redacted = redacted + 1, event.version
        if event.hash in heads and event.hash not in found:
            found[event.hash] = TrustedHead(event.hash, True, event.version, event.position, line_no)
        meeting = _meeting_problems(event, fold, closed_at)
        problems += [Problem(line_no, event.position, event.version, *p) for p in meeting]
        recounted += event.type == "ResultsAnnounced" and not meeting
        if event.type == "MeetingClosed" and closed_at is None:
            closed_at = event.version
        try:
            fold.apply(event.type, event.data)
        except (KeyError, TypeError, AttributeError):
            pass  # a malformed meeting event: the recount that needs it says so
    if event_lines != header.event_count:
        problems.append(Problem(1, None, None, "count_mismatch", f"the header announces {header.event_count} events but the file has {event_lines}",
                                f"文件头声明 {header.event_count} 条事件，文件中实际有 {event_lines} 条"))
    head = previous_hash if verified else None
    if broken_at is None and head != header.head_hash:  # only meaningful when the whole chain held
        problems.append(Problem(1, None, None, "head_mismatch", f"the header's head_hash {_short(header.head_hash)} is not the hash of the last event {_short(head)}",
                                f"文件头的 head_hash {_short(header.head_hash)} 与最后一条事件的哈希 {_short(head)} 不一致"))
    results = []
    for trusted in heads:
        results.append(found.get(trusted, TrustedHead(trusted, False)))
        if trusted in found:
            continue
        if broken_at is None:
            message = (f"trusted head {trusted} is not the hash of any event in this log: the history "
                       "was rewritten or truncated after that head was published")
            message_zh = f"可信头哈希 {trusted} 不是本日志中任何事件的哈希：该哈希公布之后，历史记录被改写或截断"
        else:
            message = f"trusted head {trusted} is not among the events verified before the break at line {broken_at}"
            message_zh = f"在第 {broken_at} 行断链之前已校验的事件中找不到可信头哈希 {trusted}"
        problems.append(Problem(None, None, None, "trusted_head_missing", message, message_zh))
    pinned = max((t.version or 0 for t in results if t.found), default=None)
    return VerifyReport(ok=not problems, county=header.county, stream=header.stream, event_count=event_lines,
                        head_hash=head, problems=problems, verified_count=verified, exported_at=header.exported_at,
                        trusted_heads=results, results_recounted=recounted, closed_at=closed_at,
                        prefix_only=pinned is not None and pinned < event_lines, public=header.public,
                        redacted=redacted, last_redacted=last_redacted)


def verify_file(path: Any, *, trusted_heads: Sequence[str] = ()) -> VerifyReport:
    """Verify the log at ``path`` (read as bytes, so a bad byte is named by its line); OSError propagates."""
    with open(path, "rb") as handle:
        return verify_lines(handle, trusted_heads=trusted_heads)


def _kept(kind: str, full: dict[str, Any], public: dict[str, Any], pseudonyms: dict[str, str],
          roster: set[str]) -> bool:
    """Whether a redacted event's published data is what section 14.1 keeps of the recorded data."""
    if kind == "MeetingConfigured":
        roster.update(m["member_id"] for m in public["roster"])
        return (public["rules"], public["subjects"]) == (full["rules"], full["subjects"]) and sorted(
            m["category"] for m in public["roster"]) == sorted(m["category"] for m in full["roster"])
    if kind == "AttendeeCheckedIn":  # one member, one pseudonym; in the roster exactly when the member is
        known = pseudonyms.setdefault(full["attendee_id"], public["attendee_id"])
        return known == public["attendee_id"] and public["category"] == full["category"]
    kept = {"QuestionAsked": ("question_id", "text", "subject"), "CommentRecorded": ("comment_id", "subject_id", "text")}
    return public == {k: full[k] for k in kept.get(kind, ()) if k in full}


def compare_public(public_path: Any, full_path: Any) -> list[Problem]:
    """Problems of a public log that is not the redaction (section 14.1) of this full log; [] if it is."""
    with open(public_path, "rb") as p_handle, open(full_path, "rb") as f_handle:
        public, full = [parse_json_line(x) for x in p_handle], [parse_json_line(x) for x in f_handle]
    keys = ("county", "stream", "event_count", "head_hash")
    if [public[0].get(k) for k in keys] != [full[0].get(k) for k in keys] or len(public) != len(full):
        return [Problem(1, None, None, "public_mismatch", "the public log is not of the same stream and head as the full log",
                        "公开日志与完整日志不是同一记录流、同一末端哈希")]
    problems: list[Problem] = []
    pseudonyms: dict[str, str] = {}
    roster: set[str] = set()
    members: set[str] = set()
    for line_no, (p, f) in enumerate(zip(public[1:], full[1:], strict=True), start=2):
        same = all(p.get(k) == f.get(k) for k in ("position", "stream", "version", "type", "schema_version", "prev_hash", "hash"))
        if f.get("type") == "MeetingConfigured":
            members = {m["member_id"] for m in f["data"]["roster"]}
        if not p.get("redacted"):
            same = same and all(p.get(k) == f.get(k) for k in ("data", "metadata", "recorded_at"))
        else:
            try:
                same = same and p["metadata"] == {} and p["recorded_at"] == f["recorded_at"][:13] + ":00:00.000000Z" and _kept(
                    f["type"], f["data"], p["data"], pseudonyms, roster)
                if f["type"] == "AttendeeCheckedIn":
                    same = same and (f["data"]["attendee_id"] in members) == (p["data"]["attendee_id"] in roster)
            except (KeyError, TypeError):
                same = False
        if not same:
            problems.append(Problem(line_no, f.get("position"), f.get("version"), "public_mismatch",
                                    "this event of the public log is not the recorded one, or not redacted as section 14.1 says",
                                    "公开日志中的这条事件与完整日志不符，或未按第 14.1 节去除个人信息"))
    return problems


# -- a county-year archive (section 15) ---------------------------------------------------------

MANIFEST_KEYS = frozenset({"format", "format_version", "county", "year", "exported_at", "streams"})
ENTRY_KEYS = frozenset({"stream", "file", "event_count", "head_hash"})


@dataclass
class StreamVerdict:
    """One stream of an archive: its log's own report, and whether it is the one the manifest lists."""

    stream: str
    file: str
    report: VerifyReport | None  # None: the file is missing
    problems: list[Problem] = field(default_factory=list)  # of the stream against the manifest

    @property
    def ok(self) -> bool:
        return self.report is not None and self.report.ok and not self.problems


@dataclass
class ArchiveReport:
    ok: bool
    county: str | None
    year: int | None
    manifest_sha256: str | None
    streams: list[StreamVerdict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # of the archive itself
    trusted_heads: list[TrustedHead] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _archive_problem(code: str, en: str, zh: str) -> Problem:
    return Problem(None, None, None, code, en, zh)


def _manifest(raw: bytes) -> dict[str, Any]:
    obj = parse_json_line(raw)
    if not isinstance(obj, dict):
        raise BadLine("the manifest must be a JSON object", "清单必须是 JSON 对象")
    _check_keys(obj, MANIFEST_KEYS, "the manifest", "清单")
    if obj["format"] != ARCHIVE_FORMAT or obj["format_version"] != 1:
        raise BadLine(f"not a {ARCHIVE_FORMAT} manifest of format_version 1", f"不是 {ARCHIVE_FORMAT} 第 1 版的清单")
    if not isinstance(obj["county"], str) or not _is_int(obj["year"]) or not isinstance(obj["streams"], list):
        raise BadLine("county must be a string, year an integer, streams an array", "county 应为字符串，year 应为整数，streams 应为数组")
    for entry in obj["streams"]:
        if not isinstance(entry, dict):
            raise BadLine("each stream entry must be an object", "每个记录流条目必须是对象")
        _check_keys(entry, ENTRY_KEYS, "a stream entry", "记录流条目")
        if not (isinstance(entry["stream"], str) and isinstance(entry["file"], str) and _is_int(entry["event_count"])):
            raise BadLine("a stream entry has a field of the wrong type", "记录流条目的字段类型不对")
    return obj


def verify_archive(path: Any, *, trusted_heads: Sequence[str] = ()) -> ArchiveReport:
    """Verify every stream of a county-year archive against its manifest; OSError/TarError propagate."""
    heads = normalise_heads(trusted_heads)
    with tarfile.open(path, "r:*") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}

        def read(name: str) -> bytes:
            handle = tar.extractfile(members[name])
            return handle.read() if handle is not None else b""

        if "manifest.json" not in members:
            return ArchiveReport(False, None, None, None, problems=[_archive_problem(
                "bad_manifest", "the archive has no manifest.json", "归档中没有 manifest.json")])
        raw = read("manifest.json")
        digest = hashlib.sha256(raw).hexdigest()
        stated = read("manifest.sha256").decode("ascii", "replace").split()[:1] if "manifest.sha256" in members else []
        try:
            manifest = _manifest(raw)
        except BadLine as exc:
            return ArchiveReport(False, None, None, digest, problems=[_archive_problem("bad_manifest", exc.message, exc.message_zh)])
        report = ArchiveReport(True, manifest["county"], manifest["year"], digest)
        if stated != [digest]:
            report.problems.append(_archive_problem(
                "manifest_hash_mismatch", f"manifest.sha256 does not hold the manifest's SHA-256 {digest}",
                f"manifest.sha256 与清单的 SHA-256（{digest}）不一致"))
        # The manifest's digest, written down at the export, pins the whole archive like a head.
        found = {digest: TrustedHead(digest, True)} if digest in heads else {}
        for entry in manifest["streams"]:
            verdict = StreamVerdict(entry["stream"], entry["file"], None)
            report.streams.append(verdict)
            if entry["file"] not in members:
                verdict.problems.append(_archive_problem("missing_stream", f"{entry['file']} is not in the archive",
                                                         f"归档中缺少文件 {entry['file']}"))
                continue
            handle = tar.extractfile(members[entry["file"]])
            verdict.report = log = verify_lines(handle or [], trusted_heads=heads)
            # A head may be any stream's: one missing from this stream is not this stream's problem.
            log.problems = [p for p in log.problems if p.code != "trusted_head_missing"]
            log.ok = not log.problems
            found.update((t.hash, t) for t in log.trusted_heads if t.found)
            claims = (log.county, log.stream, log.event_count, log.head_hash)
            if log.ok and claims != (manifest["county"], entry["stream"], entry["event_count"], entry["head_hash"]):
                verdict.problems.append(_archive_problem(
                    "manifest_mismatch", f"the log (county {log.county}, stream {log.stream}, {log.event_count} events, head "
                    f"{_short(log.head_hash)}) is not what the manifest lists ({entry['event_count']} events, head "
                    f"{_short(entry['head_hash'])})", f"日志（{log.event_count} 条事件，末端哈希 {_short(log.head_hash)}）"
                    f"与清单所列（{entry['event_count']} 条，末端哈希 {_short(entry['head_hash'])}）不一致"))
        listed = {"manifest.json", "manifest.sha256", *(entry["file"] for entry in manifest["streams"])}
        for name in sorted(set(members) - listed):
            report.problems.append(_archive_problem("unlisted_file", f"{name} is in the archive but not in its manifest",
                                                    f"{name} 在归档中，但不在清单里"))
    for head in heads:
        report.trusted_heads.append(found.get(head, TrustedHead(head, False)))
        if head not in found:
            report.problems.append(_archive_problem("trusted_head_missing", f"trusted head {head} is in no stream of the archive",
                                                    f"归档的任何记录流中都找不到可信头哈希 {head}"))
    report.ok = not report.problems and all(v.ok for v in report.streams)
    return report


def archive_summary(report: ArchiveReport) -> list[str]:
    """The archive's verdict, then one line per stream (Chinese first)."""
    failed = [v for v in report.streams if not v.ok]
    events = sum(v.report.event_count for v in report.streams if v.report is not None)
    what = f"county {report.county}, year {report.year}: {len(report.streams)} streams, {events} events"
    if report.ok:
        lines = [f"校验通过 / verified: 归档 / archive of {what}"]
    else:
        first = report.problems[0] if report.problems else None
        why = f"{first.message_zh} / {first.message}" if first else f"{len(failed)} 个记录流未通过 / {len(failed)} streams failed"
        lines = [f"校验失败 / FAILED: 归档 / archive of {what}: {why}"]
    lines.append(f"  清单 SHA-256 / manifest sha256: {report.manifest_sha256}")
    for problem in report.problems[1:] if not report.ok and report.problems else []:
        lines.append(f"  另有问题 / also: {problem.message_zh} / {problem.message}")
    for verdict in report.streams:
        log = verdict.report
        if verdict.ok and log is not None:
            recount = f"; 重新计票一致 / recount matches ({log.results_recounted})" if log.results_recounted else ""
            lines.append(f"  [通过 / ok] {verdict.stream}: {log.event_count} events, head {log.head_hash}{recount}")
            continue
        problem = (log.problems[0] if log is not None and log.problems else verdict.problems[0])
        lines.append(f"  [失败 / FAILED] {verdict.stream}{_where(problem)}: {problem.message_zh} / {problem.message}")
    for trusted in report.trusted_heads:
        state = "NOT found" if not trusted.found else "is the manifest's" if trusted.version is None else (
            f"found at version {trusted.version}")
        lines.append(f"  可信头哈希 / trusted head {state}: {trusted.hash}")
    return lines


# -- the command line -----------------------------------------------------------------------------


def _emit(text: str, stream: TextIO) -> None:
    try:
        print(text, file=stream)
    except UnicodeEncodeError:  # a console without Chinese must still show the verdict
        encoding = getattr(stream, "encoding", None) or "ascii"
        print(text.encode(encoding, "backslashreplace").decode(encoding), file=stream)


def _where(problem: Problem) -> str:
    if problem.line_no is None:
        return ""
    if problem.position is None and problem.version is None:
        return f" at line {problem.line_no}"
    position = "-" if problem.position is None else problem.position
    version = "-" if problem.version is None else problem.version
    return f" at line {problem.line_no} (position {position}, version {version})"


def summary(report: VerifyReport) -> list[str]:
    """The report as the lines the command prints (Chinese first)."""
    lines: list[str] = []
    if report.ok:
        lines.append(f"校验通过 / verified: {report.event_count} events, head {report.head_hash or '(无 / none)'}")
    else:
        first = report.problems[0]
        lines.append(f"校验失败 / FAILED{_where(first)}: {first.message_zh} / {first.message}")
    if report.county is not None:
        lines.append(f"  县 / county: {report.county}; 会议流 / stream: {report.stream}; 导出时间 / exported at: {report.exported_at}")
    for trusted in report.trusted_heads:
        if trusted.found:
            lines.append(f"  可信头哈希位于第 {trusted.version} 版 / trusted head found at version {trusted.version} "
                         f"(position {trusted.position}, line {trusted.line_no}): {trusted.hash}")
        else:
            lines.append(f"  未找到可信头哈希 / trusted head NOT found: {trusted.hash}")
    if report.prefix_only:
        pinned = max(t.version or 0 for t in report.trusted_heads)
        lines.append(f"  仅前缀 / PREFIX ONLY: 可信头哈希只覆盖第 1–{pinned} 版，第 {pinned + 1}–{report.event_count} 版"
                     f"没有在平台之外公布的头哈希 / the trusted heads cover versions 1–{pinned} only; versions "
                     f"{pinned + 1}–{report.event_count} are pinned by no head published outside the platform")
    if report.results_recounted:
        lines.append(f"  重新计票与公布结果一致 / recount matches the announced results ({report.results_recounted})")
    if report.closed_at is not None:
        lines.append(f"  会议已于第 {report.closed_at} 版结束 / the meeting closed at version {report.closed_at}")
    if report.public:
        lines.append(f"  公开日志：{report.redacted} 条事件已去除个人信息，其内容与前一链接以平台公布为准 / public log: "
                     f"{report.redacted} events redacted; their content and backward link are as the platform published them")
        if report.last_redacted is not None:
            lines.append(f"  第 {report.last_redacted + 1} 版起的事件由哈希完整证明 / from version {report.last_redacted + 1} "
                         f"on, every event is proved by its hash; before it, by the chain's word across redacted events")
    if not report.ok:
        if report.verified_count:
            lines.append(f"  前 {report.verified_count} 条事件链接无误 / events 1–{report.verified_count} are chained "
                         f"intact, up to head {report.head_hash}")
        for problem in report.problems[1:]:
            lines.append(f"  另有问题 / also{_where(problem)}: {problem.message_zh} / {problem.message}")
    elif not report.trusted_heads:
        lines.append("  注意：未提供可信头哈希，仅能证明文件自洽，不能证明历史未被整体改写 / note: no trusted head "
                     "given; this proves the file is self-consistent, not that the history was never rewritten as a whole")
    return lines


def main(argv: Sequence[str] | None = None, prog: str = "shuping-verify") -> int:
    """Command line: 0 verified, 1 tampered/invalid/miscounted, 2 unreadable, 3 verified prefix only."""
    parser = argparse.ArgumentParser(prog=prog, description="校验述评事件日志导出文件 / Verify an exported Shuping event log.")
    parser.add_argument("file", help="导出的 JSON Lines 文件 / the exported JSON Lines file")
    parser.add_argument("--head", dest="heads", action="extend", nargs="+", default=[], metavar="HASH",
                        help="在平台之外公布的头哈希（可多次给出） / a head hash published outside the platform (repeatable)")
    parser.add_argument("--full", metavar="FULL_LOG", help="与完整日志比对公开日志（审计人员） / compare a public log "
                        "with the full log it was made from (auditors, section 14.2)")
    parser.add_argument("--json", action="store_true", help="以 JSON 输出报告 / print the report as JSON")
    args = parser.parse_args(argv)
    try:
        heads = normalise_heads(args.heads)
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2
    try:
        if tarfile.is_tarfile(args.file):
            archive = verify_archive(args.file, trusted_heads=heads)
            for line in [json.dumps(archive.to_dict(), ensure_ascii=False, indent=2)] if args.json else archive_summary(archive):
                _emit(line, sys.stdout)
            return 0 if archive.ok else 1
        report = verify_file(args.file, trusted_heads=heads)
        if args.full:
            full = verify_file(args.full, trusted_heads=heads)
            report.problems += [replace(p, message=f"full log: {p.message}", message_zh=f"完整日志：{p.message_zh}")
                                for p in full.problems]
            if report.public and not report.problems and not full.problems:  # what the chain cannot check (14.2)
                report.problems += compare_public(args.file, args.full)
            report.ok = not report.problems
    except (OSError, tarfile.TarError, BadLine) as exc:
        _emit(f"无法读取文件 / cannot read file {args.file}: {getattr(exc, 'strerror', None) or exc}", sys.stderr)
        return 2
    if args.json:
        _emit(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), sys.stdout)
    else:
        for line in summary(report):
            _emit(line, sys.stdout)
    return 3 if report.ok and report.prefix_only else 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
