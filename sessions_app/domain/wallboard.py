"""The wallboard's figures and how each is defined. Pure: no Django, no I/O; `services/wallboard.py` counts the
rows in SQL and hands the sums to these rules.

Queue figures count the inbound sessions of a skill group that joined its queue today (`queued_at` on or after
the start of the local day); a session transferred to another group counts in the group it was last queued in:
- offered: sessions that joined the group's queue today;
- answered: of those, accepted by an agent;
- abandoned: of those, ended unanswered because the customer gave up (`ABANDONED`: while waiting, or while an
  agent's phone rang). Other unanswered endings (nobody online, the queue's maximum wait, a lost line) are
  neither answered nor abandoned;
- wait: from joining the queue to being accepted (answered) or to the ending (abandoned);
- service level: answered within the group's threshold, as a share of answered plus abandoned after the
  threshold (a customer who gave up sooner is not held against it); none when nothing counts yet;
- average speed of answer (ASA): the mean wait of the answered;
- average handle time (AHT): the mean talk time (accept to end) of the answered that have ended.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

ABANDONED = frozenset({"waitingGiveUp", "ringingGiveUp"})

# The wallboard's agent statuses, in the order the counts are shown. `onCall` and `ringing` are how a free
# agent with a call in progress or ringing is seen; a rest is counted per reason.
BOARD_STATUSES = ("free", "onCall", "ringing", "rest", "notReady", "arrange", "offline")
BOARD_LABELS = {"free": "Free", "onCall": "On a call", "ringing": "Ringing", "rest": "Rest",
                "notReady": "Not ready", "arrange": "After-call work", "offline": "Offline"}


@dataclass(frozen=True)
class QueueDay:
    """A skill group's sums for today, as counted in SQL."""
    offered: int = 0
    answered: int = 0
    answered_within: int = 0  # answered within the group's threshold
    abandoned: int = 0
    abandoned_after: int = 0  # abandoned after waiting longer than the threshold
    answered_wait_seconds: float = 0.0  # the sum of the answered's waits
    handled: int = 0  # answered and ended
    handle_seconds: float = 0.0  # the sum of their talk times


def service_level(day: QueueDay) -> float | None:
    """Percent of the counted sessions answered within the threshold; None when none counts yet."""
    counted = day.answered + day.abandoned_after
    return 100.0 * day.answered_within / counted if counted else None


def average_speed_of_answer(day: QueueDay) -> float | None:
    return day.answered_wait_seconds / day.answered if day.answered else None


def average_handle_time(day: QueueDay) -> float | None:
    return day.handle_seconds / day.handled if day.handled else None


def board_status(stored: str, on_call: bool, ringing: bool) -> str:
    """How the wallboard shows an agent: a free agent is on a call or ringing when one is in progress or
    offered to them (a chat does not make them busy: they take several)."""
    if stored == "free":
        if on_call:
            return "onCall"
        if ringing:
            return "ringing"
    return stored


def start_of_day(local_now: datetime) -> datetime:
    """Midnight of `local_now`'s day, in its time zone."""
    return local_now.replace(hour=0, minute=0, second=0, microsecond=0)
