"""Split py-spy's raw (collapsed) stacks of the server workers into the parts of a request.

    .venv/bin/python bench/spy_split.py PROFILE.txt [PROFILE.txt ...]

Reads the files `py-spy record --format raw` writes (bench/peak.py --keep
keeps them in its work folder; record them with `--gil` to count Python's CPU
only, not threads waiting in psycopg) and prints the share of samples in each
part: the request threads (by endpoint, and inside a cast: parsing, the
middleware around the view, the check against the meeting, sealing, the
statement, the turnout count after commit, the answer) and the event loop
(HTTP protocol, websockets, the channel layer). A sample belongs to the first
part whose marker is on its stack, markers tried in the order written here.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

# (part, markers): a sample is in the part if any marker occurs in its stack.
REQUEST_PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("cast: turnout count after commit (live.bus)", ("turnout_on_commit.<locals>.publish", "_count (")),
    ("cast: seal (AES-GCM, HMAC, JSON of the marks)", ("_seal (", "_slot (")),
    ("cast: seal statement (psycopg, prepared)", ("seal_if_current (",)),
    ("cast: code hash", ("typed_code_hash (",)),
    ("cast: check against the meeting", ("validate_ballot (",)),
    ("cast: load the meeting (cache miss)", ("load_meeting (",)),
    ("cast: rest of check_cast_ballot", ("check_cast_ballot (",)),
    ("cast: body parse and shape check", ("_ballot_body (",)),
    ("cast: answer (JSON render)", ("render (/",)),
    ("cast: rest of the fast path view", ("fast_path.<locals>.view (",)),
    ("form: head and holds statement", ("head_and_holds (",)),
    ("form: load the meeting", ("load_meeting (",)),
    ("form: live token", ("issue (",)),
    ("form: rest of VoterFormApi", ("VoterFormApi",)),
    ("host commands (open, close, announce, end)", ("MeetingCommandApi", "CloseBallotApi", "on_meeting (")),
    ("notices and desk pages", ("notice", "Notice")),
    ("other views", ("_get_response (",)),
    ("middleware and handler around the view", ("WSGIHandler.__call__ (",)),
    ("bridge: environ, hand-over", ("ThreadPoolHTTP._respond (",)),
]
LOOP_PARTS: list[tuple[str, tuple[str, ...]]] = [
    ("loop: rooms (live.relay) and consumers", ("relay.py", "consumers")),
    ("loop: channel layer publish (live.bus, redis)", ("bus.py", "channels_redis", "redis/")),
    ("loop: websocket protocol", ("websockets_sansio", "wsproto", "websockets_impl")),
    ("loop: HTTP bridge (ThreadPoolHTTP.__call__)", ("ThreadPoolHTTP.__call__",)),
    ("loop: HTTP protocol (uvicorn, httptools)", ("httptools_impl", "h11_impl")),
    ("loop: other", ("Runner.run",)),
]


def split(lines: list[str]) -> Counter[str]:
    parts: Counter[str] = Counter()
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        table = REQUEST_PARTS if "ThreadPoolHTTP._respond (" in stack else LOOP_PARTS
        for part, markers in table:
            if any(marker in stack for marker in markers):
                parts[part] += n
                break
        else:
            parts["elsewhere (threads, GC, start-up)"] += n
    return parts


def main(argv: list[str]) -> int:
    lines = [line for path in argv for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines()]
    parts = split(lines)
    total = sum(parts.values()) or 1
    print(f"{total:,} samples")
    print("| part | samples | share |\n|---|---:|---:|")
    for part, n in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"| {part} | {n:,} | {100 * n / total:.1f}% |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
