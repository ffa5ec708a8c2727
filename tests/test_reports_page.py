"""Admin → Reports (/admin/reports/): a supervisor reads their own tenant's figures only; each CSV is its table."""
import csv
import io
import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model

from sessions_app.models import Supervisor

from . import factories
from .report_day import DAY, NEXT, scripted_day

pytestmark = pytest.mark.service

TABLES = ("periods", "skill-groups", "agents", "status-time")


@pytest.fixture
def center(db):
    return scripted_day()


def supervisor_of(tenant, name="lead"):
    user = get_user_model().objects.create_user(name, password="x", is_staff=True)
    Supervisor.objects.create(account=user, tenant=tenant)
    return user


def query(center, **extra):
    return {"first": DAY.isoformat(), "last": NEXT.isoformat(), "grouping": "day", **extra}


def table_cells(html: str, slug: str) -> list[list[str]]:
    table = re.search(rf'<table data-report-table="{slug}">(.*?)</table>', html, re.S).group(1)
    return [[unescape(cell) for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", table, re.S)]


def test_a_supervisor_reads_their_tenants_figures_by_day(client, center):
    client.force_login(supervisor_of(center.tenant))
    page = client.get("/admin/reports/", query(center))
    assert page.status_code == 200
    rows = table_cells(page.content.decode(), "skill-groups")
    header, chat_day = rows[0], rows[1]
    assert dict(zip(header, chat_day)) == {
        "Period": "2026-03-10", "Skill group": "Chat", "Threshold (s)": "20", "Offered": "1", "Answered": "1",
        "Abandoned": "0", "Service level (%)": "100.0", "Avg speed of answer (s)": "5", "Avg handle time (s)": "1805",
        "Avg talk (s)": "1805", "Avg after-call work (s)": "0", "Longest wait (s)": "5", "Transfers": "1",
        "Abandoned: noSeatOnline": "0", "Abandoned: ringingGiveUp": "0", "Abandoned: waitingGiveUp": "0"}
    assert rows[2][:10] == ["2026-03-10", "Phone", "20", "5", "2", "3", "20.0", "25", "225", "210"]
    assert "<svg" in page.content.decode()


def test_each_csv_is_exactly_its_table(client, center):
    client.force_login(supervisor_of(center.tenant))
    html = client.get("/admin/reports/", query(center)).content.decode()
    for slug in TABLES:
        response = client.get(f"/admin/reports/{slug}.csv", query(center))
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert list(csv.reader(io.StringIO(response.content.decode()))) == table_cells(html, slug)


def test_a_supervisor_never_reads_another_tenants_figures(client, center):
    other = factories.tenant(time_zone="Europe/Berlin")
    their_group = factories.skill_group(other)
    their_agent = factories.agent(other, their_group)
    client.force_login(supervisor_of(other, "theirs"))
    own = client.get("/admin/reports/", query(center)).content.decode()
    assert "Phone" not in own and "Ann" not in own and "Bob" not in own
    crafted = [query(center, tenant=center.tenant.pk), query(center, skill_group=center.phone.pk),
               query(center, agent=center.ann.pk), query(center, tenant=center.tenant.pk, skill_group=center.phone.pk)]
    for params in crafted:
        page = client.get("/admin/reports/", params)
        assert page.status_code == 400 and "Select a valid choice" in page.content.decode()
        assert "Ann" not in page.content.decode() and "data-report-table" not in page.content.decode()
        for slug in TABLES:
            response = client.get(f"/admin/reports/{slug}.csv", params)
            assert response.status_code == 400 and b"Ann" not in response.content
    ours = client.get("/admin/reports/agents.csv", query(center, agent=their_agent.pk))
    assert ours.status_code == 200 and b"Ann" not in ours.content


def test_a_superuser_picks_the_tenant(client, center):
    root = get_user_model().objects.create_superuser("root", password="x")
    client.force_login(root)
    other = factories.tenant(name="Aaa first by name")
    assert "Phone" not in client.get("/admin/reports/", query(center, tenant=other.pk)).content.decode()
    assert "Phone" in client.get("/admin/reports/", query(center, tenant=center.tenant.pk)).content.decode()


def test_without_a_query_the_last_seven_days_show_and_the_admin_index_links_here(client, center):
    client.force_login(supervisor_of(center.tenant))
    page = client.get("/admin/reports/")
    assert page.status_code == 200 and page.content.decode().count('data-report-table="periods"') == 1
    assert 'href="/admin/reports/"' in client.get("/admin/").content.decode()


@pytest.mark.parametrize("params, message", [
    ({"first": "2026-03-11", "last": "2026-03-10", "grouping": "day"}, "ends before it starts"),
    ({"first": "2025-01-01", "last": "2026-03-10", "grouping": "day"}, "at most 400 days"),
    ({"first": "yesterday", "last": "2026-03-10", "grouping": "day"}, "Enter a valid date"),
    ({"first": "2026-03-10", "last": "2026-03-10", "grouping": "hour"}, "Select a valid choice"),
    ({"first": "2026-03-10", "last": "2026-03-10", "grouping": "day", "tenant": "x'--"}, "Select a valid choice"),
])
def test_a_bad_query_answers_a_clear_error(client, center, params, message):
    client.force_login(supervisor_of(center.tenant))
    page = client.get("/admin/reports/", params)
    assert page.status_code == 400 and message in unescape(page.content.decode())
    assert client.get("/admin/reports/periods.csv", params).status_code == 400


def test_staff_of_no_tenant_and_visitors_get_no_report(client, center):
    assert client.get("/admin/reports/", query(center)).status_code == 302  # to the admin login
    assert client.get("/admin/reports/periods.csv", query(center)).status_code == 302
    client.force_login(get_user_model().objects.create_user("lost", password="x", is_staff=True))
    page = client.get("/admin/reports/", query(center))
    assert page.status_code == 403 and "belongs to no tenant" in page.content.decode()
    assert client.get("/admin/reports/periods.csv", query(center)).status_code == 403


def test_an_unknown_table_is_not_found(client, center):
    client.force_login(supervisor_of(center.tenant))
    assert client.get("/admin/reports/secrets.csv", query(center)).status_code == 404


def test_a_table_too_long_period_by_period_shows_totals_over_the_range_in_page_and_csv(client, center, monkeypatch):
    monkeypatch.setattr("sessions_app.ui.reports.MAX_ROWS", 3)
    client.force_login(supervisor_of(center.tenant))
    html = client.get("/admin/reports/", query(center)).content.decode()
    rows = table_cells(html, "agents")
    assert rows[1:] == [["2026-03-10 – 2026-03-11", "Ann", "5", "3", "320", "30", "330", "0"],
                        ["2026-03-10 – 2026-03-11", "Bob", "2", "2", "660", "0", "660", "1"]]
    assert "Totals over the whole range" in html
    csv_rows = list(csv.reader(io.StringIO(client.get("/admin/reports/agents.csv", query(center)).content.decode())))
    assert csv_rows == rows


def test_a_chart_of_many_agents_shows_those_offered_the_most(client, center, monkeypatch):
    monkeypatch.setattr("sessions_app.ui.reports.CHART_ROWS", 1)
    client.force_login(supervisor_of(center.tenant))
    html = client.get("/admin/reports/", query(center)).content.decode()
    chart = re.search(r'<section class="report-section module" id="agents">.*?</svg>', html, re.S).group(0)
    assert "the 1 offered the most sessions" in chart and ">Ann<" in chart and ">Bob<" not in chart
    assert [row[1] for row in table_cells(html, "agents")[1:]] == ["Ann", "Bob", "Ann", "Bob"]


@pytest.mark.parametrize("field", ["tenant", "skill_group", "agent"])
def test_an_id_too_large_for_the_database_is_a_clear_error(client, center, field):
    client.force_login(supervisor_of(center.tenant))
    page = client.get("/admin/reports/", query(center, **{field: "9" * 40}))
    assert page.status_code == 400 and "Select a valid choice" in page.content.decode()
