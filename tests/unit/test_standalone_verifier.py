"""The downloadable verifier, run alone, says exactly what `shuping log verify` says.

A copy of events/shuping_verify.py is run from a folder of its own by an
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
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from shuping.cli import main as shuping_main
from tests.unit.meetings.meeting_given import events_until
from tests.unit.test_recount import as_lines, chained

SOURCE = Path(__file__).resolve().parents[2] / "platform" / "events" / "shuping_verify.py"
LOGS = 1000

# Runs the copied program's own command line once per file and prints each
# verdict between markers, so that one interpreter serves all the logs.
DRIVER = """
import contextlib, importlib.util, io, sys
spec = importlib.util.spec_from_file_location("shuping_verify", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["shuping_verify"] = module  # dataclasses look their module up while the file runs
spec.loader.exec_module(module)
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
    program = tmp_path / "download" / "shuping-verify.py"
    program.parent.mkdir()
    shutil.copyfile(SOURCE, program)
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
