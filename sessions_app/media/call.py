"""A session's media: its legs, and who hears and sees whom, from one declarative plan.

The web side never says "connect A to B"; it sends the whole `Plan` after every change (accept, hold, mute,
transfer), read from the session's row. Applying a plan twice changes nothing, so a lost or repeated command
is harmless and a restarted web process can re-send it.

Side `a` is the customer (or the agent who placed an internal call); side `b` the agent serving now, or
nobody while the session waits; `consult` another agent or number `b` consults (privately, or in a
`conference` of all three); `monitors` supervisors' legs listening, whispering or barging. Any other leg of the
call (an agent still ringing, one who transferred it away) hears silence and sees black. Who hears whom is
`hearing.hearing(plan)`: one source is passed on as it comes, several are mixed (`mix.Mixer`). `record`, when set,
records side a: what it says and what it hears (media/recorder.py).

Passed on as it comes means forwarded, when the call's `forwarding` is on (the `MEDIA_FORWARDING` setting): a
leg whose one source is a leg on the same codec gets that leg's encoded frames, unchanged, and nothing decodes
them unless something else needs the samples (media/encoded.py). It is decoded (and re-encoded) while the
leg hears several voices (a mix), the filler or a prompt (switch.py moves between the two frame by frame), or
a source on another codec. A recording of a customer on Opus keeps the packets as they are carried; one made
from samples (a phone caller's G.711, or with forwarding off) has the recorded leg decoded, what it hears
too (the recorder takes what it is sent as samples; the leg it hears is still forwarded to the other side).
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from . import hearing
from .commands import LegError
from .encoded import codec_name
from .leg import Leg
from .mix import Mixer
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
    consult: str = ""  # the leg `b` consults: with `a` held unless `conference`
    conference: bool = False  # a, b and consult all hear each other
    monitors: dict[str, str] = field(default_factory=dict)  # leg -> "listen" | "whisper" | "barge"
    record: Recording | None = None

    @classmethod
    def from_dict(cls, data: dict) -> "Plan":
        monitors = dict(data.get("monitors") or {})
        for leg, mode in monitors.items():
            if mode not in hearing.MONITOR_MODES:
                raise LegError(f"{mode!r} is no monitoring mode for {leg} (listen, whisper or barge)")
        return cls(a=data.get("a") or "", b=data.get("b") or "", ringing=data.get("ringing") or "",
                   hold=bool(data.get("hold")), quiet=bool(data.get("quiet")),
                   muted=frozenset(data.get("muted") or ()), video_muted=frozenset(data.get("videoMuted") or ()),
                   consult=data.get("consult") or "", conference=bool(data.get("conference")), monitors=monitors,
                   record=Recording.from_dict(data.get("record")))

    @property
    def members(self) -> set[str]:
        """The legs that belong in the call now; any other (an agent whose offer ended) is closed."""
        return {leg for leg in (self.a, self.b, self.ringing, self.consult, *self.monitors) if leg}


FORWARDED_AUDIO = {"opus", "pcmu", "pcma"}
FORWARDED_VIDEO = {"vp8"}


class Call:
    def __init__(self, call_id: str, forwarding: bool = True):
        self.id = call_id
        self.forwarding = forwarding  # pass one same-codec source on encoded (see the module's docstring)
        self.legs: dict[str, Leg] = {}
        self.plan = Plan()
        self.recorder: Recorder | None = None
        self.mixers: dict[str, Mixer] = {}  # by listening leg: only while it hears two or more voices

    def rewire(self) -> None:
        """Point every leg's outgoing tracks at what the plan says it should hear and see: one voice is
        followed directly (a two-party call costs no more than forwarding), several through a mixer of them,
        none is the filler. Re-pointing needs no renegotiation."""
        plan = self.plan
        heard, seen = hearing.hearing(plan), hearing.seeing(plan)
        live = {leg_id: leg for leg_id, leg in self.legs.items() if not leg.closed}
        self._record()
        recorded = plan.a if self.recorder is not None and not self.recorder.packets else None
        for leg_id, leg in live.items():
            if leg.audio_out is not None:
                leg.audio_out.play(hearing.filler(plan, leg_id))
                sources = [live[source] for source in sorted(heard.get(leg_id, ()))
                           if source in live and "audio" in live[source].taps]
                follow = self._audio_source(leg_id, leg.audio_out, [source.taps["audio"] for source in sources])
                forward = (follow is not None and len(sources) == 1 and follow is sources[0].taps["audio"]
                           and leg_id != recorded
                           and self._forwards(sources[0].audio_codec, leg.audio_codec, FORWARDED_AUDIO))
                leg.audio_out.follow(follow, encoded=forward)
            if leg.video_out is not None:
                source = live.get(seen.get(leg_id, ""))
                tap = source.taps.get("video") if source is not None else None
                forward = tap is not None and self._forwards(getattr(source, "video_codec", ""),
                                                             getattr(leg, "video_codec", ""), FORWARDED_VIDEO)
                leg.video_out.follow(tap, encoded=forward)
        for leg_id in set(self.mixers) - set(live):
            self.mixers.pop(leg_id).close()

    def _forwards(self, source_codec: str, leg_codec: str, forwarded: set[str]) -> bool:
        """Whether a leg on `leg_codec` gets its source on `source_codec` forwarded (encoded, unchanged)."""
        return self.forwarding and codec_name(source_codec) == codec_name(leg_codec) in forwarded

    def _record(self) -> None:
        """Start, pause, resume or stop the recording as the plan says, recording side a's leg as it is now."""
        wanted = self.plan.record
        if self.recorder is not None and (wanted is None or wanted.id != self.recorder.id):
            self.stop_recording()
        if wanted is None:
            return
        a = self.legs.get(self.plan.a)
        a = a if a is not None and not a.closed else None
        if self.recorder is None:
            if a is not None and not a.audio_codec:
                return  # its offer is being answered: the recording starts once its codec is known, a moment on
            # from the packets carried while the customer's voice is forwarded Opus, else from samples
            packets = self.forwarding and a is not None and codec_name(a.audio_codec) == "opus"
            self.recorder = Recorder(wanted.id, wanted.path, wanted.paused, packets=packets)
        self.recorder.pause(wanted.paused)
        self.recorder.follow(a)

    def stop_recording(self) -> asyncio.Task | None:
        """Stop recording; returns the task that finishes the file (None if nothing was recorded)."""
        recorder, self.recorder = self.recorder, None
        return recorder.stop() if recorder is not None else None

    def _audio_source(self, leg_id: str, out, taps: list):
        """The one tap `leg_id` hears, its mixer of several, or None. A mixer whose voices drop to one or none
        lives on until the leaving voices have faded out (it then calls `rewire` again), so nobody clicks off."""
        mixer = self.mixers.get(leg_id)
        if mixer is not None:
            mixer.mix(taps)
            if len(taps) >= 2 or mixer.fading:
                return mixer
            self.mixers.pop(leg_id).close()
        if len(taps) < 2:
            return taps[0] if taps else None
        current = out.feed.tap if out.feed is not None else None
        self.mixers[leg_id] = mixer = Mixer(out.fmt, on_faded=self.rewire)
        mixer.mix(taps, steady=current)  # the voice it heard already goes on at full level: no dip
        return mixer

    def leg_stats(self, leg: Leg) -> dict:
        """The leg's own stats, and while it hears a mix, how many frames its mixer has made."""
        mixer = self.mixers.get(leg.id)
        return leg.stats() if mixer is None else {**leg.stats(), "mixFramesOut": mixer.frames_out}

    def close(self) -> None:
        """Stop every mixer (the legs close on their own)."""
        for mixer in self.mixers.values():
            mixer.close()
        self.mixers.clear()
