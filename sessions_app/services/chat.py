"""Web chat: a visitor starts a chat, both sides exchange messages, typing and read receipts; the visitor's
token brings the conversation back after a reload or a reconnect.

Used by the visitor's websocket (consumers/visitor.py) and by the agent workbench. Each writing operation is
one transaction holding the session's row lock, so messages get gapless `seq` numbers per session in the
order they were stored. Live events leave on commit:
- to the visitor: group `visitor_group(session_id)`, `{"type": "visitor.frame", "frame": {"type": "event", ...}}`;
- to the agent ringing or serving the chat: group `events.pages_group(agent_id)` (the workbench's pages),
  `{"type": "agent.chat", "frame": {"type": "chat", "event": "message" | "typing" | "read", "data": {...}}}`;
- to the supervisors watching it (consumers/chat_watch.py): group `watchers_group(session_id)`, every event of
  either side, `{"type": "watched.chat", "frame": <the agent's frame>}`.
Every event goes to the other side only (the sender has the reply); a supervisor's message goes to both sides.
Clients dedupe messages by `id`, since a reconnect's history may overlap what arrived live. A transfer needs no
copying: the new agent reads `history()`.
"""
from __future__ import annotations

from django.core import signing
from django.db import transaction

from ..domain import chat as rules
from ..models import CannedResponse, ChatMessage, ChatReadMark, Session, SkillGroup, Tenant, found
from . import sessions, visitor_limits, visitors
from .endings import end_session
from .errors import NotFound, ServiceError
from .events import pages_group
from .outbox import group_send
from .visitor_limits import Visitor
from .visitors import visitor_group  # noqa: F401 (part of this module's interface)

VISITOR_TOKEN_SALT = "tccc.visitor-chat"
VISITOR_TOKEN_TTL = 24 * 3600  # seconds: a visitor may come back to a conversation for a day


# Visitor tokens: Django-signed, bound to one session, timestamped.

def issue_visitor_token(session_id: str) -> str:
    return signing.dumps({"s": session_id}, salt=VISITOR_TOKEN_SALT, compress=True)


def session_for_visitor(visitor_token) -> Session:
    """The web chat a visitor token names; refuses forged, expired or unknown ones."""
    if not isinstance(visitor_token, str) or not visitor_token or len(visitor_token) > 512:
        raise ServiceError("the visitor token is not valid")
    try:
        claims = signing.loads(visitor_token, salt=VISITOR_TOKEN_SALT, max_age=VISITOR_TOKEN_TTL)
    except signing.SignatureExpired:
        raise ServiceError("the visitor token has expired: start a new chat") from None
    except signing.BadSignature:
        raise ServiceError("the visitor token is not valid") from None
    session_id = claims.get("s") if isinstance(claims, dict) else None
    session = found(Session.objects.select_related("tenant").filter(pk=str(session_id), type="im"))
    if session is None:
        raise ServiceError("the visitor token's chat does not exist")
    return session


# Starting and ending.

def start_visitor_chat(tenant: Tenant, visitor: Visitor, *, nickname, avatar="", peer_source="", channel_name="",
                       client_data="", skill_group_id=None, replacing: str | None = None) -> dict:
    """Create an im session (routed like any other) in the given im skill group of the tenant, else its first;
    within the visitor's limits (services/visitor_limits.py). `replacing`: the chat the visitor's socket has
    now, which must have ended."""
    visitors.check_none_open(replacing)
    try:
        fields = rules.clean_start_fields(nickname=nickname, avatar=avatar, peer_source=peer_source,
                                          channel_name=channel_name, client_data=client_data)
    except rules.ChatRefused as refused:
        raise ServiceError(str(refused)) from None
    groups = SkillGroup.objects.filter(tenant=tenant, kind="im").order_by("pk")
    group = None
    wanted = "" if skill_group_id is None else str(skill_group_id)
    if wanted.isascii() and wanted.isdigit() and len(wanted) <= 18:
        group = groups.filter(pk=int(wanted)).first()
    group = group or groups.first()
    if group is None:
        raise ServiceError("this contact center has no web chat skill group")
    session_id = sessions.create_inbound(tenant, "im", str(group.pk), fields, visitor=visitor)
    return {"sessionId": session_id, "visitorToken": issue_visitor_token(session_id)}


