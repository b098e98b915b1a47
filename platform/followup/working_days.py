"""Working days for notice periods: Monday to Friday in China's time zone.

A period of N working days that starts at `start` ends at midnight (China
time) after the N-th working day that follows the day of `start`: a notice
published on a Friday afternoon with 5 working days runs until the end of
the next Friday.

Public holidays are NOT skipped. China's statutory holidays, and the
weekend days that are made working days in exchange (调休), are set by the
State Council each year; the platform holds no calendar of them rather than
guessing one. A county that publishes across a holiday sets a longer period
on the notice (the form allows it), and the period's end is printed on the
notice so nobody has to compute it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from common.china_time import CHINA_TIME


def is_working_day(day: date) -> bool:
    return day.weekday() < 5  # Saturday is 5, Sunday 6


def period_end(start: datetime, working_days: int) -> datetime:
    """The moment a period of `working_days` working days, starting at `start`, is over (aware, China time)."""
    if working_days < 1:
        raise ValueError("a period has at least one working day")
    day = start.astimezone(CHINA_TIME).date()
    counted = 0
    while counted < working_days:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return datetime.combine(day + timedelta(days=1), time(0, 0), tzinfo=CHINA_TIME)
