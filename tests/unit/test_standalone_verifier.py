"""The downloadable verifier, run alone, says exactly what `shuping log verify` says.

The zipapp the platform serves (the events/shuping_verify package, built by
events.shuping_verify_build) is written to a folder of its own and run by an
isolated interpreter (``python -I -S``: no site-packages, no PYTHONPATH, so
nothing but the standard library), on 1,000 logs: honest ones and ones
tampered in the ways an operator could (with the chain recomputed or not).
Its output and exit status must equal those of ``shuping log verify``.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from events import shuping_verify_build
from shuping.cli import main as shuping_main
from tests.unit.meetings.meeting_given import events_until
from tests.unit.test_recount import as_lines, chained

PACKAGE = Path(__file__).resolve().parents[2] / "platform" / "events" / "shuping_verify"
LOGS = 1000

# Runs the copied program's own command line once per file and prints each
# verdict between markers, so that one interpreter serves all the logs.
DRIVER = """
import contextlib, io, sys
sys.path.insert(0, sys.argv[1])  # the zipapp, as running it would
from shuping_verify import cli as module
assert module.__file__.startswith(sys.argv[1]), module.__file__
for line in sys.stdin:
    argv = line.rstrip("\\n").split("\\t")
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            status = module.main(argv)
        except SystemExit as exc:
            status = exc.code
    print(f"=== {status}"); print(out.getvalue(), end="")
