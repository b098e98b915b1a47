"""``python3 -m shuping_verify FILE``: the command line (exit status as in the package docstring)."""

from .cli import main

raise SystemExit(main())
