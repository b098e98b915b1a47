"""How much a websocket client may say: one token bucket per socket.

Clients of the hall only ever say ``ping`` (every 15 s) and ``resync`` (when
a ``turnout`` carries a version other than the page's last snapshot). The
server sends a socket at most one message per relay window (50 ms), so an
honest page that fell behind asks at most ~20 times in the second before
its snapshot arrives (a resync is answered within `RESYNC_SECONDS`), then
goes quiet again. A bucket of `BURST` frames refilled at `PER_SECOND`
covers that with room to spare, and is 75 times the steady ping rate; a
socket that says more is broken or hostile and is closed (4429).

Each socket owns its bucket, in memory, with no shared state and no lock: a
counter and a timestamp are all it takes, so no library is worth adding
for it (a shared limiter such as django-ratelimit keys a cache, which a
per-socket count does not need).
"""

from __future__ import annotations

BURST = 30  # frames a socket may send at once
PER_SECOND = 5.0  # frames per second the bucket refills


class FrameBudget:
    """A token bucket: `take(now)` is True while the socket is within its budget."""

    def __init__(self, *, now: float, burst: int = BURST, per_second: float = PER_SECOND) -> None:
        self.burst = burst
        self.per_second = per_second
        self.tokens = float(burst)
        self.at = now

    def take(self, now: float) -> bool:
        """Spend one frame's token; False (and nothing spent) when the bucket is empty."""
        self.tokens = min(float(self.burst), self.tokens + max(0.0, now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
