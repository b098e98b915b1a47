"""The per-process relay (live.relay) on a real in-memory channel layer, in one event loop.

These tests drive a relay directly, with sockets that record what they are
sent, because what they check depends on timing that a whole server cannot
be made to show on demand: a socket that stops taking frames for longer than
the channel layer keeps a message, a group membership that outlives the
layer's group expiry, a notice that got lost. The snapshot builder stands in
for the database: it returns what a screen's snapshot would say. The
behaviour through real server processes is in test_websockets and
test_multi_worker.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from channels.layers import InMemoryChannelLayer

from live.relay import Relay, Subscriber

GROUP = "m.county_x.m_relay"


class Hall:
    """What the database would say about one meeting, changed by the test."""

    def __init__(self) -> None:
        self.version = 5
        self.phase = "ballot_open"
        self.cast = 0
        self.builds = 0

    async def build(self, county: str, meeting_id: str, kind: str) -> dict[str, Any]:
        self.builds += 1
        return {"type": "snapshot", "kind": kind, "version": self.version, "phase": self.phase,
                "server_now": "", "turnout": {"cast": self.cast, "eligible": 300, "paper": 0}}


class Socket:
    """A socket as the relay sees it; `stall()` makes its sends wait, as a full TCP buffer does."""

    def __init__(self, kind: str = "screen") -> None:
        self.got: list[tuple[float, dict[str, Any]]] = []
        self.open = asyncio.Event()
        self.open.set()
        self.sub = Subscriber(kind, self.send)

    async def send(self, message: dict[str, Any]) -> None:
        await self.open.wait()
        self.got.append((asyncio.get_running_loop().time(), json.loads(message["text"])))

    def stall(self) -> None:
        self.open.clear()

    def resume(self) -> None:
        self.open.set()

    def shown(self) -> int:
        """The count the page shows (it never goes back: asserted by `counts`)."""
        return max(self.counts(), default=-1)

    def counts(self) -> list[int]:
        return [m["cast"] if m["type"] == "turnout" else m["turnout"]["cast"] for _, m in self.got]


async def until(condition: Any, timeout: float = 30.0) -> None:
    """Wait until `condition()` holds (the relay works on its own timers).

    The verdict is the condition; `timeout` is only a ceiling for a hung test.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def join(relay: Relay, socket: Socket) -> None:
    room = await relay.join(socket.sub, group=GROUP, county="county_x", meeting_id="m_relay")
    await room.send_fresh(socket.sub)


def test_a_stalled_socket_holds_up_no_one_and_is_not_dropped() -> None:
    """A screen that takes nothing for longer than the layer keeps a message still gets the final count."""

    async def scenario() -> None:
        hall = Hall()
        layer = InMemoryChannelLayer(expiry=1, group_expiry=2, capacity=100)
        relay = Relay(layer, hall.build, refresh=0.3)
        fast, slow, other = Socket(), Socket(), Socket()
        for socket in (fast, slow, other):
            await join(relay, socket)
        assert len(layer.groups[GROUP]) == 1, "one subscription per group in a process, not one per socket"
        slow.stall()
        for cast in range(1, 151):  # 3 s of ballots: longer than the layer's expiry and group expiry
            await layer.group_send(GROUP, {"type": "meeting.turnout", "cast": cast, "version": 5})
            await asyncio.sleep(0.02)
            # Nobody waits for the stalled socket: the others follow the ballots
            # while they are being cast, not once the stall ends. Every tenth
            # count is waited for as it happens (an event, not a deadline).
            if cast % 10 == 0:
                await until(lambda cast=cast: fast.shown() == other.shown() == cast)
        await until(lambda: fast.shown() == other.shown() == 150)
        assert slow.counts() == [0], "the stalled socket's frame is still waiting"
        for socket in (fast, other):
            assert socket.counts() == sorted(socket.counts()), "counts never go back"
            assert len(socket.got) <= 151, "at most one message per notice (senders coalesce: live.bus)"
        slow.resume()
        await until(lambda: slow.shown() == 150)
        # Still in the group: the next ballot reaches every socket. It is also
        # the fence for what the stalled socket was sent: its sends go out in
        # order, so anything queued for it during the stall came before 151.
        await layer.group_send(GROUP, {"type": "meeting.turnout", "cast": 151, "version": 5})
        await until(lambda: [s.shown() for s in (fast, slow, other)] == [151, 151, 151])
        # Before 151 it got what was in flight and then the latest count, not 150 queued frames.
        assert slow.counts()[-1] == 151 and len(slow.got[:-1]) <= 3, slow.counts()
        assert slow.counts() == sorted(slow.counts())

    asyncio.run(scenario())


