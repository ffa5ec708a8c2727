"""A session's timeline: one line per thing that happened to it, shown on its admin page."""
from __future__ import annotations

from ..models import Session, SessionEvent


def log(session: Session, what: str) -> None:
    SessionEvent.objects.create(session=session, what=what[:200])
