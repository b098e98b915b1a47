"""The per-socket frame budget of the live layer (live.flood): a token bucket on a given clock."""

from live.flood import BURST, PER_SECOND, FrameBudget


def test_a_burst_is_allowed_and_the_frame_after_it_is_not() -> None:
    budget = FrameBudget(now=0.0)
    assert all(budget.take(0.0) for _ in range(BURST))
    assert not budget.take(0.0)


def test_the_bucket_refills_at_its_rate_and_never_beyond_the_burst() -> None:
    budget = FrameBudget(now=0.0)
    for _ in range(BURST):
        budget.take(0.0)
    assert not budget.take(0.1)  # half a frame's worth of refill
    assert budget.take(1.0 / PER_SECOND + 0.01)
    # An hour of quiet gives back the burst, not an hour's worth of frames.
    later = 3600.0
    assert sum(budget.take(later) for _ in range(BURST * 10)) == BURST


def test_a_steady_honest_pace_is_never_refused() -> None:
    # A ping every 15 s plus a resync for each of 20 counts in a second, every minute.
    budget = FrameBudget(now=0.0)
    now = 0.0
    for minute in range(30):
        for i in range(20):
            assert budget.take(minute * 60 + i * 0.05)
        for ping in range(4):
            now = minute * 60 + ping * 15 + 1.5
            assert budget.take(now)


def test_a_clock_that_goes_back_gives_no_frames() -> None:
    budget = FrameBudget(now=100.0)
    for _ in range(BURST):
        budget.take(100.0)
    assert not budget.take(50.0)