def end_by_visitor(session_id: str) -> None:
    """The visitor leaves: the session ends as closed by the customer (whatever state it was in)."""
    with transaction.atomic():
        session = _locked_chat(session_id, "tenant", "agent", "caller_agent", "skill_group")
        if session.state == "ended":
            raise ServiceError("the chat has already ended")
        end_session(session, close_by="client")


# Messages.

def post_message(session_id: str, *, sender: str, text, agent_id: int | None = None, client_id="",
                 supervisor_name: str = "") -> dict:
    """Store one message and deliver it live; returns it as a dict (see `message_dict`).

    The visitor may write while the chat waits (queued, ringing) or is served; an agent only while serving it;
    a supervisor (`supervisor_name`, checked by services/chat_watch.py) while it is in progress.
    A `client_id` already stored for this sender returns the stored message: a resend after a reconnect is
    stored once. The visitor is rate-limited over all their chats (services/visitor_limits.py).
    """
    if sender not in rules.WRITERS:
        raise ServiceError(f"sender must be one of: {', '.join(rules.WRITERS)}")
    try:
        text = rules.clean_text(text)
        client_id = rules.clean_client_id(client_id)
    except rules.ChatRefused as refused:
        raise ServiceError(str(refused)) from None
    with transaction.atomic():
        session = _locked_chat(session_id)
        if client_id:
            stored = ChatMessage.objects.filter(session=session, sender=sender, client_id=client_id).first()
            if stored is not None:
                if sender == "agent" and stored.agent_id != agent_id:
                    raise ServiceError("clientId was already used for another message")
                return message_dict(stored)
        if session.state == "ended":
            raise ServiceError("the chat has ended")
        if sender == "agent" and (session.state != "active" or agent_id is None or session.agent_id != agent_id):
            raise ServiceError(f"chat {session_id} is not in progress with you")
        if sender == "supervisor" and session.state != "active":
            raise ServiceError(f"chat {session_id} is not in progress: a supervisor writes once it is served")
        if sender == "visitor":
            visitor_limits.check_message(session)
        last = session.messages.order_by("-seq").values_list("seq", flat=True).first() or 0
        message = ChatMessage.objects.create(session=session, seq=last + 1, sender=sender, text=text,
                                             agent_id=agent_id if sender == "agent" else None, client_id=client_id,
                                             supervisor_name=supervisor_name[:150] if sender == "supervisor" else "")
        data = message_dict(message)
        _tell(session, rules.SIDES if sender == "supervisor" else (rules.other_side(sender),), "message", data)
        return data


def message_dict(message: ChatMessage) -> dict:
    agent = message.agent if message.agent_id else None
    return {"id": message.pk, "seq": message.seq, "sessionId": message.session_id, "sender": message.sender,
            "text": message.text, "agentUserId": agent.user_id if agent else "",
            "supervisorName": message.supervisor_name, "clientId": message.client_id,
            "createdAt": int(message.created_at.timestamp() * 1000)}


def history(session_id: str, after_seq: int = 0) -> list[dict]:
    """The chat's messages after `after_seq`, in order."""
    if isinstance(after_seq, bool) or not isinstance(after_seq, int) or after_seq < 0:
        raise ServiceError("afterSeq must be a whole number of at least 0")
    rows = ChatMessage.objects.filter(session_id=session_id, seq__gt=after_seq).select_related("agent").order_by("seq")
    return [message_dict(m) for m in rows]


# Typing and read receipts.

