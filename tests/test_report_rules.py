"""Report rules (domain/reports.py): periods in a tenant's zone and figures that combine exactly."""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from sessions_app.domain.reports import AgentFigures, QueueFigures, RangeRefused, periods, status_key

pytestmark = pytest.mark.unit

BERLIN = ZoneInfo("Europe/Berlin")


def test_days_begin_at_local_midnight_and_a_dst_day_is_23_hours():
    days = periods(date(2026, 3, 28), date(2026, 3, 30), "day", BERLIN)
    assert days[0].starts == datetime(2026, 3, 27, 23, tzinfo=timezone.utc)
    assert [(p.ends - p.starts).total_seconds() / 3600 for p in days] == [24, 23, 24]
    assert [p.label for p in days] == ["2026-03-28", "2026-03-29", "2026-03-30"]


def test_weeks_run_monday_to_sunday_clipped_to_the_range():
    weeks = periods(date(2026, 3, 5), date(2026, 3, 17), "week", BERLIN)
    assert [(p.first.isoformat(), p.last.isoformat()) for p in weeks] == [
        ("2026-03-05", "2026-03-08"), ("2026-03-09", "2026-03-15"), ("2026-03-16", "2026-03-17")]
    assert all(a.ends == b.starts for a, b in zip(weeks, weeks[1:]))


@pytest.mark.parametrize("first, last, grouping", [
    (date(2026, 3, 2), date(2026, 3, 1), "day"), (date(2026, 1, 1), date(2027, 3, 1), "day"),
    (date(2026, 1, 1), date(2026, 1, 2), "hour")])
def test_a_range_that_makes_no_report_is_refused(first, last, grouping):
    with pytest.raises(RangeRefused):
        periods(first, last, grouping, BERLIN)


def test_figures_combine_from_sums_not_from_averages():
    day1 = QueueFigures(offered=4, answered=2, answered_within=2, wait_seconds=10, talk_seconds=100, talked=2,
                        longest_wait=30, abandoned={"waitingGiveUp": 2})
    day2 = QueueFigures(offered=1, answered=1, answered_within=0, wait_seconds=50, talk_seconds=50, talked=1,
                        longest_wait=50, transfers=1, after_call_work_seconds=9, wrapped_up=1,
                        abandoned={"waitingGiveUp": 1, "noSeatOnline": 1})
    both = day1.add(day2)
    assert (both.offered, both.service_level, both.average_speed_of_answer) == (5, 40.0, 20.0)
    assert (both.average_talk, both.average_handle, both.longest_wait) == (50.0, 59.0, 50)
    assert both.abandoned == {"waitingGiveUp": 3, "noSeatOnline": 1} and both.abandoned_total == 4
    assert QueueFigures().service_level is None and QueueFigures().average_handle is None


def test_an_agents_handle_time_adds_after_call_work_and_rest_is_split_by_reason():
    agent = AgentFigures(talk_seconds=100, talked=2, status_seconds={"arrange": 20}).add(
        AgentFigures(status_seconds={"arrange": 10, status_key("rest", "lunch"): 60}))
    assert agent.average_handle == 65.0 and agent.status_seconds == {"arrange": 30, "rest: lunch": 60}
    assert status_key("rest", "") == "rest" and status_key("free", "ignored") == "free"


def test_a_days_figures_survive_json_unchanged():
    import json

    from sessions_app.domain.reports import DayFigures
    day = DayFigures({7: QueueFigures(offered=3, answered=2, wait_seconds=1.5, abandoned={"waitingGiveUp": 1})},
                     {9: AgentFigures(offered=1, status_seconds={"rest: lunch": 60.0})})
    assert DayFigures.from_json(json.loads(json.dumps(day.to_json()))) == day
