"""Phone number rules, pure: caller location by prefix, and whether an outbound call may be placed now.
No Django, no I/O: callers pass in the tables, counts and clock."""
from __future__ import annotations

import re
from datetime import time

NUMBER_PATTERN = re.compile(r"\+?[0-9]{3,32}")


def digits(number: str) -> str:
    """A number as dialled: digits only (a leading + becomes 00, the international prefix)."""
    number = number.strip()
    return ("00" + number[1:] if number.startswith("+") else number).translate(str.maketrans("", "", " -()."))


def location(number: str, prefixes: dict[str, str]) -> str:
    """The location of the longest prefix of `number` in `prefixes` ("" when none matches)."""
    number = digits(number)
    for end in range(len(number), 0, -1):
        found = prefixes.get(number[:end])
        if found:
            return found
    return ""


def within_hours(now: time, start: time, end: time) -> bool:
    """Whether `now` is inside the calling hours [start, end); hours past midnight (22:00-06:00) wrap, and
    start == end means all day."""
    if start == end:
        return True
    if start < end:
        return start <= now < end
    return now >= start or now < end


def outbound_refusal(number: str, now: time, start: time, end: time, last_5_minutes: int, last_day: int,
                     per_5_minutes: int, per_day: int) -> str | None:
    """Why an outbound call to `number` may not be placed now (the errorMsg), or None if it may."""
    if not within_hours(now, start, end):
        return f"outside calling hours ({start:%H:%M}-{end:%H:%M}): no outbound calls now"
    if last_5_minutes >= per_5_minutes:
        return f"{number} was called {last_5_minutes} times in the last 5 minutes (at most {per_5_minutes})"
    if last_day >= per_day:
        return f"{number} was called {last_day} times in the last 24 hours (at most {per_day})"
    return None
