"""The reports page's tables and charts, laid out of a `services.reports.Report`. Each table is one list of text
cells, shown in the page and written as CSV alike, so the export is exactly what the supervisor reads.

Durations are whole seconds in the queue and agent tables (spreadsheets sum them) and h:mm:ss for time in status.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from ..domain.reports import QueueFigures
from ..services.reports import Report
from .charts import Series, lying_bars, upright_bars

STATUS_ORDER = ["free", "arrange", "notReady", "rest", "offline"]
STATUS_NAMES = {"free": "Free", "arrange": "After-call work", "notReady": "Not ready", "rest": "Rest",
                "offline": "Offline"}


@dataclass(frozen=True)
class Table:
    slug: str  # its CSV's name
    title: str
    caption: str
    columns: list[str]
    rows: list[list[str]]
    chart: SafeString

    @property
    def body_html(self) -> SafeString:
        """The table's rows as HTML, joined here rather than in template loops: thousands of rows stay quick."""
        return mark_safe("".join("<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>"
                                 for row in self.rows))

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.columns)
        writer.writerows(self.rows)
        return out.getvalue()


def _seconds(value: float | None) -> str:
    return "" if value is None else str(round(value))


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _clock(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _queue_cells(figures: QueueFigures) -> list[str]:
    return [str(figures.offered), str(figures.answered), str(figures.abandoned_total),
            _percent(figures.service_level), _seconds(figures.average_speed_of_answer),
            _seconds(figures.average_handle), _seconds(figures.average_talk),
            _seconds(figures.average_after_call_work), _seconds(figures.longest_wait), str(figures.transfers)]


QUEUE_COLUMNS = ["Offered", "Answered", "Abandoned", "Service level (%)", "Avg speed of answer (s)",
                 "Avg handle time (s)", "Avg talk (s)", "Avg after-call work (s)", "Longest wait (s)", "Transfers"]


def _sum_queues(figures: list[QueueFigures]) -> QueueFigures:
    total = QueueFigures()
    for one in figures:
        total = total.add(one)
    return total


def tables(report: Report) -> list[Table]:
    return [_periods_table(report), _groups_table(report), _agents_table(report), _status_table(report)]


def _periods_table(report: Report) -> Table:
    totals = [_sum_queues([f for (idx, _), f in report.queues.items() if idx == i]) for i in range(len(report.periods))]
    labels = [p.label for p in report.periods]
    rows = [[label, *_queue_cells(figures)] for label, figures in zip(labels, totals)]
    chart = upright_bars("Sessions offered per period", labels, [
        Series("Answered", "chart-answered", [f.answered for f in totals]),
        Series("Abandoned", "chart-abandoned", [f.abandoned_total for f in totals]),
        Series("Still open", "chart-open", [f.offered - f.answered - f.abandoned_total for f in totals])])
    return Table("periods", "Sessions per period", "All the groups shown, period by period.",
                 ["Period", *QUEUE_COLUMNS], rows, chart)


MAX_ROWS = 3000  # a table period by period longer than this shows totals over the range instead
TOO_LONG = (" Totals over the whole range: period by period this table would pass {:,} rows; choose weeks, a shorter "
            "range, or one skill group or agent.").format(MAX_ROWS)


def _by_period(report: Report, figures: dict, entities: dict, shown) -> tuple[list[tuple], dict, bool]:
    """Rows (period label, id, figures) for each period and each of `entities` with figures `shown` accepts, or
    one per entity over the whole range when that would pass MAX_ROWS; each entity's total; whether cut short."""
    rows, totals = [], {}
    for i, period in enumerate(report.periods):
        for pk in entities:
            one = figures.get((i, pk))
            if one is None or not shown(one):
                continue
            totals[pk] = totals[pk].add(one) if pk in totals else one
            rows.append((period.label, pk, one))
    if len(rows) <= MAX_ROWS:
        return rows, totals, False
    whole = f"{report.periods[0].first.isoformat()} – {report.periods[-1].last.isoformat()}"
    return [(whole, pk, totals[pk]) for pk in entities if pk in totals], totals, True


def _groups_table(report: Report) -> Table:
    end_statuses = sorted({status for figures in report.queues.values() for status in figures.abandoned})
    by_period, per_group, cut = _by_period(report, report.queues, report.groups, lambda figures: True)
    rows = [[label, report.groups[pk].name, str(report.groups[pk].service_level_seconds), *_queue_cells(figures),
             *[str(figures.abandoned.get(status, 0)) for status in end_statuses]] for label, pk, figures in by_period]
    shown = [g for g in report.groups if g in per_group]
    chart = lying_bars("Service level per skill group over the range", [report.groups[g].name for g in shown], [
        Series("Answered in time", "chart-answered", [per_group[g].answered_within for g in shown]),
        Series("Answered late", "chart-late", [per_group[g].answered - per_group[g].answered_within for g in shown]),
        Series("Abandoned", "chart-abandoned", [per_group[g].abandoned_total for g in shown])], share=True)
    return Table("skill-groups", "Skill groups",
                 "Service level: share of sessions offered answered within the group's threshold. "
                 "Abandoned sessions are split by their end status in the last columns." + (TOO_LONG if cut else ""),
                 ["Period", "Skill group", "Threshold (s)", *QUEUE_COLUMNS,
                  *[f"Abandoned: {status}" for status in end_statuses]], rows, chart)


CHART_ROWS = 25  # a chart with one bar per agent shows this many; the table beside it has them all


def _busiest(report: Report, per_agent: dict, title: str) -> tuple[list[int], str]:
    """The agents a chart shows, in the table's order: all, or the CHART_ROWS offered the most (title says so)."""
    shown = [a for a in report.agents if a in per_agent]
    if len(shown) <= CHART_ROWS:
        return shown, title
    busiest = set(sorted(shown, key=lambda a: -per_agent[a].offered)[:CHART_ROWS])
    return [a for a in shown if a in busiest], f"{title}: the {CHART_ROWS} offered the most sessions"


def _agents_table(report: Report) -> Table:
    by_period, per_agent, cut = _by_period(report, report.agent_figures, report.agents,
                                           lambda figures: figures.offered or figures.status_seconds)
    rows = [[label, str(report.agents[pk]), str(figures.offered), str(figures.answered), _seconds(figures.average_talk),
             _seconds(figures.after_call_work_seconds), _seconds(figures.average_handle), str(figures.transfers)]
            for label, pk, figures in by_period]
    shown, title = _busiest(report, per_agent, "Sessions per agent over the range")
    chart = lying_bars(title, [str(report.agents[a]) for a in shown], [
        Series("Answered", "chart-answered", [per_agent[a].answered for a in shown]),
        Series("Not answered", "chart-abandoned", [per_agent[a].offered - per_agent[a].answered for a in shown])])
    return Table("agents", "Agents",
                 "Offers, answers and transfers count on the day they rang. Handle time: talk plus after-call work "
                 "(time in after-call work status) per session answered." + (TOO_LONG if cut else ""),
                 ["Period", "Agent", "Offered", "Answered", "Avg talk (s)", "After-call work (s)",
                  "Avg handle time (s)", "Transfers"], rows, chart)


def _status_columns(report: Report) -> list[str]:
    keys = {key for figures in report.agent_figures.values() for key in figures.status_seconds}
    return sorted(keys, key=lambda key: (STATUS_ORDER.index(key.split(":")[0]) if key.split(":")[0] in STATUS_ORDER
                                         else len(STATUS_ORDER), key))


def _status_name(key: str) -> str:
    status, _, reason = key.partition(": ")
    name = STATUS_NAMES.get(status, status)
    return f"{name}: {reason}" if reason else name


def _status_table(report: Report) -> Table:
    keys = _status_columns(report)
    by_period, per_agent, cut = _by_period(report, report.agent_figures, report.agents,
                                           lambda figures: figures.status_seconds)
    rows = [[label, str(report.agents[pk]), *[_clock(figures.status_seconds.get(k, 0.0)) for k in keys]]
            for label, pk, figures in by_period]
    shown, title = _busiest(report, per_agent, "Share of time in each status over the range")
    css = {status: f"status-{status}" for status in STATUS_ORDER}
    chart = lying_bars(title, [str(report.agents[a]) for a in shown], [
        Series(_status_name(k), css.get(k.split(":")[0], "chart-open"),
               [round(per_agent[a].status_seconds.get(k, 0.0)) for a in shown]) for k in keys], share=True)
    return Table("status-time", "Time in each status",
                 "From the status history (h:mm:ss). Calls are taken while free: talk time is in the agents table."
                 + (TOO_LONG if cut else ""),
                 ["Period", "Agent", *[_status_name(k) for k in keys]], rows, chart)
