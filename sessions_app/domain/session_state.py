"""A session's states, the moves allowed between them, and how a session that ends is counted. Pure rules.

    (new) ─► ivr ─► queued ─► ringing ─► active ─► ended   (every open state may end)
    ringing ─► queued    an offer not taken
    active  ─► queued    transferred to a skill group
    active  ─► ringing   transferred to an agent
    queued  ─► queued    moved to another skill group's queue by a supervisor

A phone call starts in the IVR or in a queue; a call an agent places (outbound, internal) starts ringing.
Every open state may end; nothing leaves `ended`. `services/lifecycle.py` is the only code that moves a
session, and it asks `check_move` first, so a move these rules do not allow is a bug caught where it starts,
not a row in a state nobody expects.
"""
from __future__ import annotations

NEW = "new"  # a session not saved yet
OPEN = ("ivr", "queued", "ringing", "active")

MOVES: dict[str, frozenset[str]] = {
    NEW: frozenset({"ivr", "queued", "ringing"}),
    "ivr": frozenset({"queued", "ended"}),
    "queued": frozenset({"ringing", "queued", "ended"}),
    "ringing": frozenset({"active", "queued", "ended"}),
    "active": frozenset({"queued", "ringing", "ended"}),
    "ended": frozenset(),
}


class MoveRefused(RuntimeError):
    """A move the rules do not allow: the code asking for it is wrong (callers check the state first)."""


def check_move(old: str, new: str) -> None:
    if new not in MOVES.get(old, ()):
        raise MoveRefused(f"a session cannot go from {old} to {new}")


def check_take_over(state: str, session_type: str, *, with_leg: bool = False) -> None:
    """A supervisor takes over a session in progress alone: it stays active, served by them instead of its agent
    (no move). A web chat needs nothing more; a call only from a supervisor who has a media leg of their own on
    it (monitoring it: `with_leg`), which becomes the serving side in the agent's place."""
    if state != "active" or (session_type != "im" and not with_leg):
        raise MoveRefused(f"a {session_type} session that is {state} cannot be taken over"
                          + ("" if session_type == "im" or state != "active" else " without a supervisor's leg"))


def end_status(accepted: bool, ringing_for_agent: bool) -> str:
    """How an ending is counted when nobody names a reason: served (ok), given up while an agent's phone rang,
    or given up while waiting (in the queue, the IVR, or for a far end to answer)."""
    if accepted:
        return "ok"
    return "ringingGiveUp" if ringing_for_agent else "waitingGiveUp"

