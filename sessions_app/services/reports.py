"""Report figures: for a tenant and a date range, by day or week, each skill group's queue figures and each
agent's sessions and time in each status. The database sums each local day (one query per figure family, whatever
the range), Python only combines the sums (`domain/reports.py`). Read-only but for its own cache: a settled day's
sums are kept (`ReportDay`) and never summed again, so a service-level threshold changed later applies to the
days not kept yet.

Which instants count:
- a session counts on the local day it began (`created_at`), in the skill group it ended in, if it ever queued;
- its wait is from the queue to the answer (or to its end, or now, if never answered); a session handed to a
  group after it was answered is queued anew, so its wait is counted from its first ring;
- talk is from answer to end (hold is part of it: it is not recorded apart); after-call work per session is from
  the agent's part ending to its work finished (`ServeParticipant.completed_at`), per agent from the status
  history (time in `arrange`);
- an agent's offers, answers and transfers count on the day they rang; time in status is cut at period edges.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Max
from django.utils import timezone

from ..domain import end_status, reports as rules
from ..domain.reports import AgentFigures, DayFigures, Period, QueueFigures
from ..models import Agent, AgentStatusChange, ReportDay, ServeParticipant, Session, SkillGroup, Tenant, found
from .errors import NotFound

SETTLED_AFTER = timedelta(days=2)  # a day this long over, with no session open, is kept (ReportDay)
DAYS_PER_PASS = 31  # days summed per set of queries: a year in one set sorts its groups ~3x slower on SQLite

SESSION = Session._meta.db_table
PARTICIPANT = ServeParticipant._meta.db_table
AGENT = Agent._meta.db_table
STATUS_CHANGE = AgentStatusChange._meta.db_table


@dataclass(frozen=True)
class Report:
    tenant: Tenant
    periods: list[Period]
    groups: dict[int, SkillGroup]
    agents: dict[int, Agent]
    queues: dict[tuple[int, int], QueueFigures]  # (period index, group id)
    agent_figures: dict[tuple[int, int], AgentFigures]  # (period index, agent id)


def report(tenant: Tenant, first: date, last: date, grouping: str, *, skill_group_id: int | None = None,
           agent_id: int | None = None, now: datetime | None = None) -> Report:
    """The figures of `tenant` for local days `first`..`last`, by `grouping` (day, week); optionally one group's
    sessions or one agent's figures only. Raises `domain.reports.RangeRefused` for a range that makes none."""
    zone = ZoneInfo(tenant.time_zone)
    periods = rules.periods(first, last, grouping, zone)
    now = now or timezone.now()
    groups = {g.pk: g for g in SkillGroup.objects.filter(tenant=tenant).order_by("name")
              if skill_group_id is None or g.pk == skill_group_id}
    agents = {a.pk: a for a in Agent.objects.filter(tenant=tenant).order_by("nickname", "user_id")
              if agent_id is None or a.pk == agent_id}
    days = day_figures(tenant, rules.periods(first, last, "day", zone), now)
    queues: dict[tuple[int, int], QueueFigures] = {}
    figures: dict[tuple[int, int], AgentFigures] = {}
    period_of = {period.first + timedelta(days=n): i for i, period in enumerate(periods)
                 for n in range((period.last - period.first).days + 1)}
    for day, one in days.items():
        i = period_of[day]
        for pk, group_figures in one.queues.items():
            if pk in groups:
                queues[(i, pk)] = queues[(i, pk)].add(group_figures) if (i, pk) in queues else group_figures
        for pk, agent_figures in one.agents.items():
            if pk in agents:
                figures[(i, pk)] = figures[(i, pk)].add(agent_figures) if (i, pk) in figures else agent_figures
    return Report(tenant, periods, groups, agents, queues, figures)


def day_figures(tenant: Tenant, days: list[Period], now: datetime) -> dict[date, DayFigures]:
    """Each local day's figures: kept ones read back, the others summed in one pass per figure family. A day is
    kept once it ended `SETTLED_AFTER` ago with none of its sessions still open: nothing changes it after that
    (writing this cache is the only write of this module)."""
    kept = {row.day: DayFigures.from_json(row.figures) for row in ReportDay.objects.filter(
        tenant=tenant, time_zone=tenant.time_zone, day__gte=days[0].first, day__lte=days[-1].last)}
    missing = [day for day in days if day.first not in kept]
    groups = {g.pk: g for g in SkillGroup.objects.filter(tenant=tenant)}
    for start in range(0, len(missing), DAYS_PER_PASS):
        kept.update(_sum_days(tenant, groups, missing[start:start + DAYS_PER_PASS], now))
    return kept


