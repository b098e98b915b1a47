"""The systemd unit of the web workers starts them as every other worker is started."""

from __future__ import annotations

import shlex
from pathlib import Path

from shuping.server_options import APP, server_flags

UNIT = Path(__file__).resolve().parents[2] / "infra" / "shuping-web@.service"


def exec_start() -> list[str]:
    lines = UNIT.read_text(encoding="utf-8").replace("\\\n", " ").splitlines()
    (line,) = [line for line in lines if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def test_the_web_unit_passes_every_server_option() -> None:
    argv = exec_start()
    assert APP in argv
    flags = server_flags()
    pairs = {flags[i]: flags[i + 1] for i in range(0, len(flags), 2)}
    given = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    assert {flag: given.get(flag) for flag in pairs} == pairs


def test_the_web_unit_raises_the_descriptor_limit() -> None:
    assert "LimitNOFILE=65536" in UNIT.read_text(encoding="utf-8").splitlines()
