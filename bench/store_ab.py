"""Side-by-side runs of the event store's append: a tree before a change against this one.

    .venv/bin/python bench/store_ab.py --base /tmp/storeq-base [--pairs 3] [--writers 16]

`--base` is a copy of another revision's `platform/` and `tenants/` (e.g.
`git archive <rev> platform tenants | tar -x -C /tmp/base`), `--this` the
tree after the change (this checkout by default; a copy lets you go on
editing while it runs). Each pair runs
`bench/event_store.py --only appends` (this file's copy, so both sides are
measured the same way) once with the base tree's code first on the import
path, then once with this tree's, alternating which goes first; each run
starts its own PostgreSQL and measures ours, the same statements and
eventsourcing's application recorder in one session, so every ratio below
comes from one run. Prints per-run figures and the median of each side.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LINE = re.compile(
    r"round \d+ (?P<impl>\S+)\s+(?P<writers>\d+) writers:\s+(?P<rate>\d+) appends/s.*client (?P<cpu>[\d.]+),"
)


def run(tree: Path, writers: str, impls: str, rounds: int) -> dict[str, tuple[float, float]]:
    """{impl or impl@writers (for other than the first writer count): (appends/s, client CPU ms/append)}."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(tree / "platform"), str(tree)])
    command = [sys.executable, str(REPO / "bench" / "event_store.py"), "--only", "appends",
               "--writers", writers, "--impls", impls, "--rounds", str(rounds)]
    out = subprocess.run(command, env=env, cwd=tree, check=True, capture_output=True, text=True).stdout
    figures: dict[str, list[tuple[float, float]]] = {}
    first = writers.split(",")[0]
    for match in LINE.finditer(out):
        name = match["impl"] if match["writers"] == first else f"{match['impl']}@{match['writers']}"
        figures.setdefault(name, []).append((float(match["rate"]), float(match["cpu"])))
    return {impl: (statistics.median(r for r, _ in xs), statistics.median(c for _, c in xs))
            for impl, xs in figures.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", type=Path, required=True)
    parser.add_argument("--this", type=Path, default=REPO, help="the tree after the change (default: this one)")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--writers", default="16,1", help="the first count is the one compared; others are printed")
    parser.add_argument("--impls", default="ours,stmts,es_app")
    parser.add_argument("--rounds", type=int, default=1, help="rounds inside each run")
    args = parser.parse_args()
    sides: dict[str, list[dict[str, tuple[float, float]]]] = {"base": [], "this": []}
    for pair in range(args.pairs):
        order = [("base", args.base), ("this", args.this)]
        if pair % 2:
            order.reverse()
        for name, tree in order:
            figures = run(tree, args.writers, args.impls, args.rounds)
            sides[name].append(figures)
            ours, stmts, es = figures["ours"], figures.get("stmts"), figures.get("es_app")
            print(
                f"pair {pair + 1} {name:4s}: ours {ours[0]:6.0f}/s client CPU {ours[1]:.3f} ms/append"
                + (f"  stmts {stmts[0]:6.0f}/s (ours/stmts {ours[0] / stmts[0]:.2f})" if stmts else "")
                + (f"  es_app {es[0]:6.0f}/s (ours/es_app {ours[0] / es[0]:.2f})" if es else "")
                + "".join(f"  {k} {v[0]:.0f}/s CPU {v[1]:.3f}" for k, v in figures.items() if "@" in k and "ours" in k),
                flush=True,
            )
    for name, runs in sides.items():
        rate = statistics.median(r["ours"][0] for r in runs)
        cpu = statistics.median(r["ours"][1] for r in runs)
        text = f"{name:4s} median: ours {rate:.0f}/s, client CPU {cpu:.3f} ms/append"
        for other in sorted({k for r in runs for k in r if "@" in k and k.startswith("ours")}):
            text += f", {other} client CPU {statistics.median(r[other][1] for r in runs if other in r):.3f}"
        if all("stmts" in r for r in runs):
            text += ", ours/stmts " + ", ".join(f"{r['ours'][0] / r['stmts'][0]:.2f}" for r in runs)
        if all("es_app" in r for r in runs):
            text += ", ours/es_app " + ", ".join(f"{r['ours'][0] / r['es_app'][0]:.2f}" for r in runs)
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
