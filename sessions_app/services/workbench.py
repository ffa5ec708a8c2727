"""What an agent's workbench shows: read-only selectors returning plain dicts for its templates.

The workbench (templates/workbench/) is a second client of the services, beside the SDK: it changes state only
through `rpc.call` and the chat service, and reads it here. Moments go out as epoch milliseconds (`*_at_ms`),
so a fragment renders the same until something changes (the page's script runs the timers, correcting for
the browser's clock with the server time each message carries).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

from django.db.models import Count, F, Max, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import (Agent, ChatMessage, ChatReadMark, Consult, Recording, RestReason, ServeParticipant, Session,
                      SkillGroup, found)
from . import agents as agent_service
from . import chat, consult, monitoring, phone, routing
from .sessions import TYPE_NAMESPACE

TYPE_LABELS = {"phone": "Phone call", "im": "Web chat", "voip": "Web audio call", "video": "Video call",
               "internal": "Internal call"}
STATUS_LABELS = {"free": ("Free", "ok"), "busy": ("Busy", "busy"), "rest": ("On break", "warn"),
                 "arrange": ("After-call work", "info"), "notReady": ("Not ready", "warn"),
                 "offline": ("Offline", "idle")}
END_LABELS = {"ok": "Completed", "unconnected": "Not connected", "ivrGiveUp": "Left in the IVR",
              "waitingGiveUp": "Gave up waiting", "ringingGiveUp": "Hung up while ringing",
              "noSeatOnline": "Nobody online", "notWorkTime": "Outside working hours", "notAnswer": "Not answered",
              "userReject": "Rejected", "busy": "Busy", "callerCancel": "Cancelled",
              "seatOffline": "Agent went offline", "mediaError": "Media failure", "operatorError": "Line failure",
              "error": "System error"}
CLOSE_BY_LABELS = {"seat": "You ended it", "client": "The customer ended it", "admin": "Ended by the system"}
CHAT_LOG_LIMIT = 200
HISTORY_LIMIT = 50


def ms(seconds: float) -> int:
    return max(0, int(seconds * 1000))


def epoch_ms(moment) -> int | None:
    return int(moment.timestamp() * 1000) if moment else None


def initials(name: str) -> str:
    """Up to two initials of a name; none for a number or an id (the avatar shows the session's type then)."""
    words = [w for w in name.replace("@", " ").replace(".", " ").split() if w[:1].isalpha()]
    return "".join(w[0] for w in words[:2]).upper()


# The agent and the status picker.

def agent_summary(agent_id: int) -> dict:
    agent = Agent.objects.select_related("tenant").get(pk=agent_id)
    info = agent_service.status_info(agent)
    status = info["status"]
    label, tone = STATUS_LABELS.get(status, (status, "idle"))
    name = agent.nickname or agent.user_id
    return {
        "id": agent.pk, "user_id": agent.user_id, "name": name, "initials": initials(name),
        "status": status, "stored_status": agent.status, "rest_reason": agent.rest_reason,
        "status_label": f"{label}: {agent.rest_reason}" if status == "rest" and agent.rest_reason else label,
        "tone": tone, "status_since_ms": epoch_ms(agent.status_since),
        "arrange_until_ms": epoch_ms(agent.arrange_deadline) if agent.status == "arrange" else None,
        "status_options": status_options(agent),
    }


def status_options(agent: Agent) -> list[dict]:
    """What the picker offers from the agent's current status: each option is one `Agent.setStatus` call."""
    if agent.status == "offline":
        return [{"label": "Go online", "status": "online", "rest_reason": "", "tone": "ok", "current": False}]
    options = []
    if agent.status == "notReady":
        options.append({"label": "Ready (stop not ready)", "status": "stopNotReady", "rest_reason": "", "tone": "ok"})
    else:
        options.append({"label": "Free", "status": "free", "rest_reason": "", "tone": "ok"})
    reasons = list(RestReason.objects.filter(tenant_id=agent.tenant_id).values_list("label", flat=True))
    for reason in reasons or [""]:
        options.append({"label": f"On break: {reason}" if reason else "On break", "status": "rest",
                        "rest_reason": reason, "tone": "warn"})
    options.append({"label": "Not ready", "status": "notReady", "rest_reason": "", "tone": "warn"})
    for option in options:
        option["current"] = option["status"] == agent.status and option["rest_reason"] == agent.rest_reason
    return options


# Sessions: offers, the ones in progress, after-call work.

@dataclass
class SessionView:
    session: Session
    mine_as: str  # "serving" | "calling" | "wrapup" | "offer" | "consulted" (a colleague consults them)

    @property
    def id(self) -> str:
        return self.session.id


def _who(session: Session, agent_id: int) -> tuple[str, str]:
    """(name to show, what kind of name it is) for the other side of a session."""
    s = phone.as_agents_see(session)
    if s.type == "phone":
        if s.direction == "out":
            if s.remark:
                return s.remark, "label"
            return (s.callee_phone_number, "number") if s.callee_phone_number else (
                s.protected_callee or "Unknown number", "protected")
        if s.caller_phone_number:
            return s.caller_phone_number, "number"
        return (s.protected_caller, "protected") if s.protected_caller else ("Unknown number", "unknown")
    if s.type == "internal":
        other = s.caller_agent if s.caller_agent_id != agent_id else s.agent
        return (other.nickname or other.user_id, "agent") if other else ("Colleague", "agent")
    if s.nickname:
        return s.nickname, "nickname"
    return (s.customer_user_id, "user") if s.customer_user_id else ("Visitor", "unknown")


def _card(session: Session, agent_id: int, mine_as: str) -> dict:
    who, who_kind = _who(session, agent_id)
    phase_labels = {"serving": "In progress", "calling": "Calling…", "wrapup": "After-call work", "offer": "Ringing",
                    "consulted": "Consult"}
    flags = []
    if mine_as == "serving":
        if session.on_hold:
            flags.append("On hold")
        if session.mic_muted:
            flags.append("Muted")
        if session.video_muted:
            flags.append("Camera off")
        if session.type in consult.CONSULT_TYPES and session.agent_id == agent_id:
            current = consult.open_consult(session)
            if current is not None:
                name = current.agent.nickname or current.target if current.agent_id else current.target
                flags.append("Conference" if current.conference else f"Consulting {name}")
    monitored = mine_as in ("serving", "calling") and session.is_call and bool(monitoring.monitored([session.id]))
    if monitored:
        flags.append("Being monitored")
    return {
        "id": session.id, "type": session.type, "type_label": TYPE_LABELS[session.type],
        "direction": session.direction, "who": who, "who_kind": who_kind, "initials": initials(who),
        "avatar": session.avatar if session.avatar.startswith(("https://", "http://")) else "",
        "phase": mine_as, "phase_label": phase_labels[mine_as], "flags": flags,
        "since_ms": epoch_ms(session.accepted_at or session.ring_at or session.created_at),
        "ended": session.state == "ended", "monitored": monitored,
    }


def offers(agent_id: int) -> list[dict]:
    rows = (agent_service.ringing_for(agent_id)
            .select_related("caller_agent", "agent", "skill_group").order_by("ring_at"))
    cards = []
    for session in rows:
        card = _card(session, agent_id, "offer")
        card.update(details(session, agent_id))
        card["deadline_ms"] = epoch_ms(session.offer_deadline)
        ring_timeout = session.skill_group.ring_timeout if session.skill_group else routing.INTERNAL_RING_TIMEOUT
        card["timeout_ms"] = ring_timeout * 1000 if session.offer_deadline else None
        cards.append(card)
    for item in agent_service.consults_of(agent_id).filter(stage="ringing").select_related("session"):
        card = _consult_card(item, agent_id, "offer")
        card["deadline_ms"] = epoch_ms(item.offer_deadline)
        card["timeout_ms"] = consult.RING_TIMEOUT * 1000
        cards.append(card)
    return cards


def _consult_card(item: Consult, agent_id: int, mine_as: str) -> dict:
    """A consult as the consulted agent sees it: an internal call from the colleague, about their customer."""
    card = _card(item.session, agent_id, mine_as)
    customer, _ = _who(item.session, agent_id)
    colleague = item.by_agent.nickname or item.by_agent.user_id
    card.update({"type": "internal", "type_label": "Consult", "who": colleague, "who_kind": "agent",
                 "initials": initials(colleague), "avatar": "", "flags": [],
                 "since_ms": epoch_ms(item.accept_at or item.ring_at),
                 "rows": [{"label": "Agent", "value": item.by_agent.user_id},
                          {"label": "Their customer", "value": customer},
                          {"label": "Call", "value": TYPE_LABELS[item.session.type]}],
                 "remark": "", "ivr_path": []})
    if mine_as == "consulted":
        card["phase_label"] = "Conference" if item.conference else "Talking"
    return card


def _wrapup_sessions(agent_id: int) -> list[Session]:
    pending = (ServeParticipant.objects.filter(agent_id=agent_id, accept_at__isnull=False, end_at__isnull=False,
                                               completed_at__isnull=True, hidden=False)
               .select_related("session__caller_agent", "session__agent", "session__skill_group")
               .order_by("end_at"))
    return [p.session for p in pending]


def open_sessions(agent_id: int) -> list[SessionView]:
    """Sessions on the agent's list, in the order shown: in progress, calls being placed, after-call work."""
    mine = Q(agent_id=agent_id) | Q(caller_agent_id=agent_id)
    related = ("caller_agent", "agent", "skill_group")
    views = [SessionView(s, "serving") for s in
             Session.objects.filter(mine, state="active").select_related(*related).order_by("accepted_at")]
    views += [SessionView(s, "calling") for s in
              Session.objects.filter(caller_agent_id=agent_id, state__in=("queued", "ringing"))
              .exclude(pk__in=agent_service.ringing_for(agent_id).values("pk"))  # a call out ringing them: an offer
              .select_related(*related).order_by("created_at")]
    views += [SessionView(c.session, "consulted") for c in
              agent_service.consults_of(agent_id).filter(stage="talking").select_related(
                  *(f"session__{name}" for name in related))]
    seen = {v.id for v in views}
    views += [SessionView(s, "wrapup") for s in _wrapup_sessions(agent_id) if s.id not in seen]
    return views


def session_cards(agent_id: int, views: list[SessionView]) -> list[dict]:
    cards = []
    unread = unread_counts(agent_id, [v.session for v in views if v.session.type == "im"])
    for view in views:
        card = _card(view.session, agent_id, view.mine_as) if view.mine_as != "consulted" else (
            _consult_card(consult.consulted_in(view.session, Agent(pk=agent_id)), agent_id, "consulted"))
        card["unread"], card["unread_through"] = unread.get(view.id, (0, 0))
        cards.append(card)
    return cards


def unread_counts(agent_id: int, chats: list[Session]) -> dict[str, tuple[int, int]]:
    """For each chat: (how many visitor messages the agent has not read, the last visitor message's seq). The
    seq lets the workbench's socket count later messages itself without counting one twice."""
    if not chats:
        return {}
    read = Coalesce(F("session__read_mark__agent_seq"), 0)
    rows = (ChatMessage.objects.filter(session__in=chats, sender="visitor").values("session_id")
            .annotate(unread=Count("pk", filter=Q(seq__gt=read)), last=Max("seq")))
    return {row["session_id"]: (row["unread"], row["last"]) for row in rows}


def pick_selected(views: list[SessionView], wanted: str | None) -> SessionView | None:
    """The session the detail pane shows: the one the agent picked if it is still listed, else the first."""
    for view in views:
        if view.id == wanted:
            return view
    return views[0] if views else None


def details(session: Session, agent_id: int) -> dict:
    """The caller's details, by the spec's callIn fields, as (label, value) rows; empty values left out."""
    s = phone.as_agents_see(session)
    rows = []
    if s.type == "phone":
        if s.direction == "out":
            rows += [("Number", s.callee_phone_number), ("Protected id", s.protected_callee),
                     ("Caller number", s.caller_phone_number)]
        else:
            rows += [("Number", s.caller_phone_number), ("Protected id", s.protected_caller),
                     ("Location", s.caller_location), ("Dialed", s.callee_phone_number or s.protected_callee)]
    elif s.type == "internal":
        other = s.caller_agent if s.caller_agent_id != agent_id else s.agent
        rows += [("Agent", other.user_id if other else "")]
    else:
        rows += [("Nickname", s.nickname), ("User id", s.customer_user_id), ("Source", s.peer_source),
                 ("Entry", s.callee_remark or s.callee), ("Channel", s.channel_name), ("Client data", s.client_data)]
    if s.skill_group:
        rows.append(("Skill group", s.skill_group.name))
    return {
        "rows": [{"label": label, "value": value} for label, value in rows if value],
        "remark": s.remark if not (s.type == "phone" and s.direction == "out") else "",
        "ivr_path": [step for step in (s.ivr_path or []) if isinstance(step, dict)],
    }


CONTROLS = {  # "record" shows only while the call is recorded
    "phone": ("mute", "hold", "record", "keypad", "transfer", "consult", "end"),
    "voip": ("mute", "hold", "record", "transfer", "consult", "end"),
    "internal": ("mute", "hold", "record", "end"),
    "video": ("mute", "camera", "record", "transfer", "end"),
    "im": ("transfer", "end"),
}


def _recording(s: Session) -> str:
    """"on", "paused", or "" (the call is not recorded, or has ended)."""
    if s.state != "active":
        return ""
    row = Recording.objects.filter(session_id=s.pk, stored_at__isnull=True).values("paused_since").first()
    return "" if row is None else "paused" if row["paused_since"] else "on"


def session_detail(view: SessionView, agent_id: int) -> dict:
    s = view.session
    if view.mine_as == "consulted":
        return _consulted_detail(view, agent_id)
    detail = _card(s, agent_id, view.mine_as)
    detail.update(details(s, agent_id))
    detail.update({
        "state": s.state, "on_hold": s.on_hold, "mic_muted": s.mic_muted, "video_muted": s.video_muted,
        "controls": CONTROLS[s.type] if view.mine_as == "serving" else ("end",) if view.mine_as == "calling" else (),
        "transferable": view.mine_as == "serving" and s.type != "internal" and s.agent_id == agent_id,
        "duration": s.duration, "end_label": END_LABELS.get(s.end_status, s.end_status),
        "close_by_label": CLOSE_BY_LABELS.get(s.close_by, ""),
        "recording": _recording(s) if view.mine_as in ("serving", "calling") else "",
    })
    if view.mine_as == "serving" and s.agent_id == agent_id:
        detail.update(_consult_state(s))
        if detail["consult"]:  # a blind transfer or a second consult waits until this one is over
            detail["controls"] = tuple(c for c in detail["controls"] if c not in ("transfer", "consult"))
    if view.mine_as == "wrapup":
        agent = Agent.objects.get(pk=agent_id)
        mine = s.participants.filter(agent_id=agent_id).order_by("-sequence").first()
        detail["transferred_to"] = mine.transfer_to if mine and mine.outcome == "transferred" else ""
        detail["arrange_until_ms"] = epoch_ms(agent.arrange_deadline) if agent.status == "arrange" else None
        detail["served_ms"] = ms(((mine.end_at - mine.accept_at).total_seconds()) if mine and mine.accept_at else 0)
    return detail


def _consult_state(s: Session) -> dict:
    """The consulting agent's view of a consult: with whom, ringing or talking, private or conference; or how the
    last one ended when it did not end by their own hand (declined, not answered, the colleague hung up)."""
    current = consult.open_consult(s)
    if current is None:
        last = found(Consult.objects.filter(session=s).select_related("agent").order_by("-ring_at"))
        return {"consult": None, "consult_ending": consult.ending(last)}
    name = (current.agent.nickname or current.agent.user_id) if current.agent_id else current.phone_number
    state = "conference" if current.conference else current.stage
    labels = {"ringing": f"Calling {name}…", "talking": f"Consulting {name}",
              "conference": f"Conference with {name}"}
    notes = {"ringing": "The customer hears hold music.",
             "talking": "The customer hears hold music and cannot hear you.",
             "conference": "Everyone hears everyone."}
    return {"consult": {"who": name, "user_id": current.target, "state": state, "label": labels[state],
                        "note": notes[state], "initials": initials(name), "since_ms": epoch_ms(
                            current.accept_at or current.ring_at)},
            "consult_ending": None, "transferable": False}


def _consulted_detail(view: SessionView, agent_id: int) -> dict:
    item = consult.consulted_in(view.session, Agent(pk=agent_id))
    detail = _consult_card(item, agent_id, "consulted")
    answered = item.stage == "talking"
    detail.update({"state": view.session.state, "on_hold": False, "mic_muted": item.muted, "video_muted": False,
                   "controls": ("mute", "end") if answered else ("end",), "transferable": False, "recording": "", "duration": None,
                   "consulted": {"conference": item.conference}})
    return detail


# Transfer targets, with the agents' live status.

def transfer_targets(agent_id: int, session_id: str, any_group: bool = False) -> dict:
    """Skill groups (of the session's kind; `any_group`: all, as a consult is an internal call) and agents."""
    me = Agent.objects.get(pk=agent_id)
    session = found(Session.objects.filter(pk=session_id, tenant_id=me.tenant_id))
    kind = session.type if session else "phone"
    groups = []
    in_tenant = SkillGroup.objects.filter(tenant_id=me.tenant_id)
    for group in (in_tenant if any_group else in_tenant.filter(kind=kind)).order_by("name"):
        members = Agent.objects.filter(agentskill__skill_group=group)
        online = members.exclude(status="offline").count()
        free = members.filter(status="free").count()
        groups.append({"id": str(group.pk), "name": group.name, "online": online, "free": free,
                       "available": online > 0, "free_now": free > 0})
    people = []
    for agent in Agent.objects.filter(tenant_id=me.tenant_id).exclude(pk=agent_id).order_by("nickname", "user_id"):
        status = agent_service.status_info(agent)["status"]
        label, tone = STATUS_LABELS.get(status, (status, "idle"))
        can_take = bool(session) and routing.eligible_for(session, agent) if status == "free" else False
        people.append({"user_id": agent.user_id, "name": agent.nickname or agent.user_id,
                       "initials": initials(agent.nickname or agent.user_id),
                       "status_label": f"{label}: {agent.rest_reason}" if status == "rest" and agent.rest_reason
                       else label, "tone": tone, "available": can_take})
    return {"groups": groups, "agents": people}


# Dial pad and history.

def caller_numbers(agent_id: int) -> list[str]:
    """The dial pad's caller-number picker: the numbers startOutboundCall accepts, its default first."""
    return list(phone.caller_numbers_for(Agent.objects.select_related("tenant").get(pk=agent_id)).offered)


def outbound_result(agent_id: int, session_id: str) -> dict | None:
    """How an outbound call placed from the dial pad went, for the line under the pad."""
    session = Session.objects.filter(pk=session_id, caller_agent_id=agent_id).first()
    if session is None:
        return None
    reason = ""
    if session.state == "ended":
        last = session.timeline.order_by("-at", "-id").values_list("what", flat=True)
        reason = next((what for what in last if what.startswith("not dialed")), "")
        reason = reason.replace("not dialed: ", "").rstrip(".")
    seen = phone.as_agents_see(session)
    return {"number": seen.callee_phone_number or seen.protected_callee, "state": session.state,
            "end_label": END_LABELS.get(session.end_status, session.end_status),
            "reason": reason[:1].upper() + reason[1:] if reason else ""}


def history(agent_id: int) -> list[dict]:
    """Today's turns of the agent, newest first: sessions offered to or served by them whose part is over
    (answered, missed, rejected, transferred away), and the calls they placed that ended."""
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    turns = {}
    for turn in (ServeParticipant.objects.filter(agent_id=agent_id, ring_at__gte=start, end_at__isnull=False)
                 .select_related("session__caller_agent", "session__agent").order_by("sequence")):
        turns[turn.session_id] = turn  # the agent's last turn on each session
    placed = (Session.objects.filter(caller_agent_id=agent_id, created_at__gte=start, state="ended")
              .exclude(pk__in=turns).select_related("caller_agent", "agent"))
    rows = [(turn.session, turn, turn.end_at) for turn in turns.values()]
    rows += [(session, None, session.ended_at) for session in placed]
    rows.sort(key=lambda row: row[2], reverse=True)
    items = []
    for session, turn, ended_at in rows[:HISTORY_LIMIT]:
        who, _ = _who(session, agent_id)
        outcome, tone = _history_outcome(session, turn)
        if turn is not None:
            served = (turn.end_at - turn.accept_at).total_seconds() if turn.accept_at else 0
        else:
            served = session.duration or 0
        items.append({"id": session.id, "type": session.type, "type_label": TYPE_LABELS[session.type],
                      "direction": session.direction, "who": who, "at": timezone.localtime(ended_at),
                      "served_ms": ms(served), "outcome": outcome, "tone": tone})
    return items


def _history_outcome(session: Session, turn: ServeParticipant | None) -> tuple[str, str]:
    if turn is None:  # placed by the agent (outbound or internal)
        return ("Answered", "ok") if session.accepted_at else (END_LABELS.get(session.end_status, "Ended"), "bad")
    if turn.outcome == "transferred":
        target = turn.transfer_to.replace("skillGroup:", "group ").replace("supervisor:", "supervisor ")
        return f"Transferred to {target}", "info"
    if turn.accept_at:
        return "Answered", "ok"
    return {"timeout": ("Missed", "bad"), "rejected": ("Rejected", "bad")}.get(turn.outcome, ("Missed", "bad"))


def chat_log(session_id: str) -> dict:
    """The messages of a web chat (the newest CHAT_LOG_LIMIT) and how far the visitor has read."""
    messages = chat.history(session_id)[-CHAT_LOG_LIMIT:]
    mark = ChatReadMark.objects.filter(session_id=session_id).values_list("visitor_seq", flat=True).first() or 0
    messages = [chat_message(message, read_by_visitor=mark) for message in messages]
    last_visitor = max((m["seq"] for m in messages if m["sender"] == "visitor"), default=0)
    return {"messages": messages, "last_visitor_seq": last_visitor}


def chat_message(message: dict, read_by_visitor: int = 0) -> dict:
    """One message of the chat log, from the service's message dict (`chat.message_dict`): no query, so a
    message an event carries is shown as it arrives."""
    return {**message, "read": message["sender"] in ("agent", "supervisor") and message["seq"] <= read_by_visitor,
            "time": timezone.localtime(datetime.fromtimestamp(message["createdAt"] / 1000, tz=dt_timezone.utc))}


def canned_responses(agent_id: int) -> list[dict]:
    return chat.canned_responses(Agent.objects.select_related("tenant").get(pk=agent_id).tenant)


def namespace_of(agent_id: int, session_id: str) -> str:
    """The SDK namespace whose methods act on this session (Call, Chat or Video); Call when there is no such
    session, so the service answers with its own "no session" error."""
    session_type = (Session.objects.filter(pk=session_id, tenant__agents__pk=agent_id)
                    .values_list("type", flat=True).first())
    return TYPE_NAMESPACE.get(session_type, "Call")


def visitor_name(session_id: str) -> str:
    session = Session.objects.filter(pk=session_id).first()
    return (session.nickname or session.customer_user_id or "The visitor") if session else "The visitor"
