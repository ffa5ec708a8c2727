"""Who hears whom, who sees whom, and what a leg hears when it hears no one: a call's plan read as rules.

Every rule of a call's audio lives here, as pure functions of the `Plan` (media/call.py), so they are tested
in milliseconds and `Call.rewire` only carries them out. The rules:

- The conversation: `a` (the customer side) and `b` (the serving agent). While `consult` names a leg and
  `conference` is off, the conversation is `b` and `consult`, and `a` is held (music). With `conference` on it
  is `a`, `b` and `consult`. `hold` takes `a` out of it (music for `a`; nobody hears `a`).
- Each party to the conversation hears every other one.
- Monitors (a supervisor's leg) by mode: "listen" hears the conversation and nobody hears it; "whisper" hears
  the conversation and `b` hears it too (nobody else does); "barge" joins the conversation.
- A `ringing` leg hears nothing and nobody hears it, whatever else names it (an agent not yet accepting).
- A `muted` leg's voice reaches nobody; it still hears.
- A monitor entry naming a party of the call (`a`, `b`, `consult`, `ringing`) is ignored: a party cannot watch
  its own call.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .call import Plan

LISTEN, WHISPER, BARGE = "listen", "whisper", "barge"
MONITOR_MODES = (LISTEN, WHISPER, BARGE)
# Whose picture a leg sees, first one it can hear (muted or not): a call shows one picture, not a mosaic.
PARTNERS_SEEN = {"a": ("b", "consult"), "b": ("a", "consult"), "consult": ("b", "a"), "monitor": ("a", "b")}


def held(plan: Plan) -> bool:
    """Side `a` waits to music: on hold, or while its agent consults another in private."""
    return plan.hold or bool(plan.consult and not plan.conference)


def monitors(plan: Plan) -> dict[str, str]:
    """The plan's monitor legs by mode, without any that is a party to the call."""
    parties = {plan.a, plan.b, plan.consult, plan.ringing}
    return {leg: mode for leg, mode in plan.monitors.items() if leg and leg not in parties}


def conversation(plan: Plan) -> frozenset[str]:
    """The legs that all hear each other now."""
    talkers = {plan.b, plan.consult} if plan.consult else {plan.a, plan.b}
    if plan.consult and plan.conference:
        talkers.add(plan.a)
    if plan.hold:
        talkers.discard(plan.a)
    talkers |= {leg for leg, mode in monitors(plan).items() if mode == BARGE}
    return frozenset(talkers - {"", plan.ringing})


def earshot(plan: Plan) -> dict[str, frozenset[str]]:
    """Every member leg and the legs within its earshot, mute aside (what it would hear unmuted)."""
    talkers = conversation(plan)
    heard: dict[str, set[str]] = {leg: set() for leg in plan.members}
    for leg in talkers:
        heard[leg] = set(talkers - {leg})
    for leg, mode in monitors(plan).items():
        if mode != BARGE:
            heard[leg] = set(talkers)
        if mode == WHISPER and plan.b in talkers:
            heard[plan.b].add(leg)
    return {leg: frozenset(sources) for leg, sources in heard.items()}


def hearing(plan: Plan) -> dict[str, frozenset[str]]:
    """Every member leg and the legs whose voice it hears now: one source is passed on as it is, several are
    mixed (media/mix.py), none is the filler (`filler`)."""
    return {leg: sources - plan.muted for leg, sources in earshot(plan).items()}


def filler(plan: Plan, leg: str) -> str:
    """What `leg` hears when it hears no one: music for side `a` while held or waiting for an agent (unless it
    waits in the quiet of the IVR), silence for everyone else."""
    if leg == plan.a and (held(plan) or not (plan.b or plan.quiet)):
        return "music"
    return "silence"


def seeing(plan: Plan) -> dict[str, str]:
    """Every member leg and the leg whose camera it sees ("" for none: black). Each sees its partner (`a` and
    `b` each other; during a consult `b` and `consult`; a monitor the customer) if it can hear that leg, even
    muted, and its camera is on."""
    near = earshot(plan)
    roles = {plan.a: "a", plan.b: "b", plan.consult: "consult", **{leg: "monitor" for leg in monitors(plan)}}
    named = {"a": plan.a, "b": plan.b, "consult": plan.consult}
    seen = {}
    for leg, sources in near.items():
        partners = (named[role] for role in PARTNERS_SEEN.get(roles.get(leg, ""), ()))
        partner = next((p for p in partners if p and p in sources), "")
        seen[leg] = "" if partner in plan.video_muted else partner
    return seen
