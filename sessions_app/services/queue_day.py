"""Today's figures per skill group for the wallboard (definitions: domain/wallboard.py), counted in SQL and kept
between reads on this process, so that a board read costs as little at the end of a busy day as at its start.

A session's part in today's sums is final once it has ended. The sums over today's sessions that ended before a
line are kept, per tenant, day and set of groups with their thresholds; each read adds, in one query, the
sessions not ended or ended since the line: the open ones and the last few seconds'. Every `FOLD_EVERY` seconds
the line moves up to `LAG` seconds before now, by one query over the sessions ended in between. A session
stamped `ended_at` before the line but committed after that query would be missed: an ending stamps it once it
holds its locks and commits within milliseconds, far less than `LAG`, and the kept sums are also counted afresh
every `RECOUNT_EVERY` seconds, so a miss would last minutes, not the day.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, F, FloatField, Func, Q, Sum
from django.db.models.lookups import GreaterThan, LessThanOrEqual
from django.utils import timezone

from ..domain import wallboard as rules
from ..models import Session, Tenant

LAG = timedelta(seconds=5)
FOLD_EVERY = 2.0
RECOUNT_EVERY = 300.0


class SecondsBetween(Func):
    """Seconds from the first moment to the second, in the database's own arithmetic. Django's datetime
    subtraction runs a Python function per row on SQLite, which made summing a day's sessions cost tens of
    thousands of calls. SQLite's julianday is a double of days, a few tens of microseconds coarse at today's
    dates: rounded to the millisecond, a wait of exactly the threshold stays within it."""

    arity = 2
    output_field = FloatField()

    def _operands(self, compiler):
        (earlier, earlier_params), (later, later_params) = (
            compiler.compile(expression) for expression in self.get_source_expressions())
        return earlier, later, (*later_params, *earlier_params)

    def as_sqlite(self, compiler, connection, **extra):
        earlier, later, params = self._operands(compiler)
        return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)", params

    def as_postgresql(self, compiler, connection, **extra):
        earlier, later, params = self._operands(compiler)
        return f"EXTRACT(EPOCH FROM ({later} - {earlier}))::float", params


def start_of_today(zone: ZoneInfo | None = None) -> datetime:
    """The start of the day now in `zone` (settings.TIME_ZONE if none), from which "today" is counted."""
    return rules.start_of_day(timezone.localtime(timezone=zone))


@dataclass
class _Kept:
    line: datetime  # the sums cover today's sessions that ended before it
    sums: dict[int, rules.QueueDay]
    folded_at: float  # time.monotonic()
    counted_at: float


_kept: dict[tuple, _Kept] = {}
_lock = threading.Lock()  # boards are read on the wallboard's reader thread and on page loads


def today(tenant_id: int, groups: list[dict]) -> dict[int, rules.QueueDay]:
    """Today's sums (in the tenant's time zone) for `groups` (dicts with `pk` and `service_level_seconds`)."""
    if not groups:
        return {}
    zone = ZoneInfo(Tenant.objects.values_list("time_zone", flat=True).get(pk=tenant_id))
    day = start_of_today(zone)
    key = (tenant_id, day, tuple((g["pk"], g["service_level_seconds"]) for g in groups))
    with _lock:
        line, kept = _kept_sums(key, groups, day)
    recent = _sums(groups, Q(queued_at__gte=day), Q(ended_at__isnull=True), Q(ended_at__gte=line))
    return {g["pk"]: _add(kept.get(g["pk"]), recent.get(g["pk"])) for g in groups}


def forget() -> None:
    """Drop every kept sum: the next read counts the day afresh (after the sessions were changed behind the
    lifecycle's back, as tests and restores do)."""
    with _lock:
        _kept.clear()


def _kept_sums(key: tuple, groups: list[dict], day: datetime) -> tuple[datetime, dict[int, rules.QueueDay]]:
    now, clock = timezone.now(), time.monotonic()
    kept = _kept.get(key)
    if kept is None or clock - kept.counted_at >= RECOUNT_EVERY:
        for stale in [k for k in _kept if k[0] == key[0]]:  # another day's or another set of groups'
            del _kept[stale]
        line = now - LAG
        kept = _kept[key] = _Kept(line, _sums(groups, Q(ended_at__lt=line), Q(queued_at__gte=day)), clock, clock)
    elif clock - kept.folded_at >= FOLD_EVERY:
        line = now - LAG
        moved = _sums(groups, Q(queued_at__gte=day), Q(ended_at__gte=kept.line, ended_at__lt=line))
        kept.sums = {pk: _add(kept.sums.get(pk), moved.get(pk)) for pk in kept.sums.keys() | moved.keys()}
        kept.line, kept.folded_at = line, clock
    return kept.line, kept.sums


def _add(a: rules.QueueDay | None, b: rules.QueueDay | None) -> rules.QueueDay:
    if a is None or b is None:
        return a or b or rules.QueueDay()
    return rules.QueueDay(**{f.name: getattr(a, f.name) + getattr(b, f.name) for f in fields(rules.QueueDay)})


def _after_queueing(moment: str):
    """Seconds from joining the queue to `moment` (a column)."""
    return SecondsBetween(F("queued_at"), F(moment))


def _sums(groups: list[dict], counted: Q, *wheres: Q) -> dict[int, rules.QueueDay]:
    """The sums per group over the sessions each of `wheres` selects (disjoint) and `counted` keeps, in one
    query.

    Each of `wheres` holds the one condition an index should serve (open, queued since the day began, ended
    within a span); the other goes in `counted`, the aggregates' filter, so that the database, with no statistics
    to go by (SQLite), cannot pick an index that would walk the group's sessions of every day before."""
    parts = [_grouped(groups, where, counted) for where in wheres]
    sums: dict[int, rules.QueueDay] = {}
    for row in parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]:
        sums[row["skill_group_id"]] = _add(sums.get(row["skill_group_id"]), rules.QueueDay(
            offered=row["offered"], answered=row["answered"], answered_within=row["answered_within"],
            abandoned=row["abandoned"], abandoned_after=row["abandoned_after"],
            answered_wait_seconds=row["answered_wait"] or 0.0,
            handled=row["handled"], handle_seconds=row["handle_seconds"] or 0.0))
    return sums


def _grouped(groups: list[dict], where: Q, counted: Q):
    threshold = F("skill_group__service_level_seconds")
    answered = Q(accepted_at__isnull=False)
    abandoned = Q(accepted_at__isnull=True, state="ended", end_status__in=rules.ABANDONED)
    within = Q(LessThanOrEqual(_after_queueing("accepted_at"), threshold))
    after = Q(GreaterThan(_after_queueing("ended_at"), threshold))
    return (Session.objects
            .filter(where, skill_group_id__in=[g["pk"] for g in groups], direction="in")
            .order_by()
            .values("skill_group_id")
            .annotate(offered=Count("pk", filter=counted), answered=Count("pk", filter=counted & answered),
                      answered_within=Count("pk", filter=counted & answered & within),
                      abandoned=Count("pk", filter=counted & abandoned),
                      abandoned_after=Count("pk", filter=counted & abandoned & after),
                      answered_wait=Sum(_after_queueing("accepted_at"), filter=counted & answered),
                      handled=Count("pk", filter=counted & answered & Q(duration__isnull=False)),
                      handle_seconds=Sum("duration", filter=counted & answered)))
