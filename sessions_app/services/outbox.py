"""Channel-layer sends from database work, in commit order, without making the database thread wait.

Services publish on commit, on the one thread that does the database work. `async_to_sync(group_send)`
there would stop that thread until the event loop had run the send, and cost a task and two thread
wake-ups per event. On a thread serving the server's loop (under daphne, `serve_on` names the loop and what
to hand the sends to: `workbench/outbox.py`, which sends them in order from one task) the message is handed to
the loop instead. Elsewhere (a management command, a thread of its own, tests' short-lived loops, where a
task left sending through Redis when the loop closes would hang its closing) the send happens at once.
"""
from __future__ import annotations

import asyncio
from typing import Callable

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer

_server_loop: asyncio.AbstractEventLoop | None = None
_hand_over: Callable[[str, dict], None] | None = None


def serve_on(loop: asyncio.AbstractEventLoop | None, hand_over: Callable[[str, dict], None] | None) -> None:
    """Sends from threads serving `loop` (the server's, which lives as long as the process) are handed to
    `hand_over`, called on that loop; None: every send happens at once."""
    global _server_loop, _hand_over
    _server_loop, _hand_over = loop, hand_over


def group_send(group: str, message: dict) -> None:
    loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)  # set on threads serving sync_to_async
    if loop is not None and loop is _server_loop and loop.is_running():
        loop.call_soon_threadsafe(_hand_over, group, message)
    else:
        async_to_sync(get_channel_layer().group_send)(group, message)