assert "django" not in sys.modules and all("site-packages" not in p for p in sys.path)
# Every module that ran is the standard library's or the zipapp's own.
files = [getattr(m, "__file__", None) for m in list(sys.modules.values())]
assert all(f.startswith((sys.argv[1], sys.base_prefix)) for f in files if f), [f for f in files if f]
"""


def _tampered(rng: random.Random, base: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """A log and the --head arguments to check it with, changed in one random way (or not at all)."""
    lines = json.loads(json.dumps(base))
    honest = chained(lines)
    heads = [json.loads(honest[-1])["hash"]] if rng.random() < 0.4 else []
    how = rng.choice(["none", "figure", "drop", "swap", "byte", "after_close", "cut", "early_head", "header"])
    if how == "figure":
        results = next((line["data"] for line in lines if line["type"] == "ResultsAnnounced"), None)
        if results is None:  # a log of a meeting still going on: change what it says instead
            lines[0]["data"]["title"] += "（改）"
        else:
            subject = rng.choice(results["subjects"])
            counts = subject["counts"][rng.choice(sorted(subject["counts"]))]
            counts[rng.choice(sorted(counts))] += rng.choice([-1, 1])
    elif how == "drop":
        del lines[rng.randrange(len(lines))]
    elif how == "swap":
        i = rng.randrange(len(lines) - 1)
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    elif how == "after_close":
        lines.append({**lines[rng.randrange(len(lines))], "version": len(lines) + 1})
    elif how == "cut":
        lines = lines[: rng.randrange(1, len(lines))]
    elif how == "early_head":
        heads = [json.loads(honest[rng.randrange(1, len(honest))])["hash"]]
    if how in ("drop", "swap", "cut") and rng.random() < 0.5:
        for version, line in enumerate(lines, start=1):
            line["version"] = version  # renumbered, as a careful forger would
    out = chained(lines) if rng.random() < 0.7 or how in ("none", "early_head") else honest_edit(honest, lines)
    if how == "byte":
        n = rng.randrange(1, len(out))
        out[n] = out[n].replace('"hao"', '"cha"', 1).replace("述", "评", 1)
    elif how == "header":
        header = json.loads(out[0])
        header["event_count"] += rng.choice([-1, 1])
        out[0] = json.dumps(header)
    return out, heads


def honest_edit(honest: list[str], lines: list[dict[str, Any]]) -> list[str]:
    """The changed events written with the hashes they had (no rechaining): the clumsy forgery."""
    old = {json.loads(line)["version"]: json.loads(line) for line in honest[1:]}
    out = [honest[0]]
    for line in lines:
        kept = old.get(line["version"], {})
        out.append(json.dumps({**line, "prev_hash": kept.get("prev_hash", "0" * 64), "hash": kept.get("hash", "f" * 64)},
                              ensure_ascii=False))
    return out


def test_the_standalone_program_and_shuping_log_verify_agree_on_a_thousand_logs(tmp_path: Path) -> None:
    program = tmp_path / "download" / "shuping-verify.pyz"
    program.parent.mkdir()
    program.write_bytes(shuping_verify_build.build())
    rng = random.Random(15)
    bases = [as_lines(events_until("closed")), as_lines(events_until("results_announced")), as_lines(events_until("opened"))]
    jobs, expected = [], []
    for n in range(LOGS):
        lines, heads = _tampered(rng, rng.choice(bases))
        path = tmp_path / f"log{n}.jsonl"
        path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        argv = [str(path), *(arg for head in heads for arg in ("--head", head))]
        if n % 10 == 0:
            argv.append("--json")
        jobs.append("\t".join(argv))
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            status = shuping_main(["log", "verify", *argv])
        expected.append(f"=== {status}\n{out.getvalue()}")
    run = subprocess.run([sys.executable, "-I", "-S", "-c", DRIVER, str(program)], input="\n".join(jobs) + "\n",
                         capture_output=True, text=True, encoding="utf-8", check=False, timeout=300)
    assert run.returncode == 0, run.stderr
    verdicts = ["=== " + part for part in run.stdout.split("=== ")[1:]]
    assert len(verdicts) == LOGS
    for n, (got, want) in enumerate(zip(verdicts, expected, strict=True)):
        assert got == want, f"log {n}: {jobs[n]}"
    statuses = [want.split("\n", 1)[0] for want in expected]
    # Every verdict occurs, so the agreement is not the agreement of two programs that always say yes.
    assert {"=== 0", "=== 1", "=== 3"} <= set(statuses)
    assert sum(s == "=== 1" for s in statuses) > LOGS // 3


def test_the_download_is_the_same_bytes_every_build_and_holds_every_module(tmp_path: Path) -> None:
    first, second = shuping_verify_build.build(), shuping_verify_build.build()
    assert first == second
    assert first.startswith(b"#!/usr/bin/env python3\n")
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        names = archive.namelist()
        stamps = {info.date_time for info in archive.infolist()}
    assert names == ["__main__.py", *sorted(f"shuping_verify/{p.name}" for p in PACKAGE.glob("*.py"))]
    assert stamps == {(1980, 1, 1, 0, 0, 0)}
    # A copy of the package with a later modification time builds the same bytes.
    copy = tmp_path / "shuping_verify"
    copy.mkdir()
    for path in sorted(PACKAGE.glob("*.py"), reverse=True):
        (copy / path.name).write_bytes(path.read_bytes())
    assert shuping_verify_build.build(copy) == first
    # One changed byte of the source changes the download.
    (copy / "cli.py").write_bytes((copy / "cli.py").read_bytes() + b"\n")
    assert shuping_verify_build.build(copy) != first


def test_the_download_runs_alone_with_its_command_line(tmp_path: Path) -> None:
    program = tmp_path / "shuping-verify.pyz"
    program.write_bytes(shuping_verify_build.build())
    log = tmp_path / "closed.jsonl"
    log.write_text("".join(line + "\n" for line in chained(as_lines(events_until("closed")))), encoding="utf-8")
    run = subprocess.run([sys.executable, "-I", "-S", str(program), str(log)], capture_output=True, text=True,
                         encoding="utf-8", check=False, timeout=60)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = shuping_main(["log", "verify", str(log)])
    assert (run.returncode, run.stdout) == (status, out.getvalue()) == (0, out.getvalue())
    assert run.stdout.startswith("校验通过 / verified: ")
    assert "重新计票与公布结果一致 / recount matches the announced results (1)" in run.stdout
