"""County creation at #10 and at #N measured side by side: two PostgreSQL instances, creates alternating.

A create's wall time on this shared machine moves with the disk and the
neighbours by 2x within minutes (a county's replay writes about 1.4 MB of WAL
and commits durably), so #10 measured at the start of a 10-minute run and
#2,800 at its end compare two different machines. Here a second instance
holds 9 counties while the bench's instance holds N; one process per
instance creates counties on request (Django set up once, the template's
snapshot warm), and the bench asks them in turn: #10 in the small one,
#N+1 in the large one, #11, #N+2, ... Each answer is the create's own
time, measured in the creating process.

Used by bench/counties.py (`--pair-rounds`); run alone as
`python bench/county_pair.py --serve` it is that creating process (reads a
county slug a line, answers its milliseconds).
"""

from __future__ import annotations

import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class Creator:
    """A process creating counties in one instance, one per request."""

    def __init__(self, env: dict[str, str]) -> None:
        env = dict(env, PYTHONPATH=f"{ROOT / 'platform'}{os.pathsep}{ROOT}")
        self.child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve"], env=env, cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )

    def create(self, slug: str) -> float:
        """Seconds the create of `slug` took in the creating process."""
        assert self.child.stdin and self.child.stdout
        self.child.stdin.write(slug + "\n")
        self.child.stdin.flush()
        answer = self.child.stdout.readline().strip()
        if not answer:
            raise RuntimeError(f"the creating process stopped (exit {self.child.wait()})")
        return float(answer) / 1000

    def close(self) -> None:
        if self.child.stdin:
            self.child.stdin.close()
        self.child.wait(timeout=60)


def side_by_side(env: dict[str, str], slug, migrate, large_next: int, rounds: int, small: int = 10,  # type: ignore[no-untyped-def]
                 settings: dict[str, str] | None = None) -> tuple[list[float], list[float]]:
    """Creates #small.. in a fresh instance and #large_next.. in the bench's, alternating; seconds each.

    `slug(index)` names a county, `migrate(env)` migrates a new instance (both the caller's).
    """
    from _common import free_port, say

    from shuping.embedded_pg import EmbeddedPostgres

    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-pair-"))
    server = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False, settings=settings)
    creators: list[Creator] = []
    try:
        url = server.start(log=False)
        small_env = dict(env, DATABASE_URL=url, SHUPING_HOME=str(workdir), SHUPING_SECRET_KEY=secrets.token_urlsafe(50))
        migrate(small_env)
        few, many = Creator(small_env), Creator(env)
        creators = [few, many]
        for index in range(1, small):  # the first dumps the template
            few.create(slug(index))
        many.create(slug(large_next))  # warm: the snapshot read once in this process
        times: tuple[list[float], list[float]] = ([], [])
        for k in range(rounds):
            times[0].append(few.create(slug(small + k)))
            times[1].append(many.create(slug(large_next + 1 + k)))
        say(f"  side by side: #{small}.. {statistics.median(times[0]) * 1000:.0f} ms, "
            f"#{large_next + 1:,}.. {statistics.median(times[1]) * 1000:.0f} ms (medians of {rounds})")
        return times
    finally:
        for creator in creators:
            creator.close()
        server.destroy()


def serve() -> None:
    sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
    import django

    django.setup()
    from tenants.provisioning import create_county

    for line in sys.stdin:
        slug = line.strip()
        started = time.perf_counter()
        create_county(slug=slug, name=f"基准县{slug}", domains=[f"{slug}.localhost"])
        print(f"{(time.perf_counter() - started) * 1000:.3f}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["--serve"]:
        raise SystemExit("run by bench/counties.py; see its --pair-rounds")
    serve()
