"""Benchmark of the offline verifier's recount on a 10,000-event meeting, beside a raw read.

Run from the repository root:

    .venv/bin/python bench/recount.py            # rewrites its section of docs/benchmarks.md
    .venv/bin/python bench/recount.py --no-docs  # prints only

No database: the meeting is run by the real aggregate (400 voters in three
categories, 10 subjects on 5 criteria, phone ballots and two paper batches
entered by two tellers each, questions and answers filling the log up to
10,000 events), written out as an export with its hash chain, and read back
three ways in the same run, each the median of 5:

* raw: read the file and `json.loads` every line (the floor);
* verify: `verify_file` (parse, hashes, links, completeness, recount); the
  file is written in the exporter's spelling, so its lines take the verifier's
  quick path (`events.shuping_verify.spelling`);
* recount alone: the fold and recount of `events.shuping_verify` over lines
  already parsed.

Then the quick path's steps, each timed alone over the same lines (a profile by
parts: CPU of this process, medians of the rounds).

Goal: verify and recount >= 0.5 x the raw read (events/s).

`--against REV` also times the verifier as it was at git revision REV (the
package, or the single file it once was) in the same rounds, so a change to
the verifier is measured before/after side by side on a shared machine; its
report must equal today's.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.util
import io
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "platform"), str(Path(__file__).resolve().parent.parent)]
os.environ.setdefault("SHUPING_DEBUG", "1")

from _common import bench_arguments, command_line, machine, machine_text, say, write_section  # noqa: E402

TOTAL = 10_000
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 12, 1, 9, tzinfo=CST)


def meeting_events(total: int) -> list[Any]:
    """A finished meeting of `total` events, decided by the real aggregate."""
    import hashlib
    import random

    from meetings.domain.aggregate import Meeting
    from meetings.domain.rules import SCALE_CHENZHI, Criterion, Rules
    from meetings.domain.voting import SealedBallot
    from meetings.events import PaperBallot, RosterEntry, SubjectEntry

    rng = random.Random(15)
    rules = Rules(
        variant="custom", scales={"body": SCALE_CHENZHI, "person": SCALE_CHENZHI},
        criteria=tuple(Criterion(f"c{i}", f"指标{i}") for i in range(5)),
        voter_categories=("party_member", "representative", "guest"),
        graders={"village": ("party_member", "representative", "guest"), "township": ("party_member", "representative")},
        category_weights={"party_member": 2},
    )
    subjects = [SubjectEntry(subject_id=f"s{i}", name=f"述评对象{i}", level="township" if i < 2 else "village") for i in range(10)]
    roster = [RosterEntry(member_id=f"p{i}", name=f"党员{i}", category="party_member") for i in range(250)]
    roster += [RosterEntry(member_id=f"r{i}", name=f"代表{i}", category="representative") for i in range(120)]
    meeting, log = Meeting(), []

    def do(new: list[Any]) -> None:
        for event in new:
            meeting.apply(event)
            log.append(event)

    do(meeting.schedule(meeting_id="m1", title="述评大会", township="城关镇", village="东村", starts_at=T0, place="村委会"))
    do(meeting.configure(rules=rules, subjects=subjects, roster=roster))
    do(meeting.announce(starts_at=T0, place="村委会", agenda=["述职"], channels=["notice_board"], now=T0 - timedelta(days=5)))
    for entry in roster:
        do(meeting.sign_in(member_id=entry.member_id))
    for g in range(30):
        do(meeting.sign_in_guest(guest_id=f"g{g}", name=f"列席{g}"))
    voters = []
    for category, n in (("party_member", 250), ("representative", 120), ("guest", 30)):
        codes = [hashlib.sha256(f"{category}{i}".encode()).hexdigest() for i in range(n)]
        do(meeting.issue_ballot_codes(category=category, code_hashes=codes))
        voters += [(c, category) for c in codes]
    do(meeting.open_meeting(now=T0))
    for s in subjects:
        do(meeting.start_report(subject_id=s.subject_id, now=T0))
        do(meeting.end_report(subject_id=s.subject_id, now=T0 + timedelta(minutes=5)))
    # Room left for the ballot's 350 events: open, 340 phone ballots and the close, 4 paper
    # entries and 2 reconciliations, results, the meeting's close.
    reserve = 350
    for q in range((total - len(log) - reserve) // 2):
        do(meeting.ask_question(question_id=f"q{q}", text="村里的道路硬化工程什么时候完工？", subject_id=f"s{q % 10}", asked_by=None))
        do(meeting.answer_question(question_id=f"q{q}", answer="预计明年五月完工，资金明细将张贴公开。"))
    for q in range(total - len(log) - reserve):  # an odd count: one question left unanswered
        do(meeting.ask_question(question_id=f"x{q}", text="补充提问", subject_id="s0", asked_by=None))
    do(meeting.open_ballot(now=T0 + timedelta(hours=2)))
    grades = rules.scale_for("person").grade_ids

    def marks(category: str) -> dict[str, dict[str, str]]:
        return {s.subject_id: {c.id: rng.choice(grades) for c in rules.criteria} for s in meeting.subjects_graded_by(category)}

    phone = [SealedBallot(code_hash=c, marks=marks(cat)) for c, cat in voters[:340]]
    do(meeting.close_ballot(sealed_ballots=phone, now=T0 + timedelta(hours=3)))
    paper = {1: [PaperBallot(code_hash=c, marks=marks(cat)) for c, cat in voters[340:370]],
             2: [PaperBallot(code_hash=c, marks=marks(cat)) for c, cat in voters[370:]]}
    for batch_no, ballots in paper.items():
        for teller in ("计票员甲", "计票员乙"):
            do(meeting.enter_paper_batch(batch_no=batch_no, teller=teller, ballots=ballots, now=T0 + timedelta(hours=3)))
    do(meeting.announce_results(now=T0 + timedelta(hours=3, minutes=5)))
    do(meeting.close_meeting(now=T0 + timedelta(hours=3, minutes=10)))
    assert len(log) == total, len(log)
    return log


def write_export(events: list[Any], path: Path) -> None:
    from events.chain import GENESIS_HASH, event_hash, format_recorded_at
    from events.shuping_verify.spelling import event_line

    prev, lines = GENESIS_HASH, []
    for version, e in enumerate(events, start=1):
        line = {"position": 3 * version, "stream": "meeting-bench", "version": version, "type": e.type_name,
                "schema_version": e.version, "data": e.to_data(), "metadata": {"actor": "host:李建国"},
                "recorded_at": format_recorded_at(datetime(2026, 12, 1, 1, tzinfo=UTC) + timedelta(milliseconds=version)),
                "prev_hash": prev}
        line["hash"] = prev = event_hash(county="bench", **{k: line[k] for k in line if k != "position"})
        lines.append(event_line(line))  # as `shuping log export` writes it
    header = {"format": "shuping-log", "format_version": 1, "county": "bench", "stream": "meeting-bench",
              "exported_at": "2026-12-01T05:00:00.000000Z", "event_count": len(lines), "head_hash": prev}
    path.write_text("\n".join([json.dumps(header), *lines]) + "\n", encoding="utf-8")


def verifier_at(revision: str, folder: Path) -> Callable[[Path], Any]:
    """`verify_file` as it was at `revision`, loaded under another name beside today's."""
    repo = Path(__file__).resolve().parent.parent
    tar = subprocess.run(["git", "archive", revision, "platform/events/"], cwd=repo, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        archive.extractall(folder, filter="data")
    package, single = folder / "platform/events/shuping_verify", folder / "platform/events/shuping_verify.py"
    location = package / "__init__.py" if package.is_dir() else single
    spec = importlib.util.spec_from_file_location("verifier_before", location,
                                                  submodule_search_locations=[str(package)] if package.is_dir() else None)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["verifier_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module.verify_file  # type: ignore[no-any-return]


def quick_path_profile(path: Path, rounds: int) -> list[tuple[str, float]]:
    """(step, us per event by CPU) of the verifier's quick path, each step timed alone over the file's lines."""
    from events.shuping_verify import spelling, verify_file
    from events.shuping_verify.canonical import _FIELD_VALUES, _plain

    raws = path.read_bytes().splitlines(keepends=True)[1:]
    texts = [raw.decode("utf-8") for raw in raws]
    objs = [spelling._scan(text, 0)[0] for text in texts]
    values = [_FIELD_VALUES(obj) for obj in objs]
    encoded = [(spelling._canonical(obj["data"]), spelling._canonical(obj["metadata"])) for obj in objs]
    string = spelling.canonical_string

    def respell() -> None:
        for (position, stream, version, kind, schema_version, _d, _m, recorded_at, prev_hash, digest), (data, metadata), text in zip(
                values, encoded, texts, strict=True):
            text.startswith(f'{{"position":{position},"stream":{stream},"version":{version},"type":{kind},'
                            f'"schema_version":{schema_version},"data":{data},"metadata":{metadata},'
                            f'"recorded_at":{recorded_at},"prev_hash":"{prev_hash}","hash":"{digest}"}}')

    inputs: list[str] = []

    def hash_input() -> None:
        inputs.clear()
        for (_p, stream, version, kind, schema_version, _d, _m, recorded_at, prev_hash, _h), (data, metadata) in zip(
                values, encoded, strict=True):
            inputs.append(f'{{"county":"bench","data":{data},"format":"shuping-event/1","metadata":{metadata},'
                          f'"prev_hash":"{prev_hash}","recorded_at":{recorded_at},"schema_version":{schema_version},'
                          f'"stream":{stream},"type":{kind},"version":{version}}}')

    hash_input()

    def raw_read() -> None:
        with open(path, "rb") as handle:
            next(handle)
            for line in handle:
                json.loads(line)

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("raw read, each line dropped after `json.loads` (the streamed floor)", raw_read),
        ("`verify_file` in all", lambda: verify_file(path)),
        ("its quick reading of each line in all (`read_event`)",
         lambda: [spelling.read_event(raw, '"bench"', False) for raw in raws]),
        ("  UTF-8 decode", lambda: [raw.decode("utf-8") for raw in raws]),
        ("  C parse, no hooks (`scan_once`)", lambda: [spelling._scan(text, 0) for text in texts]),
        ("  value-set walk of data and metadata (`_plain`)", lambda: [_plain(o["data"]) and _plain(o["metadata"]) for o in objs]),
        ("  canonical encoding of data and metadata (C core)",
         lambda: [(spelling._canonical(o["data"]), spelling._canonical(o["metadata"])) for o in objs]),
        ("  spelling stream, type, recorded_at", lambda: [(string(v[1]), string(v[3]), string(v[7])) for v in values]),
        ("  re-spelling the line and comparing", respell),
        ("  the hash input's text", hash_input),
        ("  UTF-8 encode + SHA-256", lambda: [hashlib.sha256(text.encode("utf-8")).hexdigest() for text in inputs]),
    ]
    times: dict[str, list[float]] = {name: [] for name, _ in steps}
    # The inputs prepared above (10,000 parsed lines and more) are kept out of the collector's
    # sight, or every step would pay for walking them in its collections.
    gc.collect()
    gc.freeze()
    try:
        for _ in range(rounds):
            for name, fn in steps:
                c0 = time.process_time()
                fn()
                times[name].append(time.process_time() - c0)
    finally:
        gc.unfreeze()
    per_event = {name: 1e6 * statistics.median(ts) / len(raws) for name, ts in times.items()}
    rest = per_event["`verify_file` in all"] - per_event["its quick reading of each line in all (`read_event`)"]
    return [*per_event.items(), ("the rest: reading the file, links, heads, completeness, recount", rest)]


def main() -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--against", metavar="REV", help="also time the verifier of this git revision, same rounds")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the medians are reported (default 5)")
    args = parser.parse_args()
    from events.shuping_verify import MeetingFold, verify_file
    from events.shuping_verify.canonical import _DECODER, EVENT_FORMAT, canonical_json

    events = meeting_events(TOTAL)
    with tempfile.TemporaryDirectory() as folder:
        before = verifier_at(args.against, Path(folder) / "before") if args.against else None
        path = Path(folder) / "meeting.jsonl"
        write_export(events, path)
        size = path.stat().st_size

        def raw() -> list[dict[str, Any]]:
            with open(path, "rb") as handle:
                next(handle)
                return [json.loads(line) for line in handle]

        def streamed() -> None:  # each line parsed and dropped, as verify_file reads
            with open(path, "rb") as handle:
                next(handle)
                for line in handle:
                    json.loads(line)

        def recount(parsed: list[dict[str, Any]]) -> None:
            fold = MeetingFold()
            for line in parsed:
                if line["type"] == "ResultsAnnounced":
                    fold.results()
                fold.apply(line["type"], line["data"])

        # The verifier's two floors: the strict parse, and the canonical encoding and hash of each event.
        texts = [line.decode("utf-8") for line in path.read_bytes().splitlines()[1:]]
        hash_inputs = [{"format": EVENT_FORMAT, "county": "bench", **{k: v for k, v in json.loads(t).items()
                                                                      if k not in ("position", "hash")}} for t in texts]

        def strict_parse() -> None:
            for text in texts:
                _DECODER.decode(text)

        def encode_and_hash() -> None:
            for value in hash_inputs:
                hashlib.sha256(canonical_json(value)).hexdigest()

        times: dict[str, list[float]] = {"raw": [], "streamed": [], "verify": [], "recount": [], "before": [], "parse": [],
                                         "encode": []}
        cpu: dict[str, list[float]] = {name: [] for name in times}  # this process's CPU (a busy machine's wall
        report = None  # clock also counts other processes' turns)

        def timed(name: str, fn: Callable[[], Any]) -> Any:
            t0, c0 = time.perf_counter(), time.process_time()
            out = fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
            return out

        for _ in range(args.rounds):
            parsed = timed("raw", raw)
            timed("streamed", streamed)
            report = timed("verify", lambda: verify_file(path))
            timed("recount", lambda: recount(parsed))  # noqa: B023
            timed("parse", strict_parse)
            timed("encode", encode_and_hash)
            if before is not None:
                old = timed("before", lambda: before(path))
                assert old.to_dict() == report.to_dict(), "the verifier's report changed"
        profile = quick_path_profile(path, args.rounds)
    assert report is not None and report.ok and report.results_recounted == 1 and report.event_count == TOTAL, report
    rates = {name: TOTAL / statistics.median(ts) for name, ts in times.items() if ts}
    cpu_rates = {name: TOTAL / statistics.median(ts) for name, ts in cpu.items() if ts}
    rows = [("raw read + `json.loads`", "raw"), ("`verify_file` (chain, completeness, recount)", "verify"),
            ("recount alone (parsed lines)", "recount"), ("raw read + `json.loads`, each line dropped", "streamed")]
    if before is not None:
        rows.insert(1, (f"`verify_file` at {args.against} (before)", "before"))
    rows += [("its part: strict parse (duplicate-key and integer hooks)", "parse"),
             ("its part: canonical encoding + SHA-256 of each event", "encode")]
    for label, key in rows:
        say(f"  {label:48s}: {rates[key]:9.0f} events/s  ({rates[key] / rates['raw']:.2f} x raw)"
            f"  CPU {cpu_rates[key]:9.0f} events/s ({cpu_rates[key] / cpu_rates['raw']:.2f} x raw)")
    say("  quick path, per event by CPU, each step alone:")
    for label, us in profile:
        say(f"    {label:64s} {us:6.2f} us")
    if args.no_docs:
        return
    m = machine()
    lines = [
        "## Offline verifier with recount (`bench/recount.py`)", "",
        f"A closed meeting of {TOTAL:,} events ({size / 1e6:.1f} MB of JSON Lines): 400 voters, 10 subjects x 5 criteria,"
        " 340 phone ballots and 60 paper ballots in two batches of two tellers, questions and answers; medians of"
        f" {args.rounds}, all read in the same rounds (`--against REV`: the verifier of that revision too, its"
        " report required equal). Goal: verify and recount >= 0.5 x the raw read. On a shared machine compare the"
        " rows of one run, not runs.", "",
        "| read | events/s | x raw | by CPU: events/s | x raw |", "|---|---:|---:|---:|---:|",
        *(f"| {label} | {rates[key]:,.0f} | {rates[key] / rates['raw']:.2f} | {cpu_rates[key]:,.0f} |"
          f" {cpu_rates[key] / cpu_rates['raw']:.2f} |" for label, key in rows), "",
        f"The recount meets the goal; it is {100 * rates['verify'] / rates['recount']:.0f}% of `verify_file`'s time."
        " The rest is the chain. The file is in the exporter's spelling, so `verify_file` reads each line by its"
        " quick path: the C parser without hooks, `data` and `metadata` encoded canonically once, the line"
        " accepted only when re-spelling it gives its text back, the hash input assembled from those pieces"
        " (`events.shuping_verify.spelling`; any other line goes the strict way with the same report). The two"
        " rows of parts are the strict path's floors, timed alone: the strict parse and the canonical encoding"
        " with its hash, which the quick path no longer pays for such lines. The raw read keeps every parsed line"
        " in a list, as it has in every run of this bench (so the collector's walks over 10,000 live objects are"
        " part of it); read as `verify_file` reads, each line dropped after parsing, it is the row below the"
        f" recount, and against that floor `verify_file` reaches {cpu_rates['verify'] / cpu_rates['streamed']:.2f} x"
        " by CPU.", "",
        "The quick path by parts, per event by CPU (each step timed alone over the same 10,000 lines, medians"
        f" of {args.rounds}; the steps marked with a dash add up to about the quick reading):", "",
        "| part | us/event |", "|---|---:|",
        *(f"| {label.replace('  ', '- ', 1) if label.startswith('  ') else label} | {us:.1f} |" for label, us in profile), "",
        f"Run: `{command_line()}` on {machine_text(m, kernel=False)},"
        f" {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
    ]
    write_section("recount", "\n".join(lines))


if __name__ == "__main__":
    main()
