"""How often an anonymous web customer may start chats and calls, and write chat messages.

Anyone on an allowed page may start a chat or a web call, so starts are limited per visitor (the id their
browser keeps, `new_visitor_id`) and per client address (the visitor id is theirs to drop; the address is not),
over `START_LIMIT_WINDOW` seconds, chats and calls together. Chat messages are limited per visitor over all
their chats (domain.chat.RATE_LIMITS), so ending a chat and starting another does not start the count afresh.

Both are counted in the database, in rows that exist anyway (sessions, messages): the limits then hold across
processes in every deployment, the embedded one without Redis included, at the cost of one indexed count per
start or message. Concurrent starts on different processes may pass the same last free place (on PostgreSQL; SQLite
takes the write lock first): a limit can be exceeded by one start per process at the same instant.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from ..domain import chat as rules
from ..models import ChatMessage, Session
from .errors import LimitReached

VISITOR_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
WEB_TYPES = ("im", "voip", "video")
TOO_MANY_STARTS = "you have started too many chats and calls: wait a few minutes before starting another"
TOO_MANY_FROM_ADDRESS = ("too many chats and calls were started from your network: wait a few minutes before "
                         "starting another")


@dataclass(frozen=True)
class Visitor:
    """A web customer as far as we can tell: the id their browser keeps, and the address they connect from."""
    id: str
    address: str = ""


def new_visitor_id() -> str:
    return secrets.token_urlsafe(16)


def visitor_id_or_new(given) -> str:
    """The visitor id a browser sent, if it is one of ours in form; else a new one."""
    return given if isinstance(given, str) and VISITOR_ID.fullmatch(given) else new_visitor_id()


def check_start(visitor: Visitor) -> None:
    """Refuse a start past the visitor's or the address's limit (settings.START_LIMIT_*; 0: no limit)."""
    since = timezone.now() - timedelta(seconds=settings.START_LIMIT_WINDOW)
    recent = Session.objects.filter(created_at__gte=since, type__in=WEB_TYPES)
    if settings.START_LIMIT_PER_VISITOR and visitor.id and recent.filter(
            visitor_id=visitor.id).count() >= settings.START_LIMIT_PER_VISITOR:
        raise LimitReached(TOO_MANY_STARTS)
    if settings.START_LIMIT_PER_ADDRESS and visitor.address and recent.filter(
            client_address=visitor.address).count() >= settings.START_LIMIT_PER_ADDRESS:
        raise LimitReached(TOO_MANY_FROM_ADDRESS)


def check_message(session: Session) -> None:
    """Refuse a visitor's message past domain.chat.RATE_LIMITS, counted over all the visitor's chats (the
    session's alone for a chat with no visitor id)."""
    now = timezone.now()
    longest = max(seconds for _, seconds in rules.RATE_LIMITS)
    mine = ChatMessage.objects.filter(sender="visitor", created_at__gte=now - timedelta(seconds=longest))
    mine = mine.filter(session__visitor_id=session.visitor_id) if session.visitor_id else mine.filter(session=session)
    windows = {f"w{seconds}": Count("pk", filter=Q(created_at__gte=now - timedelta(seconds=seconds)))
               for _, seconds in rules.RATE_LIMITS}
    counts = mine.aggregate(**windows)
    if rules.too_fast(tuple(counts[f"w{seconds}"] for _, seconds in rules.RATE_LIMITS)):
        raise LimitReached(rules.TOO_FAST)
