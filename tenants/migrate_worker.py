"""The start of a `shuping migrate --jobs N` worker process (tenants.migrating).

A module of its own with no Django import at its top: a spawned worker
unpickles its initializer before Django is set up, and importing a module
that defines models at that point fails.
"""

from __future__ import annotations

import signal


def worker_started() -> None:
    """Ignore Ctrl-C (the parent decides and terminates the workers), then set Django up."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import django

    django.setup()
