"""Report figures (services/reports.py) against a scripted day worked out by hand (tests/report_day.py)."""
from datetime import timedelta

import pytest

from sessions_app.domain.reports import RangeRefused
from sessions_app.services import reports

from .report_day import DAY, NEXT, local, scripted_day

pytestmark = pytest.mark.service

LATER = local(NEXT + timedelta(days=2), "12:00:00")


@pytest.fixture
def center(db):
    return scripted_day()


def by_day(center, **options):
    return reports.report(center.tenant, DAY, NEXT, "day", now=LATER, **options)


def test_a_groups_day_counts_its_sessions_in_the_tenants_zone(center):
    phone = by_day(center).queues[(0, center.phone.pk)]
    assert (phone.offered, phone.answered, phone.answered_within) == (5, 2, 1)
    assert phone.service_level == 20.0
    assert phone.average_speed_of_answer == pytest.approx(25.0)  # (10 + 40) / 2
    assert phone.average_talk == pytest.approx(210.0)  # (300 + 120) / 2
    assert phone.average_after_call_work == pytest.approx(15.0)  # (20 + 10) / 2
    assert phone.average_handle == pytest.approx(225.0)
    assert phone.longest_wait == pytest.approx(90.0)
    assert phone.abandoned == {"waitingGiveUp": 1, "ringingGiveUp": 1, "noSeatOnline": 1}
    assert phone.transfers == 0


def test_a_session_across_midnight_counts_on_the_day_it_began_with_its_transfer(center):
    report = by_day(center)
    chat = report.queues[(0, center.chat.pk)]
    assert (chat.offered, chat.answered, chat.service_level, chat.transfers) == (1, 1, 100.0, 1)
    assert chat.average_speed_of_answer == pytest.approx(5.0)
    assert chat.average_talk == pytest.approx(1805.0)  # 23:50:05 to 00:20:10, both agents' parts
    assert (1, center.chat.pk) not in report.queues
    next_day = report.queues[(1, center.phone.pk)]
    assert (next_day.offered, next_day.answered, next_day.average_speed_of_answer) == (1, 1, pytest.approx(3.0))


def test_each_agents_offers_talk_and_transfers_count_on_the_day_they_rang(center):
    report = by_day(center)
    ann, bob = report.agent_figures[(0, center.ann.pk)], report.agent_figures[(0, center.bob.pk)]
    assert (ann.offered, ann.answered, ann.talk_seconds, ann.transfers) == (3, 1, pytest.approx(300.0), 0)
    assert (bob.offered, bob.answered, bob.talk_seconds, bob.transfers) == (2, 2, pytest.approx(1320.0), 1)
    ann_next = report.agent_figures[(1, center.ann.pk)]
    assert (ann_next.offered, ann_next.answered, ann_next.talk_seconds) == (2, 2, pytest.approx(660.0))


def test_time_in_each_status_is_cut_at_local_midnight(center):
    report = by_day(center)
    ann, bob = report.agent_figures[(0, center.ann.pk)], report.agent_figures[(0, center.bob.pk)]
    assert ann.status_seconds == pytest.approx({"free": 16200 + 13500 + 17970, "rest: lunch": 2700, "arrange": 30,
                                                "offline": 7200})
    assert ann.average_handle == pytest.approx(330.0)  # talk 300 + after-call work 30, one session
    assert bob.status_seconds == pytest.approx({"free": 12600, "rest: break": 1800})
    assert report.agent_figures[(1, center.bob.pk)].status_seconds == pytest.approx(
        {"rest: break": 2700, "offline": 86400 - 2700})


def test_an_open_status_counts_until_now_and_not_beyond(center):
    now = local(NEXT, "06:00:00")
    report = reports.report(center.tenant, DAY, NEXT + timedelta(days=1), "day", now=now)
    assert report.agent_figures[(1, center.ann.pk)].status_seconds == pytest.approx({"offline": 6 * 3600})
    assert (2, center.ann.pk) not in report.agent_figures


