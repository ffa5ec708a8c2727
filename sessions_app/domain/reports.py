"""Report rules, pure: which periods a date range splits into in a tenant's time zone, and how the sums the
database returns become the figures supervisors read (service level, averages), for one row or combined rows.

Figures are kept as sums and counts, not averages, so that rows combine exactly: the total of a range is the
combination of its days, and a group's total the combination of its periods.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

GROUPINGS = ("day", "week")
MAX_DAYS = 400  # a year and a bit: a longer range is refused rather than left to run for minutes


class RangeRefused(ValueError):
    """The dates asked for do not make a report."""


@dataclass(frozen=True)
class Period:
    """One row of a report's time axis: local days `first`..`last`, as UTC instants [starts, ends)."""
    first: date
    last: date
    starts: datetime
    ends: datetime

    @property
    def label(self) -> str:
        return self.first.isoformat() if self.first == self.last else f"{self.first.isoformat()} – {self.last.isoformat()}"


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant the local day begins, in UTC (a day of a DST change is 23 or 25 hours long)."""
    return datetime.combine(day, time(0), zone).astimezone(timezone.utc)


def periods(first: date, last: date, grouping: str, zone: ZoneInfo) -> list[Period]:
    """Days, or weeks from Monday clipped to the range, covering `first`..`last` (both included) in `zone`."""
    if grouping not in GROUPINGS:
        raise RangeRefused(f"group by {' or '.join(GROUPINGS)}, not {grouping!r}")
    if last < first:
        raise RangeRefused("the range ends before it starts")
    if (last - first).days + 1 > MAX_DAYS:
        raise RangeRefused(f"a report covers at most {MAX_DAYS} days")
    result, day = [], first
    while day <= last:
        end = day if grouping == "day" else min(last, day + timedelta(days=6 - day.weekday()))
        result.append(Period(day, end, _midnight(day, zone), _midnight(end + timedelta(days=1), zone)))
        day = end + timedelta(days=1)
    return result


@dataclass
class QueueFigures:
    """A skill group's sessions (or several groups', or several periods'): counts and sums of seconds."""
    offered: int = 0
    answered: int = 0
    answered_within: int = 0  # answered within the group's service-level threshold
    wait_seconds: float = 0.0  # summed over answered sessions: speed of answer
    talk_seconds: float = 0.0  # summed over answered, ended sessions
    talked: int = 0  # answered sessions that have ended (talk known)
    longest_wait: float = 0.0
    transfers: int = 0
    after_call_work_seconds: float = 0.0  # summed over the serving agents' finished after-call work
    wrapped_up: int = 0  # agents' parts with after-call work finished
    abandoned: dict[str, int] = field(default_factory=dict)  # end status -> count, never answered

    @property
    def abandoned_total(self) -> int:
        return sum(self.abandoned.values())

    @property
    def service_level(self) -> float | None:
        """Share of offered sessions answered within the threshold, in percent; None when none was offered."""
        return 100.0 * self.answered_within / self.offered if self.offered else None

    @property
    def average_speed_of_answer(self) -> float | None:
        return self.wait_seconds / self.answered if self.answered else None

    @property
    def average_talk(self) -> float | None:
        return self.talk_seconds / self.talked if self.talked else None

    @property
    def average_after_call_work(self) -> float | None:
        return self.after_call_work_seconds / self.wrapped_up if self.wrapped_up else None

    @property
    def average_handle(self) -> float | None:
        """Average talk plus average after-call work (hold is not recorded apart: it is part of talk)."""
        if self.average_talk is None:
            return None
        return self.average_talk + (self.average_after_call_work or 0.0)

    def add(self, other: QueueFigures) -> QueueFigures:
        abandoned = dict(self.abandoned)
        for status, count in other.abandoned.items():
            abandoned[status] = abandoned.get(status, 0) + count
        return QueueFigures(self.offered + other.offered, self.answered + other.answered,
                            self.answered_within + other.answered_within, self.wait_seconds + other.wait_seconds,
                            self.talk_seconds + other.talk_seconds, self.talked + other.talked,
                            max(self.longest_wait, other.longest_wait), self.transfers + other.transfers,
                            self.after_call_work_seconds + other.after_call_work_seconds,
                            self.wrapped_up + other.wrapped_up, abandoned)


@dataclass
class AgentFigures:
    """One agent's offers and sessions, and seconds in each status (status, or "rest: reason")."""
    offered: int = 0
    answered: int = 0
    talk_seconds: float = 0.0
    talked: int = 0
    transfers: int = 0
    status_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def average_talk(self) -> float | None:
        return self.talk_seconds / self.talked if self.talked else None

    @property
    def after_call_work_seconds(self) -> float:
        return self.status_seconds.get("arrange", 0.0)

    @property
    def average_handle(self) -> float | None:
        """Talk plus after-call work, per session answered and ended."""
        return (self.talk_seconds + self.after_call_work_seconds) / self.talked if self.talked else None

    def add(self, other: AgentFigures) -> AgentFigures:
        seconds = dict(self.status_seconds)
        for status, value in other.status_seconds.items():
            seconds[status] = seconds.get(status, 0.0) + value
        return AgentFigures(self.offered + other.offered, self.answered + other.answered,
                            self.talk_seconds + other.talk_seconds, self.talked + other.talked,
                            self.transfers + other.transfers, seconds)


def status_key(status: str, rest_reason: str) -> str:
    """Rest is split by its reason: "rest: lunch"."""
    return f"rest: {rest_reason}" if status == "rest" and rest_reason else status


@dataclass
class DayFigures:
    """One local day's figures: each skill group's and each agent's, by id. Kept as JSON once the day settled."""
    queues: dict[int, QueueFigures] = field(default_factory=dict)
    agents: dict[int, AgentFigures] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"queues": {str(pk): asdict(f) for pk, f in self.queues.items()},
                "agents": {str(pk): asdict(f) for pk, f in self.agents.items()}}

    @classmethod
    def from_json(cls, data: dict) -> DayFigures:
        return cls({int(pk): QueueFigures(**f) for pk, f in data["queues"].items()},
                   {int(pk): AgentFigures(**f) for pk, f in data["agents"].items()})
