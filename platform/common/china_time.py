"""The one time zone of the platform: every county keeps China Standard Time.

A meeting's day, a notice's working days, a screen link's end of day and a
county's year are all counted on this clock, whatever the server's zone.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

CHINA_TIME = ZoneInfo("Asia/Shanghai")
