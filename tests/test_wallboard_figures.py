"""The wallboard's figures (services/wallboard.py, rules in domain/wallboard.py) against a day worked by hand."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sessions_app.domain import wallboard as rules
from sessions_app.models import Session
from sessions_app.services import queue_day
from sessions_app.services.queue_day import SecondsBetween, start_of_today
from sessions_app.services.wallboard import board

from . import factories

pytestmark = pytest.mark.service


def session(group, **fields):
    return Session.objects.create(tenant=group.tenant, skill_group=group, type=group.kind, **fields)


def ended(group, queued_at, waited, *, accepted: bool, talk=0.0, end_status="ok"):
    """A session that joined the queue at `queued_at` and was accepted (or ended unanswered) `waited` s later."""
    after = queued_at + timedelta(seconds=waited)
    return session(group, state="ended", queued_at=queued_at, accepted_at=after if accepted else None,
                   ended_at=after + timedelta(seconds=talk), duration=talk if accepted else None,
                   end_status=end_status if not accepted else "ok")


@pytest.fixture
def day(db):
    """A group with a 20 s threshold: six sessions served or lost today, three live, and some that do not count."""
    tenant = factories.tenant()
    sales = factories.skill_group(tenant, name="Sales", service_level_seconds=20)
    an_hour_ago = timezone.now() - timedelta(hours=1)
    alice, bob, carol, dan, eve = (
        factories.agent(tenant, sales, nickname=name, status=status, status_since=an_hour_ago)
        for name, status in [("Alice", "free"), ("Bob", "free"), ("Carol", "rest"), ("Dan", "offline"),
                             ("Eve", "free")])
    carol.rest_reason = "Lunch"
    carol.save()
    fay = factories.agent(tenant, nickname="Fay", status="arrange")
    base = start_of_today() + timedelta(hours=1)
    now = timezone.now()
    ended(sales, base, 10, accepted=True, talk=100)  # answered within
    ended(sales, base, 30, accepted=True, talk=200)  # answered after
    ended(sales, base, 5, accepted=False, end_status="waitingGiveUp")  # abandoned before the threshold
    ended(sales, base, 40, accepted=False, end_status="ringingGiveUp")  # abandoned after it
    ended(sales, base, 300, accepted=False, end_status="notAnswer")  # the queue's maximum wait: neither
    talking = session(sales, state="active", agent=alice, queued_at=now - timedelta(seconds=80),
                      accepted_at=now - timedelta(seconds=60), caller_phone_number="+8613800000001")  # within (20 s)
    session(sales, state="queued", queued_at=now - timedelta(seconds=50))
    session(sales, state="queued", queued_at=now - timedelta(seconds=10))
    offer = session(sales, state="ringing", agent=bob, queued_at=now - timedelta(seconds=5),
                    caller_phone_number="+8613900000002",
                    ring_at=now - timedelta(seconds=2))
    # Not counted: yesterday's, an outbound call, another tenant's.
    ended(sales, start_of_today() - timedelta(hours=1), 1, accepted=True, talk=50)
    session(sales, state="ended", direction="out", queued_at=base, accepted_at=base, ended_at=base, duration=9)
    other = factories.skill_group(factories.tenant(), name="Sales")
    session(other, state="queued", queued_at=now)
    return {"tenant": tenant, "sales": sales, "talking": talking, "offer": offer, "now": now,
            "agents": {a.nickname: a for a in (alice, bob, carol, dan, eve, fay)}}


def test_todays_queue_figures_match_the_day_worked_by_hand(day):
    queue, = board(day["tenant"].pk)["queues"]
    assert queue["offered"] == 9  # 5 ended today + 1 talking + 2 waiting + 1 ringing
    assert queue["answered"] == 3
    assert queue["abandoned"] == 2
    assert queue["service_level"] == pytest.approx(50.0)  # 2 within / (3 answered + 1 abandoned after 20 s)
    assert queue["asa"] == pytest.approx(20.0)  # (10 + 30 + 20) / 3
    assert queue["aht"] == pytest.approx(150.0)  # (100 + 200) / 2: the one still talking has no handle time yet


def test_queue_now_shows_waiting_longest_wait_ringing_and_the_groups_agents(day):
    queue, = board(day["tenant"].pk)["queues"]
    assert (queue["waiting"], queue["ringing"]) == (2, 1)
    oldest_ms = int((day["now"] - timedelta(seconds=50)).timestamp() * 1000)
    assert abs(queue["longest_wait_since_ms"] - oldest_ms) <= 1
    assert (queue["online"], queue["free"]) == (4, 1)  # Alice, Bob, Carol, Eve online; Eve alone free


def test_agents_are_counted_and_listed_by_what_they_do_now(day):
    shown = board(day["tenant"].pk)
    rows = {row["name"]: row for row in shown["agents"]}
    assert {name: row["status"] for name, row in rows.items()} == {
        "Alice": "onCall", "Bob": "ringing", "Carol": "rest", "Dan": "offline", "Eve": "free", "Fay": "arrange"}
    assert rows["Alice"]["session"]["id"] == day["talking"].pk
    talking_since = int(day["talking"].accepted_at.timestamp() * 1000)
    assert rows["Alice"]["status_since_ms"] == talking_since  # on the call since it was accepted
    assert rows["Alice"]["session"]["customer"] == "+8613800000001"
    assert rows["Bob"]["session"]["customer"] == "+8613900000002"
    assert rows["Eve"]["session"] is None and rows["Fay"]["group_ids"] == []
    counts = {c["status"]: c["count"] for c in shown["counts"]}
    assert counts == {"free": 1, "onCall": 1, "ringing": 1, "rest": 1, "notReady": 0, "arrange": 1, "offline": 1}
    rest, = (c for c in shown["counts"] if c["status"] == "rest")
    assert rest["reasons"] == [("Lunch", 1)]


def test_live_sessions_are_the_tenants_open_ones_with_their_state(day):
    live = board(day["tenant"].pk)["sessions"]
    assert [s["state"] for s in live].count("queued") == 2
    assert {s["id"] for s in live} >= {day["talking"].pk, day["offer"].pk}
    assert all(s["group"] == "Sales" for s in live) and len(live) == 4


def test_a_chat_taken_over_shows_the_supervisor_serving_it(day):
    chat_group = factories.skill_group(day["tenant"], kind="im")
    sue = get_user_model().objects.create(username="sue")
    taken = session(chat_group, state="active", queued_at=timezone.now(), accepted_at=timezone.now(),
                    taken_over_by=sue)
    live = {s["id"]: s for s in board(day["tenant"].pk)["sessions"]}
    assert live[taken.pk]["agent"] == "sue (supervisor)"


def test_a_protected_number_stays_protected_on_the_wallboard(day):
    day["tenant"].protect_numbers = True
    day["tenant"].save()
    day["talking"].protected_caller = "p-123"
    day["talking"].save()
    rows = {row["name"]: row for row in board(day["tenant"].pk)["agents"]}
    assert rows["Alice"]["session"]["customer"] == "p-123"


def test_the_board_costs_the_same_few_queries_however_many_agents_and_groups(day):
    with CaptureQueriesContext(connection) as first:  # today's ended sessions counted, then kept
        board(day["tenant"].pk)
    with CaptureQueriesContext(connection) as warm:
        board(day["tenant"].pk)
    for n in range(5):
        group = factories.skill_group(day["tenant"])
        factories.agent(day["tenant"], group, day["sales"], status="free")
        session(group, state="queued", queued_at=timezone.now())
    with CaptureQueriesContext(connection) as more:  # other groups: the day counted afresh
        board(day["tenant"].pk)
    with CaptureQueriesContext(connection) as more_warm:
        board(day["tenant"].pk)
    assert (len(first), len(warm)) == (len(more), len(more_warm)) == (7, 6)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's plans: it has no statistics to go by")
def test_the_board_reads_no_session_of_the_days_before(day, monkeypatch):
    """Each of the board's reads of sessions goes through an index that keeps it to the open ones, today's or the
    last seconds', however many sessions the tenant had before: on a year's history a read took seconds."""
    monkeypatch.setattr(queue_day, "FOLD_EVERY", 0.0)
    plans = []
    for _ in range(2):  # the day counted, then the kept sums folded
        with CaptureQueriesContext(connection) as read:
            board(day["tenant"].pk)
        with connection.cursor() as cursor:
            for query in read.captured_queries:
                if "sessions_app_session" in query["sql"]:
                    cursor.execute("EXPLAIN QUERY PLAN " + query["sql"])
                    plans += [row[3] for row in cursor.fetchall() if "sessions_app_session " in row[3]]
    assert len(plans) == 8  # open sessions, the day counted, open + just ended; then the same with a fold
    searches = {"USING INDEX session_open (tenant_id=? AND state=?)",
                "USING INDEX session_queued_day (skill_group_id=? AND queued_at>?)",
                "USING INDEX session_ended_day (skill_group_id=? AND ended_at=?)",
                "USING INDEX session_ended_day (skill_group_id=? AND ended_at>?)",
                "USING INDEX session_ended_day (skill_group_id=? AND ended_at>? AND ended_at<?)"}
    assert all(plan.startswith("SEARCH sessions_app_session ") and plan.split(" ", 2)[2] in searches
               for plan in plans), plans


def test_kept_and_folded_sums_stay_equal_to_a_fresh_count(day, monkeypatch):
    """Sessions that end after the day was counted are added once: while recent, then folded into what is kept."""
    monkeypatch.setattr(queue_day, "LAG", timedelta(0))
    tenant, sales = day["tenant"], day["sales"]

    def queue():
        shown, = board(tenant.pk)["queues"]
        return {name: shown[name] for name in ("offered", "answered", "abandoned", "service_level", "asa", "aht")}

    def fresh():
        queue_day.forget()
        return queue()

    queue()
    now = timezone.now()
    day["talking"].state, day["talking"].ended_at, day["talking"].duration = "ended", now, 60.0
    day["talking"].save()
    ended(sales, now - timedelta(seconds=45), 45, accepted=False, end_status="waitingGiveUp")
    recent = queue()
    assert recent["aht"] == pytest.approx(120.0) and recent["abandoned"] == 3
    monkeypatch.setattr(queue_day, "FOLD_EVERY", 0.0)
    folded = queue()  # the line moved past them: now in the kept sums
    assert recent == folded == queue() == fresh()
    sales.service_level_seconds = 60
    sales.save()
    assert queue() == fresh()  # another threshold: counted afresh at once, not folded with the old one


def test_today_is_the_tenants_day(db):
    """A tenant's day begins at midnight in its time zone, as in its reports."""
    tenant = factories.tenant(time_zone="Pacific/Kiritimati")  # UTC+14: never the server's day at every hour
    group = factories.skill_group(tenant)
    midnight = start_of_today(ZoneInfo("Pacific/Kiritimati"))
    ended(group, midnight - timedelta(minutes=1), 1, accepted=True)
    ended(group, min(midnight + timedelta(minutes=1), timezone.now()), 1, accepted=True)
    queue, = board(tenant.pk)["queues"]
    assert queue["offered"] == 1


