"""What the supervisors' wallboard shows for one tenant, read in a handful of queries (read-only).

`board(tenant_id)` answers plain dicts: the agents (counts by status and a row each), the queues per skill group
(now and today, `domain/wallboard.py` defines each figure) and the live sessions. Moments are epoch milliseconds,
so the page's timers tick in the browser from them; the socket (consumers/wallboard.py) re-reads the board after
a change and sends what differs. The cloud API's figures (cloud/figures.py) read the same board, and
`inbound_now(board)` sums its live sessions per group and state: one computation, two transports.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime

from django.utils import timezone

from ..domain import session_state
from ..domain import wallboard as rules
from ..models import Agent, AgentSkill, Session, SkillGroup, Tenant
from . import phone, queue_day, supervisors

TYPE_LABELS = {"phone": "Phone", "im": "Chat", "voip": "Web audio", "video": "Web video", "internal": "Internal"}
STATE_LABELS = {"ivr": "In the IVR", "queued": "Waiting", "ringing": "Ringing", "active": "In progress"}


def epoch_ms(moment: datetime | None) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def tenant_shown(user, requested: str | None) -> Tenant | None:
    """The tenant whose wallboard `user` sees: the one `requested` (`?tenant=<id>`) if they may see it, else
    (none requested) their own, or a superuser's first. None: no such tenant for them (another tenant's id, a
    malformed one, or a staff account of no tenant)."""
    visible = supervisors.tenants_visible_to(user).order_by("name", "pk")
    if requested is None:
        return visible.first()
    return visible.filter(pk=int(requested)).first() if requested.isdigit() and len(requested) < 19 else None


def board(tenant_id: int) -> dict:
    now = timezone.now()  # before reading: the page's clock, and what the board shows is at least this recent
    groups = list(SkillGroup.objects.filter(tenant_id=tenant_id).order_by("name", "pk")
                  .values("pk", "name", "kind", "service_level_seconds"))
    sessions = sorted(Session.objects.filter(tenant_id=tenant_id, state__in=session_state.OPEN)
                      .select_related("tenant", "skill_group", "agent", "caller_agent", "taken_over_by")
                      .order_by(),  # sorted here: ordered in SQL, SQLite would walk every session of the tenant
                      key=lambda session: (session.created_at, session.pk))
    agents = _agents(tenant_id, sessions)
    live = [_live(session) for session in sessions]
    return {
        "now_ms": epoch_ms(now),
        "counts": _counts(agents),
        "agents": agents,
        "queues": _queues(groups, _inbound(live), agents, queue_day.today(tenant_id, groups)),
        "sessions": live,
        "groups": [{"id": g["pk"], "name": g["name"]} for g in groups],
    }


def customer(session: Session) -> str:
    """The customer as the serving agent sees them (a protected number stays protected)."""
    seen = phone.as_agents_see(session)
    if seen.type == "internal":
        return (seen.caller_agent.nickname or seen.caller_agent.user_id) if seen.caller_agent else "Colleague"
    if seen.type == "phone":
        number = seen.caller_phone_number if seen.direction == "in" else seen.callee_phone_number
        protected = seen.protected_caller if seen.direction == "in" else seen.protected_callee
        return seen.remark or number or protected or "Unknown number"
    return seen.nickname or seen.customer_user_id or "Visitor"


def _state_since(session: Session) -> datetime:
    if session.state == "active":
        return session.accepted_at or session.created_at
    if session.state == "ringing":
        return session.ring_at or session.created_at
    if session.state == "queued":
        return session.queued_at or session.created_at
    return session.created_at


def _serving(session: Session) -> str:
    """Who serves it: the agent, or the supervisor who took the chat over."""
    agent = session.agent or session.caller_agent
    if agent:
        return agent.nickname or agent.user_id
    return f"{session.taken_over_by.get_username()} (supervisor)" if session.taken_over_by else ""


def _live(session: Session) -> dict:
    return {
        "id": session.pk, "type": session.type, "type_label": TYPE_LABELS.get(session.type, session.type),
        "direction": session.direction, "customer": customer(session),
        "group": session.skill_group.name if session.skill_group else "",
        "group_id": session.skill_group_id,
        "agent": _serving(session),
        "state": session.state, "state_label": STATE_LABELS[session.state],
        "since_ms": epoch_ms(_state_since(session)),
    }


def _agents(tenant_id: int, sessions: list[Session]) -> list[dict]:
    skills: dict[int, list[int]] = defaultdict(list)
    for agent_id, group_id in AgentSkill.objects.filter(agent__tenant_id=tenant_id).values_list(
            "agent_id", "skill_group_id"):
        skills[agent_id].append(group_id)
    calls: dict[int, Session] = {}
    ringing: dict[int, Session] = {}
    chats: Counter[int] = Counter()
    first_chat: dict[int, Session] = {}
    for session in sessions:
        if session.type == "im":
            if session.state == "active" and session.agent_id:
                chats[session.agent_id] += 1
                first_chat.setdefault(session.agent_id, session)
            continue
        # A call in progress occupies both its agents; a ringing one, the agent who placed it (outbound,
        # internal) while the agent it rings for is only ringing.
        talking = {session.agent_id, session.caller_agent_id} if session.state == "active" else (
            {session.caller_agent_id} if session.state == "ringing" else set())
        if session.state == "ringing" and session.agent_id:
            ringing[session.agent_id] = session
        for agent_id in talking - {None}:
            calls[agent_id] = session
    rows = []
    for agent in Agent.objects.filter(tenant_id=tenant_id).order_by("nickname", "user_id").values(
            "pk", "user_id", "nickname", "status", "status_since", "rest_reason", "chat_capacity"):
        on = calls.get(agent["pk"]) or ringing.get(agent["pk"]) or first_chat.get(agent["pk"])
        status = rules.board_status(agent["status"], agent["pk"] in calls, agent["pk"] in ringing)
        since = agent["status_since"]
        if status in ("onCall", "ringing"):  # stored as free: on a call, or ringing, since that began
            since = max(since, _state_since(on))
        rows.append({
            "agent_id": agent["pk"], "user_id": agent["user_id"], "name": agent["nickname"] or agent["user_id"],
            "status": status, "status_label": rules.BOARD_LABELS[status], "rest_reason": agent["rest_reason"],
            "status_since_ms": epoch_ms(since),
            "session": {"id": on.pk, "type": on.type, "direction": on.direction,
                        "type_label": TYPE_LABELS.get(on.type, on.type), "customer": customer(on),
                        "since_ms": epoch_ms(on.accepted_at or on.ring_at or on.created_at)} if on else None,
            "chats": chats[agent["pk"]], "chat_capacity": agent["chat_capacity"],
            "group_ids": sorted(skills[agent["pk"]]),
        })
    return rows


def _counts(agents: list[dict]) -> list[dict]:
    """Agents per board status; rest also per reason."""
    by_status = Counter(a["status"] for a in agents)
    rests = Counter(a["rest_reason"] or "No reason" for a in agents if a["status"] == "rest")
    return [{"status": status, "label": rules.BOARD_LABELS[status], "count": by_status[status],
             "reasons": sorted(rests.items()) if status == "rest" else []}
            for status in rules.BOARD_STATUSES]


def _queues(groups: list[dict], inbound: dict[int | None, dict[str, list[int]]], agents: list[dict],
            today: dict[int, rules.QueueDay]) -> list[dict]:
    online: Counter[int] = Counter()
    free: Counter[int] = Counter()
    for agent in agents:
        for group_id in agent["group_ids"]:
            if agent["status"] != "offline":
                online[group_id] += 1
            if agent["status"] == "free":
                free[group_id] += 1
    rows = []
    for group in groups:
        day = today.get(group["pk"], rules.QueueDay())
        waiting, ringing = inbound[group["pk"]]["queued"], inbound[group["pk"]]["ringing"]
        rows.append({
            "id": group["pk"], "name": group["name"], "kind": group["kind"],
            "kind_label": dict(SkillGroup.KINDS).get(group["kind"], group["kind"]),
            "threshold": group["service_level_seconds"],
            "waiting": len(waiting), "longest_wait_since_ms": min(waiting, default=None),
            "ringing": len(ringing),
            "offered": day.offered, "answered": day.answered, "abandoned": day.abandoned,
            "service_level": rules.service_level(day), "asa": rules.average_speed_of_answer(day),
            "aht": rules.average_handle_time(day), "online": online[group["pk"]], "free": free[group["pk"]],
        })
    return rows


INBOUND_STATES = ("ivr", "queued", "ringing", "active")


def _inbound(live: list[dict]) -> dict[int | None, dict[str, list[int]]]:
    """When each live inbound session entered its state (epoch ms), per skill group (key None: all of them, with
    those in the IVR that have no group yet) and state (`INBOUND_STATES`): waiting, every queued session of a
    group; ringing and the others, the inbound ones. The queue rows' waiting, longest wait and ringing, and the
    cloud API's call-in figures, are all read from it."""
    since: dict[int | None, dict[str, list[int]]] = defaultdict(lambda: {state: [] for state in INBOUND_STATES})
    for row in live:
        if row["state"] in INBOUND_STATES and (row["state"] == "queued" or row["direction"] == "in"):
            for key in {None, row["group_id"]}:
                since[key][row["state"]].append(row["since_ms"])
    return since


def inbound_now(board_read: dict) -> dict[int | None, dict[str, dict]]:
    """The board's live inbound sessions (as `_inbound` sorts them) per skill group and state: `count`, and the
    `longest` and `mean` seconds in that state so far."""
    def seconds(moments: list[int]) -> list[float]:
        return [max(0.0, (board_read["now_ms"] - moment) / 1000) for moment in moments]

    return {key: {state: {"count": len(each), "longest": max(seconds(each), default=0.0),
                          "mean": sum(seconds(each)) / len(each) if each else 0.0} for state, each in states.items()}
            for key, states in _inbound(board_read["sessions"]).items()}