def test_a_week_combines_its_days(center):
    week = reports.report(center.tenant, DAY, NEXT, "week", now=LATER)
    assert [p.label for p in week.periods] == ["2026-03-10 – 2026-03-11"]
    phone = week.queues[(0, center.phone.pk)]
    assert (phone.offered, phone.answered, phone.answered_within) == (6, 3, 2)
    assert phone.average_speed_of_answer == pytest.approx((10 + 40 + 3) / 3)


def test_one_group_or_one_agent_alone(center):
    report = by_day(center, skill_group_id=center.chat.pk, agent_id=center.bob.pk)
    assert {group for _, group in report.queues} == {center.chat.pk}
    assert {agent for _, agent in report.agent_figures} == {center.bob.pk}


def test_another_tenants_sessions_never_count(center):
    report = by_day(center)
    assert sum(figures.offered for figures in report.queues.values()) == 7
    assert set(report.groups) == {center.phone.pk, center.chat.pk}


def test_a_range_that_makes_no_report_is_refused(center):
    for first, last, grouping in ((NEXT, DAY, "day"), (DAY, DAY + timedelta(days=500), "day"), (DAY, DAY, "month")):
        with pytest.raises(RangeRefused):
            reports.report(center.tenant, first, last, grouping)


def test_a_settled_day_is_summed_once_and_read_back_afterwards(center):
    from sessions_app.models import ReportDay, Session
    first = by_day(center)
    assert list(ReportDay.objects.values_list("day", "time_zone")) == [(DAY, "Europe/Berlin")]  # the next day is recent
    Session.objects.filter(tenant=center.tenant).delete()  # a kept day is not summed again
    again = by_day(center)
    assert again.queues[(0, center.phone.pk)] == first.queues[(0, center.phone.pk)]
    assert (1, center.phone.pk) not in again.queues
    assert again.agent_figures[(0, center.bob.pk)] == first.agent_figures[(0, center.bob.pk)]


def test_a_day_with_a_session_still_open_is_not_kept(center):
    from sessions_app.models import ReportDay
    from .report_day import session
    session(center, center.phone, DAY, "15:00:00")  # still queued
    reports.report(center.tenant, DAY, DAY, "day", now=LATER + timedelta(days=30))
    assert not ReportDay.objects.exists()


def test_changing_the_tenants_zone_counts_its_days_anew(center):
    from sessions_app.models import ReportDay
    by_day(center)
    center.tenant.time_zone = "America/New_York"  # UTC-5: the chat begun at 22:50Z is day D there too
    center.tenant.save()
    phone = reports.report(center.tenant, DAY, DAY, "day", now=LATER).queues[(0, center.phone.pk)]
    # 00:30 Berlin (23:30Z on the 9th) is the 9th in New York; 00:30 Berlin on the 11th (23:30Z) is the 10th.
    assert (phone.offered, phone.answered) == (5, 3)
    assert set(ReportDay.objects.values_list("time_zone", flat=True)) == {"Europe/Berlin", "America/New_York"}


def test_the_nightly_command_keeps_every_settled_day_so_a_first_report_reads_them(center):
    from io import StringIO

    from django.core.management import call_command

    from sessions_app.models import ReportDay
    out = StringIO()
    call_command("keep_report_days", days=2000, stdout=out)
    assert set(ReportDay.objects.filter(tenant=center.tenant).values_list("day", flat=True)) >= {DAY, NEXT}
    assert f"{center.tenant.sdk_app_id}: " in out.getvalue()
    kept = by_day(center)
    assert kept.queues[(1, center.phone.pk)].offered == 1 and kept.queues[(0, center.phone.pk)].service_level == 20.0


def test_the_nightly_command_refuses_a_span_that_makes_no_sense(db):
    from django.core.management import CommandError, call_command
    for days in (0, -5, 100000):
        with pytest.raises(CommandError, match="from 1 to 4000"):
            call_command("keep_report_days", days=days)