def _sum_days(tenant: Tenant, groups: dict[int, SkillGroup], days: list[Period], now: datetime) -> dict:
    """Sum `days` from the sessions and the status history, and keep those settled."""
    query = _Query(connection, days, now)
    queues, still_open = _queue_figures(query, tenant, groups) if groups else ({}, set())
    agents = _agent_figures(query, tenant)
    summed = {day.first: DayFigures() for day in days}
    for (idx, pk), one in queues.items():
        summed[days[idx].first].queues[pk] = one
    for (idx, pk), one in agents.items():
        summed[days[idx].first].agents[pk] = one
    settled = [ReportDay(tenant=tenant, time_zone=tenant.time_zone, day=day.first, figures=summed[day.first].to_json())
               for idx, day in enumerate(days) if day.ends + SETTLED_AFTER <= now and idx not in still_open]
    ReportDay.objects.bulk_create(settled, ignore_conflicts=True)
    return summed


class _Query:
    """SQL shared by the report's queries on either database: the periods as a table (a CTE), seconds between
    two instants, the smaller and larger of two, and instants as the database's parameters."""

    def __init__(self, conn, periods: list[Period], now: datetime):
        self.conn = conn
        self.postgres = conn.vendor == "postgresql"
        self.now = self.instant(now)
        # The whole span as constants too: PostgreSQL plans an index range scan from them, not from the CTE.
        self.starts, self.ends = self.instant(periods[0].starts), self.instant(periods[-1].ends)
        rows = ", ".join("(%s, %s, %s)" for _ in periods)
        self.periods_cte = f"periods (idx, starts, ends) AS (VALUES {rows})"
        self.periods_params = [v for i, p in enumerate(periods) for v in (i, self.instant(p.starts), self.instant(p.ends))]

    def instant(self, moment: datetime):
        return self.conn.ops.adapt_datetimefield_value(moment)

    def seconds(self, later: str, earlier: str) -> str:
        if self.postgres:
            return f"EXTRACT(EPOCH FROM ({later}) - ({earlier}))"
        # julianday is a double of days: off by some microseconds, so rounded to SQLite's milliseconds.
        return f"ROUND((julianday({later}) - julianday({earlier})) * 86400.0, 3)"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.postgres else f"MIN({a}, {b})"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.postgres else f"MAX({a}, {b})"

    def rows(self, sql: str, params: list) -> list[tuple]:
        # CROSS JOIN keeps the periods the outer loop on SQLite: one index range scan per period.
        with self.conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


