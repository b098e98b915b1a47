"""Run a coroutine's first step now, in the caller's turn of the event loop; a task only if it waits.

Why: a task's first step waits for the loop's next turn, and in a ballot
burst a turn is slow: the loop shares the GIL with the HTTP threads
(shuping.http_bridge) and writes rounds of frames to hundreds of sockets.
Measured in bench/live_fanout.py (200 screens, 300 ballots; 5 runs each,
alternated): with a plain task per socket per update instead of
`start_now` in live.relay, fan-out p99 rose from a median of 70 ms to 98 ms
(worse in every pair of runs) and p50 from 20 to 27 ms; alone in a loop, a
task per send cost 1-3 us more per socket per update (tasks: 3.1-5.6 us,
this: 2.1-2.6 us). Nearly every such coroutine ends within its first step
(an ASGI server writes a websocket frame at once unless the socket's buffer
is full; the in-memory channel layer puts a message on a queue), so nearly
always no task is made at all.

This is what Python 3.12's eager tasks (``asyncio.eager_task_factory``) do;
the platform still runs on 3.11. Unlike them, the first step runs in the
caller's task, or in none: use it only for coroutines whose first step
needs no task of its own (``asyncio.timeout`` does, and redis-py uses it).
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any


class Resume:
    """The rest of a coroutine that was started by hand and stopped at an await; await it in a task."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting

    def __await__(self) -> Generator[Any, None, None]:
        # Hand what the coroutine waits on up to the task, and the task's answer
        # (a result or an exception, e.g. a cancellation) back down, as a task would.
        waiting = self.waiting
        while True:
            try:
                yield waiting
            except BaseException as exc:  # noqa: BLE001 - handed to the coroutine
                try:
                    waiting = self.coro.throw(exc)
                except StopIteration:
                    return
            else:
                try:
                    waiting = self.coro.send(None)
                except StopIteration:
                    return


def start_now(coro: Coroutine[Any, Any, Any]) -> Resume | None:
    """Run `coro` until it first waits: None if it finished, else its rest (await it in a task).

    An exception raised in the first step is raised here.
    """
    try:
        waiting = coro.send(None)
    except StopIteration:
        return None
    return Resume(coro, waiting)