def test_a_room_renews_its_membership_and_repairs_a_lost_notice() -> None:
    async def scenario() -> None:
        hall = Hall()
        layer = InMemoryChannelLayer(group_expiry=1)
        relay = Relay(layer, hall.build, refresh=0.3)
        screen = Socket()
        await join(relay, screen)
        loop = asyncio.get_running_loop()
        joined = loop.time()
        # A change whose notice never arrives (a Redis hiccup, a restart of the sender).
        hall.version, hall.phase, hall.cast = 6, "ballot_closed", 42
        # The refresh repairs it: wait for that event, not for a fixed time.
        await until(lambda: screen.got[-1][1]["version"] == 6)
        latest = screen.got[-1][1]
        assert (latest["type"], latest["version"], latest["phase"]) == ("snapshot", 6, "ballot_closed")
        assert latest["turnout"]["cast"] == 42
        # Rebuilt every refresh, but sent only when something changed: three
        # more rebuilds (counted, not timed) and still only these two messages.
        # Also wait until the membership is past the layer's group expiry (1 s).
        builds = hall.builds
        await until(lambda: hall.builds >= builds + 3 and loop.time() > joined + 2.5)
        assert len(screen.got) == 2
        # The membership outlived the group expiry: notices still arrive.
        hall.version = 7
        await layer.group_send(GROUP, {"type": "meeting.changed", "version": 7})
        await until(lambda: screen.got[-1][1]["version"] == 7)

    asyncio.run(scenario())


def test_a_burst_reaches_every_socket_as_one_shared_frame_per_window() -> None:
    async def scenario() -> None:
        hall = Hall()
        layer = InMemoryChannelLayer()
        relay = Relay(layer, hall.build)
        screens = [Socket() for _ in range(20)]
        phones = [Socket("phone") for _ in range(5)]
        for socket in screens + phones:
            await join(relay, socket)
        builds = hall.builds
        room = relay.rooms[GROUP]
        sent = [len(s.got) for s in screens + phones]
        # Ten ballots sealed within one window: one notice from their process (live.bus coalesces).
        room.turnout(10, 5)
        await until(lambda: {s.shown() for s in screens + phones} == {10})
        assert hall.builds == builds, "a count needs no snapshot"
        # A change: one snapshot built per page kind, whatever the number of sockets.
        # It is also the fence for the burst: each socket's sends go out in order,
        # so every frame the ten counts caused came before this snapshot.
        hall.version = 6
        await layer.group_send(GROUP, {"type": "meeting.changed", "version": 6})
        await until(lambda: all(s.got[-1][1]["type"] == "snapshot" for s in screens + phones))
        assert [len(s.got) for s in screens + phones] == [n + 2 for n in sent], "one count message each, then the snapshot"
        frames = {json.dumps(s.got[-2][1]) for s in screens + phones}
        assert frames == {json.dumps({"type": "turnout", "version": 5, "cast": 10, "eligible": 300, "paper": 0})}
        assert hall.builds == builds + 2
        assert {(s.got[-1][1]["kind"], s.got[-1][1]["version"]) for s in screens} == {("screen", 6)}
        assert {(s.got[-1][1]["kind"], s.got[-1][1]["version"]) for s in phones} == {("phone", 6)}
        # The last socket to leave unsubscribes the process.
        for socket in screens + phones:
            relay.leave(room, socket.sub)
        await until(lambda: GROUP not in layer.groups)
        assert GROUP not in relay.rooms

    asyncio.run(scenario())