def _queue_figures(q: _Query, tenant: Tenant, groups: dict[int, SkillGroup]) -> tuple[dict, set[int]]:
    """One pass over the tenant's sessions of the periods, one over their agents' parts (transfers, after-call
    work); and the periods that have sessions still open."""
    thresholds = ", ".join("(%s, %s)" for _ in groups)
    threshold_params = [v for pk, g in groups.items() for v in (pk, g.service_level_seconds)]
    first_queued = "(CASE WHEN s.ring_at < s.queued_at THEN s.ring_at ELSE s.queued_at END)"
    wait = q.seconds("s.accepted_at", first_queued)
    waited = q.seconds("COALESCE(s.accepted_at, s.ended_at, %s)", first_queued)
    talked = "s.accepted_at IS NOT NULL AND s.duration IS NOT NULL AND s.state = 'ended'"
    unanswered = "s.accepted_at IS NULL AND s.state = 'ended'"
    still_open: set[int] = set()
    statuses = [status for status in end_status.CODES if status != "ok"]
    by_status = "".join(f", SUM(CASE WHEN {unanswered} AND s.end_status = %s THEN 1 ELSE 0 END)" for _ in statuses)
    figures: dict[tuple[int, int], QueueFigures] = {}
    with_ = f"WITH {q.periods_cte}, thresholds (group_id, seconds) AS (VALUES {thresholds}) "
    params = q.periods_params + threshold_params
    for idx, group_id, open_now, offered, answered, within, wait_sum, talk_sum, talked, longest, abandoned, *counts in q.rows(
            f"{with_}SELECT p.idx, s.skill_group_id, SUM(CASE WHEN s.state = 'ended' THEN 0 ELSE 1 END), "
            "COUNT(*), COUNT(s.accepted_at), "
            f"SUM(CASE WHEN s.accepted_at IS NOT NULL AND {wait} <= "
            "(SELECT t.seconds FROM thresholds t WHERE t.group_id = s.skill_group_id) THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN s.accepted_at IS NOT NULL THEN {wait} ELSE 0 END), "
            f"SUM(CASE WHEN {talked} THEN s.duration ELSE 0 END), "
            f"SUM(CASE WHEN {talked} THEN 1 ELSE 0 END), MAX({waited}), "
            f"SUM(CASE WHEN {unanswered} THEN 1 ELSE 0 END){by_status} "
            f"FROM periods p CROSS JOIN {SESSION} s "
            "WHERE s.tenant_id = %s AND s.created_at >= p.starts AND s.created_at < p.ends "
            "AND s.created_at >= %s AND s.created_at < %s "
            "AND s.queued_at IS NOT NULL AND s.skill_group_id IN (SELECT group_id FROM thresholds) "
            "GROUP BY p.idx, s.skill_group_id",
            params + [q.now] + statuses + [tenant.pk, q.starts, q.ends]):
        if open_now:
            still_open.add(idx)
        split = {status: count for status, count in zip(statuses, counts) if count}
        if abandoned > sum(split.values()):
            split["other"] = abandoned - sum(split.values())
        figures[(idx, group_id)] = QueueFigures(offered, answered, within, float(wait_sum or 0), float(talk_sum or 0),
                                                talked, float(longest or 0), abandoned=split)
    wrapped = "sp.outcome = 'ended' AND sp.accept_at IS NOT NULL AND sp.completed_at IS NOT NULL"
    for idx, group_id, transfers, work, wrapped_up in q.rows(
            f"{with_}SELECT p.idx, s.skill_group_id, "
            "SUM(CASE WHEN sp.outcome = 'transferred' THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {wrapped} THEN {q.seconds('sp.completed_at', 'sp.end_at')} ELSE 0 END), "
            f"SUM(CASE WHEN {wrapped} THEN 1 ELSE 0 END) "
            f"FROM periods p CROSS JOIN {SESSION} s JOIN {PARTICIPANT} sp ON sp.session_id = s.id "
            "WHERE s.tenant_id = %s AND s.created_at >= p.starts AND s.created_at < p.ends "
            "AND s.created_at >= %s AND s.created_at < %s "
            "AND s.queued_at IS NOT NULL AND s.skill_group_id IN (SELECT group_id FROM thresholds) "
            "AND (sp.outcome = 'transferred' OR sp.completed_at IS NOT NULL) "
            "AND sp.ring_at >= %s "  # a session's agents rang after it began: a range for the planner
            "GROUP BY p.idx, s.skill_group_id", params + [tenant.pk, q.starts, q.ends, q.starts]):
        row = figures.setdefault((idx, group_id), QueueFigures())
        row.transfers, row.after_call_work_seconds, row.wrapped_up = transfers, float(work or 0), wrapped_up
    return figures, still_open


def _agent_figures(q: _Query, tenant: Tenant) -> dict:
    """One pass over the agents' parts in sessions (by the day they rang), one over their status history."""
    figures: dict[tuple[int, int], AgentFigures] = {}
    talked = "sp.accept_at IS NOT NULL AND sp.end_at IS NOT NULL"
    for idx, pk, offered, answered, talk, talked_count, transfers in q.rows(
            f"WITH {q.periods_cte} SELECT p.idx, sp.agent_id, COUNT(*), COUNT(sp.accept_at), "
            f"SUM(CASE WHEN {talked} THEN {q.seconds('sp.end_at', 'sp.accept_at')} ELSE 0 END), "
            f"SUM(CASE WHEN {talked} THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN sp.outcome = 'transferred' THEN 1 ELSE 0 END) "
            f"FROM periods p CROSS JOIN {AGENT} a CROSS JOIN {PARTICIPANT} sp "
            "WHERE a.tenant_id = %s AND sp.agent_id = a.id AND sp.ring_at >= p.starts AND sp.ring_at < p.ends "
            "AND sp.ring_at >= %s AND sp.ring_at < %s GROUP BY p.idx, sp.agent_id",
            q.periods_params + [tenant.pk, q.starts, q.ends]):
        figures[(idx, pk)] = AgentFigures(offered, answered, float(talk or 0), talked_count, transfers)
    for idx, pk, status, reason, seconds in _status_seconds(q, tenant):
        key = rules.status_key(status, reason)
        seconds_by_status = figures.setdefault((idx, pk), AgentFigures()).status_seconds
        seconds_by_status[key] = seconds_by_status.get(key, 0.0) + max(0.0, float(seconds or 0))
    return figures


