"""Deliver events to agents after the transaction that caused them commits.

Every connection of an agent joins the channel-layer group `agent_group(agent_id)`; services call `publish`
inside their transaction and the frame leaves only on commit, so nobody hears of a change that rolled back.
The workbench's pages also join `pages_group(agent_id)`, for what only they show (status, hold and mute
changes; chats): an SDK connection (a CRM's) gets no channel-layer message it would ignore. `agent.revoked` on
the agent's group closes every connection of the agent, on every process.
"""
from __future__ import annotations

from django.db import transaction

from ..domain import protocol
from .outbox import group_send


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


def pages_group(agent_id: int) -> str:
    return f"agent.{agent_id}.pages"


def publish(agent_id: int, name: str, **fields) -> None:
    frame = protocol.event(name, **fields)
    transaction.on_commit(lambda: send_frame(agent_id, frame))


def send_frame(agent_id: int, frame: dict) -> None:
    group_send(agent_group(agent_id), {"type": "agent.frame", "frame": frame})


def publish_change(agent_id: int) -> None:
    """Something the agent's pages show changed without an SDK event for it (the spec has none for a status
    change, hold or mute): the workbench re-reads its state."""
    transaction.on_commit(lambda: group_send(pages_group(agent_id), {"type": "agent.changed"}))


def publish_revocation(agent_id: int, reason: str) -> None:
    """The agent's logins ended (services/logins.py): once that commits, each of its sockets closes, saying why."""
    transaction.on_commit(lambda: group_send(agent_group(agent_id), {"type": "agent.revoked", "reason": reason}))