def test_a_count_that_a_new_socket_read_reaches_the_sockets_already_there() -> None:
    """A socket that connects (or resyncs) while voting reads the count from the database.

    Found by the flood test (tests/live/test_floods.py): when that read saw
    ballots whose notice had not come yet, the room took the higher count as
    known, the notice then brought nothing new, and the screens already
    there kept the old count until the next ballot or the minute's refresh.
    Phones connect all through a vote, so the last count of a meeting could
    stay off the hall screens for a minute.
    """

    async def scenario() -> None:
        hall = Hall()
        layer = InMemoryChannelLayer()
        relay = Relay(layer, hall.build, refresh=3600)  # no refresh: the repair must not be the minute's
        screens = [Socket() for _ in range(3)]
        for socket in screens:
            await join(relay, socket)
        hall.cast = 7  # seven ballots committed; their notice is still on its way
        phone = Socket("phone")
        await join(relay, phone)
        assert phone.shown() == 7
        await layer.group_send(GROUP, {"type": "meeting.turnout", "cast": 7, "version": 5})
        await until(lambda: all(s.shown() == 7 for s in screens))
        for socket in screens:
            assert socket.counts() == [0, 7]

    asyncio.run(scenario())


def test_a_new_phase_reaches_the_screens_at_once_while_other_changes_wait_for_the_window() -> None:
    """The results follow "ballot closed" without waiting for a screen's coalescing window.

    The window here is an hour: a snapshot held back by it would never come
    within the test's ceiling, so what arrives is decided by the relay's
    rules, not by how fast this machine is.
    """

    async def scenario() -> None:
        hall = Hall()
        layer = InMemoryChannelLayer()
        relay = Relay(layer, hall.build, window=3600, refresh=3600)
        screen, console = Socket(), Socket("console")
        for socket in (screen, console):
            await join(relay, socket)

        def shown(socket: Socket) -> list[tuple[int, str]]:
            return [(m["version"], m["phase"]) for _, m in socket.got if m["type"] == "snapshot"]

        # A change that keeps the phase (a question asked): it waits for the window, folded into what comes next.
        hall.version = 6
        await layer.group_send(GROUP, {"type": "meeting.changed", "version": 6, "types": ["QuestionAsked"]})
        # The host closes the ballot (the phone ballots and BallotClosed in one append), then announces.
        hall.version, hall.phase = 307, "ballot_closed"
        await layer.group_send(GROUP, {"type": "meeting.changed", "version": 307,
                                       "types": ["BallotCast"] * 19 + ["BallotClosed"]})
        await until(lambda: all(shown(s)[-1] == (307, "ballot_closed") for s in (screen, console)))
        hall.version, hall.phase = 308, "results_announced"
        await layer.group_send(GROUP, {"type": "meeting.changed", "version": 308, "types": ["ResultsAnnounced"]})
        await until(lambda: all(shown(s)[-1] == (308, "results_announced") for s in (screen, console)))
        for socket in (screen, console):
            # Version 6 never went out on its own: it waited, and the closed ballot's snapshot carries it.
            assert shown(socket) == [(5, "ballot_open"), (307, "ballot_closed"), (308, "results_announced")]
        # Counts still go by their notices, snapshots of the same phase still by the window:
        # a question answered after the results waits (the fence: the meeting's close, a new phase).
        hall.version = 309
        await layer.group_send(GROUP, {"type": "meeting.changed", "version": 309, "types": ["QuestionAnswered"]})
        hall.version, hall.phase = 310, "closed"
        await layer.group_send(GROUP, {"type": "meeting.changed", "version": 310, "types": ["MeetingClosed"]})
        await until(lambda: shown(screen)[-1] == (310, "closed"))
        assert shown(screen)[-2:] == [(308, "results_announced"), (310, "closed")]

    asyncio.run(scenario())
