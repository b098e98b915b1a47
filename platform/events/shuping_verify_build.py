"""The verifier as one download: the shuping_verify package in a zipapp, same bytes every build.

An auditor takes one file and runs ``python3 shuping-verify.pyz FILE`` with a
bare Python 3.11+. The archive holds the package's modules under their
top-level name ``shuping_verify/`` and a ``__main__.py`` at its root that
imports it. Entries are written in name order with a fixed timestamp and mode,
so the bytes (and the SHA-256 the pages show) depend on the source alone; the
stdlib ``zipapp`` puts the interpreter line in front. Standard library only.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import io
import zipapp
import zipfile
from collections.abc import Sequence
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "shuping_verify"
FILENAME = "shuping-verify.pyz"
INTERPRETER = "/usr/bin/env python3"
_STAMP = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
_ROOT_MAIN = b'"""shuping-verify: run with python3 shuping-verify.pyz FILE [--head HASH ...] [--json]."""\n\nfrom shuping_verify.cli import main\n\nraise SystemExit(main())\n'


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3  # unix, whatever machine builds it
    return info


def build(package: Path = PACKAGE) -> bytes:
    """The zipapp's bytes, built from the package's .py files as they are on disk now."""
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr(_entry("__main__.py"), _ROOT_MAIN)
        for path in sorted(package.glob("*.py")):
            archive.writestr(_entry(f"shuping_verify/{path.name}"), path.read_bytes())
    plain.seek(0)
    out = io.BytesIO()
    zipapp.create_archive(plain, out, interpreter=INTERPRETER)
    return out.getvalue()


@functools.cache
def built() -> bytes:
    """The zipapp served to everyone, built once per process."""
    return build()


def sha256() -> str:
    return hashlib.sha256(built()).hexdigest()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="shuping-verify-build", description="生成校验程序 / Build shuping-verify.pyz.")
    parser.add_argument("out", help=f"输出文件 / the file to write, e.g. {FILENAME}")
    args = parser.parse_args(argv)
    data = build()
    Path(args.out).write_bytes(data)
    print(f"{args.out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
