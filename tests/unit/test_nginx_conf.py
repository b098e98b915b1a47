"""infra/nginx.conf.template as infra.topology renders it: valid for nginx, and POSTs resent only for ballots."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra.topology import TopologyError, nginx_binary, render_nginx_conf

SERVERS = ["127.0.0.1:8001", "127.0.0.1:8002"]


def _blocks(conf: str) -> dict[str, str]:
    """Each `location ... {` block's header -> its body (our template nests nothing inside a location)."""
    return {m.group(1).strip(): m.group(2) for m in re.finditer(r"location\s+([^{]+)\{([^}]*)\}", conf)}


def test_nginx_accepts_the_rendered_configuration(tmp_path: Path) -> None:
    if shutil.which("nginx") is None and shutil.which("nginx", path="/usr/sbin") is None:
        pytest.skip("nginx is not installed (Debian package nginx; .ci/run installs it)")
    conf = tmp_path / "nginx.conf"
    conf.write_text(render_nginx_conf(prefix=tmp_path, listen="127.0.0.1:8080", servers=SERVERS))
    checked = subprocess.run([nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


def test_only_the_ballot_url_resends_a_post_that_reached_a_worker(tmp_path: Path) -> None:
    conf = render_nginx_conf(prefix=tmp_path, listen="127.0.0.1:8080", servers=SERVERS)
    resending = {header for header, body in _blocks(conf).items() if "non_idempotent" in body}
    assert resending == {"~ ^/api/v/[^/]+/ballot/$"}
    outside = re.sub(r"location\s+[^{]+\{[^}]*\}", "", conf)
    default = [line.strip() for line in outside.splitlines() if line.strip().startswith("proxy_next_upstream ")]
    assert default == ["proxy_next_upstream error timeout http_502 http_503;"]
    # The ballot URL as the API serves it is what the location matches, and nothing longer.
    ballot = re.compile(r"^/api/v/[^/]+/ballot/$")
    assert ballot.match("/api/v/m_1a2b/ballot/")
    assert not ballot.match("/api/v/m_1a2b/question/") and not ballot.match("/api/meetings/m_1/ballot/open/")


def test_routing_and_limits_are_in_the_rendered_configuration(tmp_path: Path) -> None:
    conf = render_nginx_conf(prefix=tmp_path, listen="127.0.0.1:8080", servers=SERVERS)
    assert 'hash "$host$ws_class" consistent;' in conf
    assert "client_max_body_size 8m;" in conf
    assert "add_header X-Shuping-Upstream $upstream_addr always;" in conf
    for address in SERVERS:
        assert f"server {address} " in conf
    assert "listen 127.0.0.1:8080" in conf and str(tmp_path) in conf and "@" not in conf.split("http {", 1)[1]


def test_an_unknown_placeholder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="@PORT@"):
        render_nginx_conf(prefix=tmp_path, listen="x", servers=SERVERS, template="listen @PORT@;\n")
