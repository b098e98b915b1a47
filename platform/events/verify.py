"""Offline verifier for an exported Shuping event log: ``python -m events.verify FILE [--head HASH]``.

The one implementation is :mod:`events.shuping_verify`, a package that
needs only the standard library, so the program an auditor downloads
(``/shuping-verify.pyz``, that package as one zipapp) and ``shuping log verify`` are the same code and say
the same. This module keeps the names callers import from ``events.verify``.
"""

from __future__ import annotations

from events.shuping_verify import (
    LOG_FORMAT,
    LOG_FORMAT_VERSION,
    Problem,
    TrustedHead,
    VerifyReport,
    main,
    normalise_heads,
    verify_file,
    verify_lines,
)

__all__ = [
    "LOG_FORMAT",
    "LOG_FORMAT_VERSION",
    "Problem",
    "TrustedHead",
    "VerifyReport",
    "main",
    "normalise_heads",
    "verify_file",
    "verify_lines",
]

if __name__ == "__main__":
    raise SystemExit(main(prog="python -m events.verify"))
