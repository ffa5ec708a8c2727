"""A supervisor watching a web chat live (the watch page, `/admin/chats/<session_id>/`, and its socket,
consumers/chat_watch.py): they read it, write into it (both sides see the message as the supervisor's) and may
take it over, serving it from then on in the agent's place.

Each call takes the supervisor's user id and the session's id, acts only on a chat of a tenant they may see
(anything else is "not found", as if it were not there) and is audited like every supervisor action
(`supervision.Audit`): opening the watch, each message written, the take-over, done or refused. Ending a chat
from the watch page is `supervision.end_session`.
"""
from __future__ import annotations

from ..domain import chat as rules
from ..models import Session, found
from . import agents, chat, lifecycle, routing
from .errors import NotFound, ServiceError
from .session_locks import lock_session
from .supervisors import tenants_visible_to
from .supervision import Audit, audited, may_see, where


def _chat(audit: Audit, session_id, *, lock: bool) -> Session:
    """The web chat watched, if the supervisor may see it (locked after its agents with `lock`)."""
    session = None
    if isinstance(session_id, str) and 0 < len(session_id) <= 64:
        session = lock_session(session_id) if lock else found(Session.objects.filter(pk=session_id))
    if session is None or not may_see(audit, session.tenant_id):
        raise NotFound(f"no session {str(session_id)[:64]!r}")
    audit.found(str(session), session.tenant_id)
    if session.type != "im":
        raise ServiceError(f"session {session.id[:8]} is a {session.get_type_display().lower()}, not a web chat")
    return session


def _in_progress(session: Session) -> None:
    if session.state == "ended":
        raise ServiceError(f"chat {session.id[:8]} has ended")
    if session.state != "active":
        raise ServiceError(f"chat {session.id[:8]} is {where(session)}: a supervisor joins it once an agent serves it")


def watch(*, supervisor_id, session_id) -> dict:
    """Open the watch of a chat (any state: an ended one is read, not joined): what the page shows first."""
    view = {}

    def act(audit: Audit) -> None:
        session = _chat(audit, session_id, lock=False)
        view.update(describe(session.id))

    audited(Audit("watch_chat", supervisor_id, "session", session_id, {}), act)
    return view


def describe(session_id: str) -> dict:
    """Where a watched chat stands: its state, who serves it (an agent, or the supervisor who took it over)."""
    session = Session.objects.select_related("agent", "taken_over_by", "skill_group").get(pk=session_id)
    return {"sessionId": session.id, "state": session.state, "tenantId": session.tenant_id,
            "visitor": session.nickname or session.customer_user_id or "Visitor",
            "agent": (session.agent.nickname or session.agent.user_id) if session.agent else "",
            "takenOverBy": session.taken_over_by.get_username() if session.taken_over_by else "",
            "skillGroup": session.skill_group.name if session.skill_group else "",
            "closeBy": session.close_by, "endStatus": session.end_status}


def visible_chat(user, session_id: str) -> dict | None:
    """The chat as `describe` shows it, if `user` may watch it (a web chat of a tenant they see); None otherwise.
    For the page itself: the audited `watch` runs when its socket opens."""
    session = found(Session.objects.filter(pk=str(session_id)[:64], type="im",
                                           tenant__in=tenants_visible_to(user)).only("pk"))
    return describe(session.pk) if session is not None else None


def write(*, supervisor_id, session_id, text, client_id="") -> dict:
    """Write a message into a chat in progress, as the supervisor: stored with sender "supervisor" and their
    name, delivered to the visitor and to the agent serving it (services/chat.py). Returns the message."""
    message = {}

    def act(audit: Audit) -> None:
        try:
            cleaned = rules.clean_text(text)
        except rules.ChatRefused as refused:
            raise ServiceError(str(refused)) from None
        session = _chat(audit, session_id, lock=True)
        _in_progress(session)
        audit.details["length"] = len(cleaned)
        message.update(chat.post_message(session.id, sender="supervisor", text=cleaned, client_id=client_id,
                                         supervisor_name=audit.name))

    audited(Audit("write_chat", supervisor_id, "session", session_id, {}), act)
    return message


def take_over(*, supervisor_id, session_id) -> None:
    """Serve the chat in the agent's place (`lifecycle.take_over`): the agent's part ends and, a chat taking
    no after-call work, they are free for the next session at once. Of two supervisors taking it over at once,
    the second is refused: it is no longer with an agent."""
    def act(audit: Audit) -> None:
        session = _chat(audit, session_id, lock=True)
        _in_progress(session)
        if session.taken_over_by_id is not None:
            who = "you" if session.taken_over_by_id == audit.supervisor.pk else session.taken_over_by.get_username()
            raise ServiceError(f"chat {session.id[:8]} has already been taken over by {who}")
        if session.agent_id is None:
            raise ServiceError(f"chat {session.id[:8]} is not with an agent")
        audit.details["fromAgent"] = session.agent.user_id
        agent = lifecycle.take_over(session, audit.supervisor, audit.name)
        agent = agents.locked_agent(agent.pk)
        agents.complete_after_call_work(agent, session.id)
        routing.dispatch_for_agent(agent)

    audited(Audit("take_over_chat", supervisor_id, "session", session_id, {}), act)


# Serving a chat taken over: typing and reading, as the serving side (not audited, as an agent's are not).

def typing(*, supervisor_id, session_id) -> None:
    """The supervisor serving the chat is typing: the visitor hears it as the serving side's."""
    chat.typing(_served_by(supervisor_id, session_id), side="agent")


def mark_read(*, supervisor_id, session_id, seq) -> dict:
    """The supervisor serving the chat has read up to `seq`: the visitor sees their messages read."""
    return chat.mark_read(_served_by(supervisor_id, session_id), side="agent", seq=seq)


def _served_by(supervisor_id, session_id) -> str:
    served = Session.objects.filter(pk=str(session_id)[:64], type="im", state="active",
                                    taken_over_by_id=supervisor_id).values_list("pk", flat=True).first()
    if served is None:
        raise ServiceError(f"you serve chat {str(session_id)[:8]} only once you have taken it over")
    return served
