"""What every script in bench/ shares: its arguments, its docs section, the machine it ran on, small helpers.

Each script rewrites only its own section of docs/benchmarks.md, between
`<!-- bench:<name>:start -->` and `<!-- bench:<name>:end -->`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform as py_platform
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs" / "benchmarks.md"
DOCS_INTRO = """# Benchmarks

Figures measured by the scripts in `bench/` (see `bench/README.md`). Each script
rewrites only its own section, between its markers; the command, machine and
date of the run are written with the figures.

"""
NO_DOCS_HELP = "print only; leave docs/benchmarks.md alone"


def bench_arguments(doc: str, *, quick: str | None = None) -> argparse.ArgumentParser:
    """A script's parser: described by its docstring's first paragraph, with --quick (when `quick`,
    its help) and --no-docs; the script adds its own options after these."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    if quick is not None:
        parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--no-docs", action="store_true", help=NO_DOCS_HELP)
    return parser


def say(text: str) -> None:
    print(text, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def relative(path: str) -> str:
    """`path` relative to the repository when it lies inside it (for the command line in the docs)."""
    with contextlib.suppress(ValueError):
        absolute = Path(os.path.abspath(path))
        if absolute.is_relative_to(REPO):
            return str(absolute.relative_to(REPO))
    return path


def command_line() -> str:
    """How this run was started, as a person would type it from the repository root."""
    return " ".join(shlex.quote(a) for a in [relative(sys.executable), relative(sys.argv[0]), *sys.argv[1:]])


def write_section(name: str, section: str) -> None:
    """Replace the script's own section (append it if absent); other sections stay as they are."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{section}\n{end}"
    if DOCS.exists():
        text = DOCS.read_text(encoding="utf-8")
        if start in text and end in text and text.index(start) < text.index(end):
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            text = head + block + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    else:
        text = DOCS_INTRO + block + "\n"
    DOCS.write_text(text, encoding="utf-8")


def show_section(name: str, section: str, *, no_docs: bool) -> None:
    """Print the section after a blank line; unless `no_docs`, write it into docs/benchmarks.md and say so."""
    print()
    print(section)
    if not no_docs:
        write_docs(name, section)


def write_docs(name: str, section: str) -> None:
    """Write the script's section into docs/benchmarks.md and say where it went."""
    write_section(name, section)
    say(f"\nwritten to {DOCS.relative_to(REPO)}")


def close_django() -> None:
    """Close this process's Django connections, if Django got that far (for a script's `finally`)."""
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()


class ServerProcess:
    """`python -m <argv>` as a child in a session of its own, its output in `log`: ready when its
    /healthz answers on `port`, stopped with SIGTERM, then SIGKILL for its whole session."""

    def __init__(self, argv: list[str], *, port: int, env: dict[str, str], log: Path, cwd: Path = REPO) -> None:
        self.argv = argv
        self.port = port
        self.log_path = log
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *argv], stdout=self._log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True, cwd=cwd,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, host: str, timeout: float = 60) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", headers={"Host": host}, timeout=2,
                             trust_env=False).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"no /healthz answer within {timeout} s:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=10)
        self._log.close()


def machine() -> dict[str, str]:
    """CPUs, CPU model, memory, kernel and Python of this machine."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GB RAM"
    return {
        "nproc": str(os.cpu_count()), "cpu": cpu, "memory": memory,
        "kernel": py_platform.release(), "python": py_platform.python_version(),
    }


def machine_text(m: dict[str, str], *, kernel: bool = True) -> str:
    """`machine()` as the sections print it: "2 CPUs (model), 8 GB RAM, Linux 6.1, Python 3.11"."""
    linux = f"Linux {m['kernel']}, " if kernel else ""
    return f"{m['nproc']} CPUs ({m['cpu']}), {m['memory']}, {linux}Python {m['python']}"
