"""The offline verifier's command line (`python -m events.verify`), as an auditor runs it.

Pure Python (no database, no Django), as the rest of test_chain_verify*.py;
the logs are built with chain_given.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from chain_given import REPO_ROOT, log_lines, make_events, make_header, write_log

from events.verify import main

# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def test_cli_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(5)
    path = write_log(tmp_path / "ok.jsonl", log_lines(events))
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"校验通过 / verified: 5 events, head {events[-1]['hash']}"


def test_cli_ok_with_trusted_heads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(5)
    path = write_log(tmp_path / "ok.jsonl", log_lines(events))
    assert main([str(path), "--head", events[1]["hash"], "--head", events[4]["hash"]]) == 0
    out = capsys.readouterr().out
    assert "可信头哈希位于第 2 版 / trusted head found at version 2" in out
    assert "version 5" in out


def test_cli_tampered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(5)
    lines = log_lines(events)
    lines[3] = lines[3].replace('"schema_version":1', '"schema_version":2')
    path = write_log(tmp_path / "bad.jsonl", lines)
    assert main([str(path)]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(
        f"校验失败 / FAILED at line 4 (position {events[2]['position']}, version 3): "
    )
    assert "内容被改动" in first and "altered" in first


def test_cli_missing_trusted_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(5)
    path = write_log(tmp_path / "short.jsonl", log_lines(events[:3]))
    assert main([str(path), "--head", events[-1]["hash"]]) == 1
    out = capsys.readouterr().out
    assert out.startswith("校验失败 / FAILED: 可信头哈希")
    assert "未找到可信头哈希 / trusted head NOT found" in out


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(3)
    path = write_log(tmp_path / "ok.jsonl", log_lines(events[:2], make_header(events)))
    assert main([str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["first_problem"]["code"] == "count_mismatch"
    assert data["problems"][0]["message_zh"]


def test_cli_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing.jsonl")]) == 2
    assert "无法读取文件 / cannot read file" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2  # a directory


def test_cli_rejects_malformed_head(tmp_path: Path) -> None:
    path = write_log(tmp_path / "ok.jsonl", log_lines(make_events(1)))
    with pytest.raises(SystemExit) as exc:
        main([str(path), "--head", "nothex"])
    assert exc.value.code == 2


def test_runs_as_module_without_django(tmp_path: Path) -> None:
    events = make_events(3)
    path = write_log(tmp_path / "ok.jsonl", log_lines(events))
    env = {"PYTHONPATH": str(REPO_ROOT / "platform"), "PYTHONUTF8": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "events.verify", str(path)],
        capture_output=True, text=True, encoding="utf-8", env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("校验通过 / verified: 3 events")
    probe = "import sys, events.verify; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "[]"
