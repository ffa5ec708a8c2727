"""A session's media: its legs, and who hears and sees whom, from one declarative plan.

The web side never says "connect A to B"; it sends the whole `Plan` after every change (accept, hold, mute,
transfer), read from the session's row. Applying a plan twice changes nothing, so a lost or repeated command
is harmless and a restarted web process can re-send it.

Side `a` is the customer (or the agent who placed an internal call); side `b` the agent serving now, or
nobody while the session waits. Any other leg of the call (an agent still ringing, one who transferred it
away) hears silence and sees black. `record`, when set, records side a: what it says and what it hears
(media/recorder.py).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from .leg import Leg
from .recorder import Recorder


@dataclass(frozen=True)
class Recording:
    """Record the call to `path` (a file the engine's process can write) under `id`; `paused`: silence."""
    id: str
    path: str
    paused: bool = False

    @classmethod
    def from_dict(cls, data: dict | None) -> "Recording | None":
        return cls(str(data["id"]), data["path"], bool(data.get("paused"))) if data else None


@dataclass(frozen=True)
class Plan:
    a: str = ""
    b: str = ""
    ringing: str = ""  # the agent offered the session now: their leg may connect ahead of accepting
    hold: bool = False
    quiet: bool = False  # side a waits in silence rather than to music (a caller in the IVR, between prompts)
    muted: frozenset[str] = field(default_factory=frozenset)  # legs whose microphone is not passed on
    video_muted: frozenset[str] = field(default_factory=frozenset)  # legs whose camera is not passed on
    record: Recording | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "Plan":
        return cls(a=data.get("a") or "", b=data.get("b") or "", ringing=data.get("ringing") or "",
                   hold=bool(data.get("hold")), quiet=bool(data.get("quiet")),
                   muted=frozenset(data.get("muted") or ()), video_muted=frozenset(data.get("videoMuted") or ()),
                   record=Recording.from_dict(data.get("record")))


    @property
    def members(self) -> set[str]:
        """The legs that belong in the call now; any other (an agent whose offer ended) is closed."""
        return {leg for leg in (self.a, self.b, self.ringing) if leg}


class Call:
    def __init__(self, call_id: str):
        self.id = call_id
        self.legs: dict[str, Leg] = {}
        self.plan = Plan()
        self.recorder: Recorder | None = None

    def rewire(self) -> None:
        """Point every leg's outgoing tracks at what the plan says it should hear and see."""
        plan = self.plan
        a, b = self.legs.get(plan.a), self.legs.get(plan.b)
        for leg in self.legs.values():
            if leg.closed:
                continue
            if leg is a:
                peer, filler = b, "music" if plan.hold or not (plan.b or plan.quiet) else "silence"
            elif leg is b:
                peer, filler = a, "silence"
            else:
                peer, filler = None, "silence"
            if plan.hold or (peer is not None and peer.closed):
                peer = None
            if leg.audio_out is not None:
                leg.audio_out.play(filler)
                hears = peer is not None and peer.id not in plan.muted
                leg.audio_out.follow(peer.taps.get("audio") if hears else None)
            if leg.video_out is not None:
                sees = peer is not None and peer.id not in plan.video_muted
                leg.video_out.follow(peer.taps.get("video") if sees else None)
        self._record()

    def _record(self) -> None:
        """Start, pause, resume or stop the recording as the plan says, recording side a's leg as it is now."""
        wanted = self.plan.record
        if self.recorder is not None and (wanted is None or wanted.id != self.recorder.id):
            self.stop_recording()
        if wanted is None:
            return
        if self.recorder is None:
            self.recorder = Recorder(wanted.id, wanted.path, wanted.paused)
        self.recorder.pause(wanted.paused)
        a = self.legs.get(self.plan.a)
        self.recorder.follow(a if a is not None and not a.closed else None)

    def stop_recording(self) -> asyncio.Task | None:
        """Stop recording; returns the task that finishes the file (None if nothing was recorded)."""
        recorder, self.recorder = self.recorder, None
        return recorder.stop() if recorder is not None else None