def test_service_level_counts_only_the_answered_and_the_abandoned_after_the_threshold():
    day = rules.QueueDay(offered=10, answered=6, answered_within=3, abandoned=4, abandoned_after=0)
    assert rules.service_level(day) == pytest.approx(50.0)
    assert rules.service_level(rules.QueueDay()) is None
    assert rules.average_speed_of_answer(rules.QueueDay()) is None
    assert rules.average_handle_time(rules.QueueDay()) is None


def test_a_wait_of_exactly_the_threshold_counts_within_it_whatever_the_moment(db):
    """The database does the date arithmetic (SecondsBetween); SQLite's julianday is a double of days, coarse by
    tens of microseconds, so without rounding a 20 s wait came out a hair over 20 s at some moments of the day."""
    group = factories.skill_group(factories.tenant(), service_level_seconds=20)
    start = start_of_today()
    for n in range(200):  # moments across the day, with every kind of microsecond
        ended(group, start + timedelta(seconds=n * 401.3, microseconds=n * 4937 % 1_000_000), 20, accepted=True)
    waits = set(Session.objects.annotate(wait=SecondsBetween(F("queued_at"), F("accepted_at")))
                .values_list("wait", flat=True))
    assert waits == {20.0}
    queue = next(q for q in board(group.tenant_id)["queues"] if q["id"] == group.pk)
    assert queue["service_level"] == pytest.approx(100.0)
