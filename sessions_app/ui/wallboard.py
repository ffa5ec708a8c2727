"""What the wallboard shows: the board (services/wallboard.py) rendered as fragments, each an element with an id
and `hx-swap-oob="true"`, so the page (views/wallboard.py) lays them out once and its socket
(consumers/wallboard.py) sends again only those whose HTML changed; htmx's ws extension swaps them by id. The
agent list, the largest, is also rendered row by row: while the same agents are listed, only the rows that
changed are sent (`row_patch`), and a row unchanged since the last redraw is not rendered again.

Figures carry `data-metric` (their stable name) and `data-value` (the raw figure: a count, seconds, a percent, a
status, a session id; empty when there is none). Times in a state carry `data-since` (epoch ms): the page's
script ticks them, so the server sends nothing while nothing changes.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import mark_safe

from ..domain import wallboard as rules

FRAGMENTS = ("counts", "queues", "agents", "live")
STATUS_ORDER = {status: n for n, status in enumerate(rules.BOARD_STATUSES)}


def clock(seconds: float | None) -> str:
    """A span as the wallboard shows it: 0:07, 2:30, 1:02:03; a dash when there is none."""
    if seconds is None:
        return "—"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def figure(value: float | None) -> str:
    """A raw figure for `data-value`: integers as such, others to one decimal, empty for none."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _queue(queue: dict) -> dict:
    level = queue["service_level"]
    return {**queue, "service_level_text": "—" if level is None else f"{level:.0f}%",
            "service_level_value": figure(level), "service_level_bar": 0 if level is None else round(level),
            "asa_text": clock(queue["asa"]), "asa_value": figure(queue["asa"]),
            "aht_text": clock(queue["aht"]), "aht_value": figure(queue["aht"])}


def _agent(agent: dict, group_names: dict[int, str]) -> dict:
    return {**agent, "order": STATUS_ORDER[agent["status"]],
            "groups": [group_names[g] for g in agent["group_ids"] if g in group_names],
            "group_attr": " ".join(str(g) for g in agent["group_ids"])}


_rows: dict[tuple, str] = {}  # an agent row's HTML by what it shows: most rows are the same from one redraw to the next
ROWS_KEPT = 20_000


def agent_row(agent: dict, group_names: dict[int, str]) -> str:
    session = agent["session"]
    key = (agent["agent_id"], agent["user_id"], agent["name"], agent["status"], agent["rest_reason"], agent["status_since_ms"],
           tuple(session.values()) if session else None, agent["chats"], agent["chat_capacity"],
           tuple((g, group_names.get(g)) for g in agent["group_ids"]))
    html = _rows.get(key)
    if html is None:
        if len(_rows) >= ROWS_KEPT:
            _rows.clear()
        html = _rows[key] = render_to_string("admin/wallboard/agent_row.html", {"a": _agent(agent, group_names)})
    return html


@dataclass(frozen=True)
class Rendered:
    html: dict[str, str]  # each fragment's HTML by element id (`wb-<name>`), and the server's clock (`wb-clock`)
    agent_rows: dict[str, str]  # each agent row's HTML by userId, in the table's order


def fragments(board: dict) -> Rendered:
    names = {g["id"]: g["name"] for g in board["groups"]}
    rows = {agent["user_id"]: agent_row(agent, names) for agent in board["agents"]}
    context = {
        "counts": board["counts"],
        "queues": [_queue(q) for q in board["queues"]],
        "rows": [mark_safe(row) for row in rows.values()],
        "sessions": board["sessions"],
    }
    html = {f"wb-{name}": render_to_string(f"admin/wallboard/{name}.html", context) for name in FRAGMENTS}
    html["wb-clock"] = f'<div id="wb-clock" hx-swap-oob="true" hidden data-now="{board["now_ms"]}"></div>'
    return Rendered(html, rows)


def row_patch(rows: list[str]) -> str:
    """Agent rows that changed, for the page's script to put in place of the rows of the same `data-user-id`:
    carried in an attribute, since a table row outside a table would be dropped by the browser's parser."""
    return f'<div id="wb-agent-patch" hx-swap-oob="true" hidden data-rows="{escape("".join(rows))}"></div>'
