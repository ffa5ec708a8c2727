"""Reports over a year of a 200-agent center: makes the data with bulk inserts (sessions, who served them, the
agents' status history), then times each report page's figures and its whole page (tables, charts, HTML), and a
read of the tenant's wallboard over that history (which must not grow with it).

    .venv/bin/python bench/reports.py                      # SQLite, a year: ~2 million sessions
    .venv/bin/python bench/reports.py --database postgres  # a throwaway PostgreSQL (testing/postgres_server.py)
    .venv/bin/python bench/reports.py --days 30 --agents 20 --sessions-per-day 500   # a quick look

Target: each report page within 2 s on PostgreSQL and 5 s on SQLite. Set BENCH_WORKDIR to keep the SQLite file.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, time as clock, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ZONE = ZoneInfo("Europe/Berlin")
GROUPS = [("Phone support", "phone"), ("Phone sales", "phone"), ("Web chat", "im"), ("Web audio", "voip")]


def setup_django(database: str, workdir: str):
    """Point Django at a fresh database of the kind asked for, migrated; returns what to stop at the end."""
    server = None
    if database == "postgres":
        from testing.postgres_server import PostgresServer
        server = PostgresServer().start()
        os.environ["DATABASE_URL"] = server.url
    else:
        os.environ.pop("DATABASE_URL", None)
        os.environ["SQLITE_PATH"] = os.path.join(workdir, "reports.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "workbench.settings"
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    return server


def make_center(agents: int, days: int, per_day: int, last_day: date, seed: int = 17):
    """A tenant with four skill groups and `agents` agents, and `days` days of traffic up to `last_day`."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from sessions_app.models import Agent, AgentSkill, AgentStatusChange, ServeParticipant, Session, SkillGroup, Tenant

    rng = random.Random(seed)
    tenant = Tenant.objects.create(name="Benchmark center", sdk_app_id="1700000001", time_zone=ZONE.key)
    groups = [SkillGroup.objects.create(tenant=tenant, name=name, kind=kind) for name, kind in GROUPS]
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"agent{i}@bench", password="!") for i in range(agents)])
    staff = Agent.objects.bulk_create([Agent(tenant=tenant, account=user, user_id=user.username,
                                             nickname=f"Agent {i:03d}") for i, user in enumerate(users)])
    AgentSkill.objects.bulk_create([AgentSkill(agent=a, skill_group=groups[i % len(groups)])
                                    for i, a in enumerate(staff)])
    first_day = last_day - timedelta(days=days - 1)
    started = time.perf_counter()
    counts = {"sessions": 0, "participants": 0, "statusChanges": 0}
    for n in range(days):
        day = first_day + timedelta(days=n)
        opens = datetime.combine(day, clock(8), ZONE)
        sessions, parts, changes = [], [], []
        for _ in range(per_day):
            created = opens + timedelta(seconds=rng.uniform(0, 12 * 3600))
            group = rng.choice(groups)
            wait = rng.expovariate(1 / 15)
            fate = rng.random()
            session = Session(tenant=tenant, type=group.kind, skill_group=group, created_at=created,
                              queued_at=created, state="ended")
            if fate < 0.85:
                agent = rng.choice(staff)
                talk = rng.expovariate(1 / 180)
                session.ring_at = created + timedelta(seconds=wait * 0.8)
                session.accepted_at = created + timedelta(seconds=wait)
                session.ended_at = session.accepted_at + timedelta(seconds=talk)
                session.duration, session.end_status, session.agent = round(talk, 3), "ok", agent
                transferred = fate < 0.03
                parts.append(ServeParticipant(
                    session=session, agent=agent, skill_group=group, sequence=1, ring_at=session.ring_at,
                    accept_at=session.accepted_at, outcome="transferred" if transferred else "ended",
                    end_at=session.ended_at - timedelta(seconds=talk / 2) if transferred else session.ended_at,
                    completed_at=session.ended_at + timedelta(seconds=15)))
                if transferred:
                    parts.append(ServeParticipant(
                        session=session, agent=rng.choice(staff), skill_group=group, sequence=2,
                        ring_at=parts[-1].end_at, accept_at=parts[-1].end_at, end_at=session.ended_at,
                        outcome="ended", completed_at=session.ended_at + timedelta(seconds=15)))
            else:
                session.ended_at = created + timedelta(seconds=wait * 3)
                session.end_status = "waitingGiveUp" if fate < 0.95 else "noSeatOnline"
                session.duration = 0.0
            sessions.append(session)
        for i, agent in enumerate(staff):
            start = opens + timedelta(minutes=(i % 8) * 30)
            moments = [(start, "free", "")]
            lunch = start + timedelta(hours=4)
            moments += [(lunch, "rest", "lunch"), (lunch + timedelta(minutes=45), "free", "")]
            for k in range(per_day * 85 // 100 // agents):  # after-call work after each call taken
                at = start + timedelta(seconds=600 + k * 28800 / max(per_day // agents, 1))
                if lunch - timedelta(minutes=1) < at < lunch + timedelta(minutes=46):
                    continue
                moments += [(at, "arrange", ""), (at + timedelta(seconds=15), "free", "")]
            moments.append((start + timedelta(hours=8, minutes=45), "offline", ""))
            moments.sort(key=lambda m: m[0])
            before = "offline"
            for k, (at, status, reason) in enumerate(moments):
                until = moments[k + 1][0] if k + 1 < len(moments) else None
                changes.append(AgentStatusChange(agent=agent, tenant=tenant, at=at, until=until, from_status=before,
                                                 to_status=status, rest_reason=reason))
                before = status
        # Each day closes its last intervals: the next day's first change does it in the product.
        for change in changes:
            if change.until is None and day < last_day:
                change.until = change.at + timedelta(hours=15, minutes=15)
        with transaction.atomic():
            Session.objects.bulk_create(sessions, batch_size=2000)
            ServeParticipant.objects.bulk_create(parts, batch_size=2000)
            AgentStatusChange.objects.bulk_create(changes, batch_size=2000)
        counts["sessions"] += len(sessions)
        counts["participants"] += len(parts)
        counts["statusChanges"] += len(changes)
        if n % 30 == 29 or n == days - 1:
            print(f"  day {n + 1}/{days}: {counts} in {time.perf_counter() - started:.0f} s", flush=True)
    return tenant, counts


def timed(action, repeat: int = 3) -> dict:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return {"first": round(times[0], 3), "median": round(statistics.median(times), 3)}


def time_wallboard(tenant) -> dict:
    """A read of the wallboard's board, before the database has statistics to plan by (as SQLite never has in
    a deployment): its indexes alone must keep it off the year's sessions."""
    from sessions_app.services.wallboard import board

    read = timed(lambda: board(tenant.pk), repeat=20)
    print(f"  wallboard read over the year's sessions: first {read['first'] * 1000:.1f} ms, "
          f"median {read['median'] * 1000:.1f} ms", flush=True)
    return read


def time_reports(tenant, last_day: date, days: int) -> dict:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    from sessions_app.services import reports
    from sessions_app.ui.reports import tables

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # both databases plan by the statistics it gathers
    root, _ = get_user_model().objects.get_or_create(username="bench-root", defaults={"is_staff": True,
                                                                                      "is_superuser": True})
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(root)
    agent = tenant.agents.order_by("pk").first()
    group = tenant.skill_groups.order_by("pk").first()
    cases = {
        "last 7 days by day": (last_day - timedelta(days=6), "day", {}),
        "last 31 days by day": (last_day - timedelta(days=30), "day", {}),
        "whole range by week": (last_day - timedelta(days=days - 1), "week", {}),
        "whole range by day, one group": (last_day - timedelta(days=days - 1), "day", {"skill_group": group.pk}),
        "whole range by day, one agent": (last_day - timedelta(days=days - 1), "day", {"agent": agent.pk}),
        "whole range by day": (last_day - timedelta(days=days - 1), "day", {}),
    }
    from sessions_app.models import ReportDay

    results = {}
    print("  nothing kept yet (each case summed from the sessions):", flush=True)
    for name, (first, grouping, extra) in cases.items():
        ids = {"skill_group_id": extra.get("skill_group"), "agent_id": extra.get("agent")}
        ReportDay.objects.all().delete()
        cold = timed(lambda: reports.report(tenant, first, last_day, grouping, **ids), repeat=1)["first"]
        results[name] = {"figuresNothingKept": cold}
        print(f"  {name:34} figures {cold:6.2f} s", flush=True)
    ReportDay.objects.all().delete()
    kept = timed(lambda: reports.keep_days(tenant, days + 3), repeat=1)["first"]
    results["keep_report_days"] = kept
    print(f"  keep_report_days over {days} days: {kept:.1f} s; then, with the days kept:", flush=True)
    for name, (first, grouping, extra) in cases.items():
        ids = {"skill_group_id": extra.get("skill_group"), "agent_id": extra.get("agent")}
        figures = timed(lambda: reports.report(tenant, first, last_day, grouping, **ids))
        built = reports.report(tenant, first, last_day, grouping, **ids)
        laid_out = timed(lambda: tables(built))
        query = {"tenant": tenant.pk, "first": first.isoformat(), "last": last_day.isoformat(), "grouping": grouping,
                 **extra}
        page = timed(lambda: client.get("/admin/reports/", query))
        response = client.get("/admin/reports/", query)
        assert response.status_code == 200, response.status_code
        results[name].update(figures=figures, tables=laid_out, page=page, pageKB=len(response.content) // 1024)
        print(f"  {name:34} figures {figures['median']:6.2f} s   tables {laid_out['median']:6.2f} s   "
              f"page {page['median']:6.2f} s ({results[name]['pageKB']} KB)", flush=True)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--sessions-per-day", type=int, default=5480, help="5480 a day: 2 million a year")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--reuse", action="store_true",
                        help="time the center already in BENCH_WORKDIR's SQLite file instead of making one")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # a stopped run still stops its PostgreSQL
    workdir = os.environ.get("BENCH_WORKDIR") or tempfile.mkdtemp(prefix="tccc-bench-reports-")
    server = setup_django(args.database, workdir)
    try:
        last_day = date(2026, 11, 30)
        print(f"reusing the center in {workdir}, {args.days} days" if args.reuse else
              f"making {args.days} days of {args.agents} agents, {args.sessions_per_day} sessions a day "
              f"({args.database})", flush=True)
        started = time.perf_counter()
        if args.reuse:
            from sessions_app.models import Tenant
            tenant, counts = Tenant.objects.get(sdk_app_id="1700000001"), {}
        else:
            tenant, counts = make_center(args.agents, args.days, args.sessions_per_day, last_day)
        made = round(time.perf_counter() - started)
        print(f"made in {made} s; timing reports (with days kept: median of 3)", flush=True)
        results = {"database": args.database, "rows": counts, "madeSeconds": made,
                   "wallboard": time_wallboard(tenant), "reports": time_reports(tenant, last_day, args.days)}
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