def _status_seconds(q: _Query, tenant: Tenant) -> list[tuple]:
    """Seconds per period, agent, status and rest reason: the intervals that begin within each period, and the one
    each agent was in when the period began (its latest change before), each cut at the period's edges and now.
    Each part is an index range or an index probe per agent: the history before the range is never scanned."""
    latest_before = (f"SELECT b.id FROM {STATUS_CHANGE} b WHERE b.agent_id = a.id AND b.at < p.starts "
                     "ORDER BY b.at DESC, b.id DESC LIMIT 1")
    columns = "p.idx, c.agent_id, c.to_status, c.rest_reason, c.at, c.until, p.starts, p.ends"
    ends = q.least("COALESCE(pieces.until, %s)", "pieces.ends")
    return q.rows(
        f"WITH {q.periods_cte}, pieces (idx, agent_id, to_status, rest_reason, at, until, starts, ends) AS ("
        f"SELECT {columns} FROM periods p CROSS JOIN {STATUS_CHANGE} c "
        "WHERE c.tenant_id = %s AND c.at >= p.starts AND c.at < p.ends AND c.at < %s AND c.at >= %s AND c.at < %s "
        f"UNION ALL SELECT {columns} FROM periods p CROSS JOIN {AGENT} a CROSS JOIN {STATUS_CHANGE} c "
        f"WHERE a.tenant_id = %s AND p.starts < %s AND c.id = ({latest_before}) "
        "AND (c.until > p.starts OR c.until IS NULL)) "
        "SELECT idx, agent_id, to_status, rest_reason, "
        f"SUM({q.seconds(ends, q.greatest('pieces.at', 'pieces.starts'))}) FROM pieces "
        "GROUP BY idx, agent_id, to_status, rest_reason",
        q.periods_params + [tenant.pk, q.now, q.starts, q.ends, tenant.pk, q.now, q.now])


def keep_days(tenant: Tenant, days: int, *, now: datetime | None = None) -> int:
    """Sum and keep the tenant's settled days among the last `days` local days, so that the first report over a
    long range reads kept days too. Returns how many days of that span are kept now."""
    now = now or timezone.now()
    zone = ZoneInfo(tenant.time_zone)
    last = (now - SETTLED_AFTER).astimezone(zone).date() - timedelta(days=1)
    first = start = last - timedelta(days=days - 1)
    while start <= last:
        end = min(last, start + timedelta(days=rules.MAX_DAYS - 1))
        day_figures(tenant, rules.periods(start, end, "day", zone), now)
        start = end + timedelta(days=1)
    return ReportDay.objects.filter(tenant=tenant, time_zone=tenant.time_zone, day__gte=first, day__lte=last).count()


def agents_today(tenant: Tenant, *, now: datetime | None = None) -> dict[int, AgentFigures]:
    """Each agent's figures of the tenant's local day so far (as the report's day row: offers, talk, seconds in
    each status cut at now), by agent id; an agent with none is absent."""
    now = now or timezone.now()
    zone = ZoneInfo(tenant.time_zone)
    today = now.astimezone(zone).date()
    return day_figures(tenant, rules.periods(today, today, "day", zone), now)[today].agents


def last_online(tenant: Tenant) -> dict[int, datetime]:
    """When each agent of the tenant last came online (their latest change from offline), by agent id."""
    return dict(AgentStatusChange.objects.filter(tenant=tenant, from_status="offline").exclude(to_status="offline")
                .order_by().values("agent_id").annotate(latest=Max("at")).values_list("agent_id", "latest"))


def status_history(tenant: Tenant, user_id: str, starts: datetime, ends: datetime, *, after_id: int = 0,
                   limit: int = 100) -> tuple[Agent, list[AgentStatusChange]]:
    """The tenant's agent `user_id` and their status changes from `starts` to `ends` (excluded), oldest first,
    those after the change `after_id` (a page's cursor), at most `limit`. NotFound: no such agent there."""
    agent = found(Agent.objects.filter(tenant=tenant, user_id=user_id))
    if agent is None:
        raise NotFound(f"no agent {user_id!r} in SdkAppId {tenant.sdk_app_id}")
    return agent, list(AgentStatusChange.objects.filter(agent=agent, at__gte=starts, at__lt=ends, id__gt=after_id)
                       .order_by("id")[:limit])
