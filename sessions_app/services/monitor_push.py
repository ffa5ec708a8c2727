"""Telling the pages of supervisors monitoring a call (consumers/call_monitor.py) that it changed: it moved
(accepted, taken over, ended: `lifecycle.Moved`), or who monitors it and how changed (services/monitoring.py).
Each page joins `monitor_group(session_id)` and reads the call afresh; the message carries nothing else."""
from __future__ import annotations

from django.db import transaction

from .outbox import group_send


def monitor_group(session_id: str) -> str:
    return f"monitor.{session_id}"


def changed(session_id: str) -> None:
    """Right now (after a commit): the call's monitor pages read it again."""
    group_send(monitor_group(session_id), {"type": "call.changed"})


def on_commit(session_id: str) -> None:
    transaction.on_commit(lambda: changed(session_id), robust=True)