def mark_read(session_id: str, *, side: str, seq: int, agent_id: int | None = None) -> dict:
    """`side` has read up to `seq` (capped at the last message); only moves forward, and only a move is told to
    the other side. With `agent_id`, an agent side must be the agent ringing or serving the chat."""
    try:
        other = rules.other_side(side)
    except rules.ChatRefused as refused:
        raise ServiceError(str(refused)) from None
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ServiceError("seq must be a whole number of at least 0")
    with transaction.atomic():
        session = _locked_chat(session_id)
        if side == "agent" and agent_id is not None and session.agent_id != agent_id:
            raise ServiceError(f"chat {session_id} is not yours")
        last = session.messages.order_by("-seq").values_list("seq", flat=True).first() or 0
        mark, _ = ChatReadMark.objects.get_or_create(session=session)
        column = f"{side}_seq"
        seq = min(seq, last)
        if seq > getattr(mark, column):
            setattr(mark, column, seq)
            mark.save(update_fields=[column])
            _tell(session, (other,), "read", {"sessionId": session.id, "side": side, "seq": seq})
        return {"seq": getattr(mark, column)}


def typing(session_id: str, *, side: str, agent_id: int | None = None) -> None:
    """`side` is typing: the other side hears it now (nothing is stored)."""
    try:
        other = rules.other_side(side)
    except rules.ChatRefused as refused:
        raise ServiceError(str(refused)) from None
    session = found(Session.objects.filter(pk=session_id).only("pk", "type", "state", "agent_id"))
    _check_chat(session, session_id)
    if session.state == "ended":
        raise ServiceError("the chat has ended")
    if side == "agent" and agent_id is not None and session.agent_id != agent_id:
        raise ServiceError(f"chat {session_id} is not yours")
    _tell(session, (other,), "typing", {"sessionId": session.id, "side": side})


# What the visitor sees when (re)connecting.

def visitor_view(session: Session) -> dict:
    """The chat's state for its visitor: where it stands, both read marks and the whole conversation."""
    view = {"sessionId": session.id, "state": session.state, "position": None, "agentNickname": "",
            "closeBy": session.close_by, "endStatus": session.end_status}
    view["position"] = visitors.queue_position(session)
    if session.state == "active" and session.agent_id:
        agent = session.agent
        view["agentNickname"] = agent.nickname or agent.user_id
    elif session.state == "active" and session.taken_over_by_id:
        view["agentNickname"] = session.taken_over_by.get_username()
    mark = ChatReadMark.objects.filter(session_id=session.id).first()
    view["readByAgent"] = mark.agent_seq if mark else 0
    view["readByVisitor"] = mark.visitor_seq if mark else 0
    view["messages"] = history(session.id)
    return view


def visitor_chat(session_id: str) -> dict:
    session = found(Session.objects.select_related("agent", "taken_over_by").filter(pk=session_id, type="im"))
    _check_chat(session, session_id)
    return visitor_view(session)


def canned_responses(tenant: Tenant) -> list[dict]:
    return [{"id": r.pk, "title": r.title, "text": r.text}
            for r in CannedResponse.objects.filter(tenant=tenant).order_by("title", "pk")]


# Helpers.

def _locked_chat(session_id: str, *related: str) -> Session:
    session = found(Session.objects.locked(*related).filter(pk=session_id))
    _check_chat(session, session_id)
    return session


def _check_chat(session: Session | None, session_id) -> None:
    if session is None:
        raise NotFound(f"no chat {str(session_id)[:64]!r}")
    if session.type != "im":
        raise ServiceError(f"session {session_id} is not a web chat")


def watchers_group(session_id: str) -> str:
    """The channel-layer group of the supervisors watching a chat, on any process."""
    return f"chat-watch.{session_id}"


def _tell(session: Session, sides, event: str, data: dict) -> None:
    """Send a chat event to the given sides, and to the chat's watchers, once the transaction commits (at once
    outside one). The agent side is the agent the chat rings for or is served by, if any."""
    agent_id = session.agent_id if session.state in ("ringing", "active") else None
    visitor_frame = rules.event(event, **data)
    agent_frame = {**visitor_frame, "type": "chat"}

    def send():
        if "visitor" in sides:
            group_send(visitor_group(session.id), {"type": "visitor.frame", "frame": visitor_frame})
        if "agent" in sides and agent_id:
            group_send(pages_group(agent_id), {"type": "agent.chat", "frame": agent_frame})
        group_send(watchers_group(session.id), {"type": "watched.chat", "frame": agent_frame})

    transaction.on_commit(send, robust=True)
