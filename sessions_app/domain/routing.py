"""Routing policy: in which order the free agents of a skill group are offered a session. Pure.

Agents who already let this session ring out (or rejected it) go last, so the next agent is tried first,
but a group with a single agent still gets its session offered again rather than stranding it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

STRATEGIES = ("longest_idle", "round_robin", "fewest_served", "skill_priority")
_EPOCH = datetime(1970, 1, 1)


@dataclass(frozen=True)
class Candidate:
    agent_id: int
    available_since: datetime | None
    last_offered_at: datetime | None
    served_today: int
    priority: int


def _naive(moment: datetime | None) -> datetime:
    return moment.replace(tzinfo=None) if moment else _EPOCH


# What each strategy orders by, best first (ties broken by the next key). The database pre-selects a short
# list in this order, and `rank` orders the candidates it is given the same way.
ORDER_KEYS = {
    "longest_idle": ("available_since", "agent_id"),
    "round_robin": ("last_offered_at", "agent_id"),
    "fewest_served": ("served_today", "available_since", "agent_id"),
    "skill_priority": ("priority", "available_since", "agent_id"),
}


def _sortable(value):
    return _naive(value) if value is None or isinstance(value, datetime) else value


def rank(strategy: str, candidates: list[Candidate], tried: dict[int, datetime] | None = None) -> list[int]:
    """Agent ids in the order they should be offered the session."""
    tried = tried or {}
    if strategy not in ORDER_KEYS:
        raise ValueError(f"unknown routing strategy {strategy!r}")

    def by_strategy(c: Candidate):
        return tuple(_sortable(getattr(c, key)) for key in ORDER_KEYS[strategy])

    fresh = sorted((c for c in candidates if c.agent_id not in tried), key=by_strategy)
    again = sorted((c for c in candidates if c.agent_id in tried), key=lambda c: _naive(tried[c.agent_id]))
    return [c.agent_id for c in fresh + again]
