"""Calls of three voices through the engine with real peers: supervisors listening, whispering and barging, a
consult and a conference, each listener hearing the right set of tones (media/hearing.py, media/mix.py).

Tones name the voices: customer 440 Hz, agent 1000 Hz, supervisor 1500 Hz, consulted agent 2000 Hz. An ear
tells the set of tones it hears (`Ear.tones`), so "the supervisor hears the customer and the agent" is
asserted as "the supervisor's ear carries 440 and 1000 Hz and nothing else of the four".
"""
import asyncio

import numpy as np
import pytest

from sessions_app.media import sounds
from sessions_app.media.engine import MediaEngine
from sessions_app.media.mix import Mixer
from sessions_app.media.sounds import Music
from testing.peers import Peer

from .engine_helpers import join, plan, until

pytestmark = pytest.mark.service

CUSTOMER, AGENT, SUPERVISOR, CONSULTED = 440, 1000, 1500, 2000
VOICES = (CUSTOMER, AGENT, SUPERVISOR, CONSULTED)
GAP_MS = 60
TWO_VOICES = 0.6 * 32767 * 1.1  # two tones at 0.3 of full scale at once, and a codec's overshoot
TWO_PARTY = {"a": "customer", "b": "agent:1"}


def tones(peer: Peer, seconds: float = 0.3) -> set:
    return peer.ear.tones(VOICES, seconds) if peer.ear is not None else set()


def hears_music(peer: Peer) -> bool:
    return bool(peer.ear.tones(Music.NOTES_HZ[:3], 0.6)) and not tones(peer, 0.6)


async def hear(expected: dict, what: str, timeout: float = 5) -> None:
    """Wait until each peer hears exactly its set of tones."""
    await until(lambda: all(tones(peer) == heard for peer, heard in expected.items()), timeout=timeout,
                what=f"{what}: {[(sorted(heard), sorted(tones(peer))) for peer, heard in expected.items()]}")


async def stays(expected: dict, seconds: float = 0.6) -> None:
    """Each peer hears its set over the last `seconds`, nothing more ever slipped in (the ears keep 1 s)."""
    await asyncio.sleep(seconds)
    assert {peer: tones(peer, 1.0) for peer in expected} == expected


@pytest.fixture
async def call(engine):
    """Customer and agent bridged on call "c1"; `call.join(leg, hz, plan)` adds a leg; peers closed at the end."""
    made = []

    class Call:
        async def join(self, leg_id: str, hz: float, with_plan: dict, codec: str = "") -> Peer:
            made.append(Peer(hz, codec))
            await join(engine, "c1", leg_id, made[-1], plan=with_plan)
            await until(lambda: made[-1].ear is not None, what="the leg's track")
            return made[-1]

    helper = Call()
    helper.customer = await helper.join("customer", CUSTOMER, TWO_PARTY)
    helper.agent = await helper.join("agent:1", AGENT, TWO_PARTY)
    await hear({helper.customer: {AGENT}, helper.agent: {CUSTOMER}}, "bridged")
    yield helper
    for peer in made:
        await peer.close()


async def monitored(engine, call, mode: str) -> Peer:
    with_plan = {**TWO_PARTY, "monitors": {"supervisor": mode}}
    supervisor = await call.join("supervisor", SUPERVISOR, with_plan)
    await plan(engine, "c1", **with_plan)
    return supervisor


def mixers(engine) -> dict:
    return engine.calls["c1"].mixers


async def test_a_listening_supervisor_hears_both_and_nobody_hears_the_supervisor(engine, call):
    supervisor = await monitored(engine, call, "listen")
    await hear({supervisor: {CUSTOMER, AGENT}}, "the supervisor hears the call")
    await stays({supervisor: {CUSTOMER, AGENT}, call.customer: {AGENT}, call.agent: {CUSTOMER}})
    assert list(mixers(engine)) == ["supervisor"]  # customer and agent keep the direct path


async def test_a_voice_nobody_hears_is_not_decoded_until_someone_does(engine, call):
    """A supervisor listening with the microphone on: its audio arrives but nobody hears it, so it is not
    decoded (DESIGN: decode only while a call needs samples); barging, it is decoded and heard at once."""
    supervisor = await monitored(engine, call, "listen")
    await hear({supervisor: {CUSTOMER, AGENT}}, "listen")
    tap = engine.calls["c1"].legs["supervisor"].taps["audio"]
    decoded, heard = tap.frames_decoded, supervisor.ear.frames
    await until(lambda: supervisor.ear.frames > heard + 10, what="half a second more of the call")
    assert tap.frames_decoded == decoded
    await plan(engine, "c1", **TWO_PARTY, monitors={"supervisor": "barge"})
    await hear({call.customer: {AGENT, SUPERVISOR}, call.agent: {CUSTOMER, SUPERVISOR}}, "barge")
    await until(lambda: tap.frames_decoded > decoded + 10, what="the supervisor's voice decoded")


async def test_a_supervisor_without_a_microphone_listens(engine, call):
    """Listen mode's browser asks for no microphone: its receive-only leg gets the mix and sends nothing."""
    with_plan = {**TWO_PARTY, "monitors": {"supervisor": "listen"}}
    supervisor = Peer(SUPERVISOR, send=False)
    try:
        await join(engine, "c1", "supervisor", supervisor, plan=with_plan)
        await plan(engine, "c1", **with_plan)
        await hear({supervisor: {CUSTOMER, AGENT}, call.customer: {AGENT}, call.agent: {CUSTOMER}}, "listen")
        assert "audio" not in engine.calls["c1"].legs["supervisor"].taps
    finally:
        await supervisor.close()


async def test_a_whispering_supervisor_is_heard_by_the_agent_only(engine, call):
    supervisor = await monitored(engine, call, "whisper")
    await hear({supervisor: {CUSTOMER, AGENT}, call.agent: {CUSTOMER, SUPERVISOR}}, "whisper")
    await stays({supervisor: {CUSTOMER, AGENT}, call.agent: {CUSTOMER, SUPERVISOR}, call.customer: {AGENT}})


async def test_a_barging_supervisor_and_both_parties_each_hear_the_two_others(engine, call):
    supervisor = await monitored(engine, call, "barge")
    await hear({supervisor: {CUSTOMER, AGENT}, call.agent: {CUSTOMER, SUPERVISOR},
                call.customer: {AGENT, SUPERVISOR}}, "barge")
    assert sorted(mixers(engine)) == ["agent:1", "customer", "supervisor"]


async def test_mute_in_a_mixed_call_silences_that_voice_for_everyone(engine, call):
    supervisor = await monitored(engine, call, "barge")
    await hear({call.customer: {AGENT, SUPERVISOR}}, "barge")
    await plan(engine, "c1", **TWO_PARTY, monitors={"supervisor": "barge"}, muted=["agent:1"])
    await hear({supervisor: {CUSTOMER}, call.customer: {SUPERVISOR}, call.agent: {CUSTOMER, SUPERVISOR}},
               "the agent muted")


async def test_changing_mode_keeps_the_supervisors_leg_and_leaving_restores_the_direct_path(engine, call):
    customer_sdp = engine.calls["c1"].legs["customer"].pc.localDescription.sdp
    supervisor = await monitored(engine, call, "listen")
    leg = engine.calls["c1"].legs["supervisor"]
    await hear({supervisor: {CUSTOMER, AGENT}}, "listen")
    await plan(engine, "c1", **TWO_PARTY, monitors={"supervisor": "barge"})
    await hear({call.customer: {AGENT, SUPERVISOR}, call.agent: {CUSTOMER, SUPERVISOR}}, "barge")
    await plan(engine, "c1", **TWO_PARTY, monitors={"supervisor": "whisper"})
    await hear({call.customer: {AGENT}, call.agent: {CUSTOMER, SUPERVISOR}}, "whisper")
    assert engine.calls["c1"].legs["supervisor"] is leg and not leg.closed
    await plan(engine, "c1", **TWO_PARTY)
    await until(lambda: supervisor.pc.connectionState == "closed", what="the supervisor's leg closes")
    await until(lambda: not mixers(engine), what="every mixer stopped")
    await hear({call.customer: {AGENT}, call.agent: {CUSTOMER}}, "two parties again")
    legs = engine.calls["c1"].legs
    assert legs["customer"].audio_out.feed.tap is legs["agent:1"].taps["audio"]  # direct, no mixer
    assert legs["agent:1"].audio_out.feed.tap is legs["customer"].taps["audio"]
    assert legs["customer"].pc.localDescription.sdp == customer_sdp  # nobody was renegotiated
    assert call.customer.pc.signalingState == "stable"


async def test_consult_holds_the_customer_then_conference_then_back_to_the_customer(engine, call):
    consulting = {**TWO_PARTY, "consult": "agent:2"}
    consulted = await call.join("agent:2", CONSULTED, consulting)
    await plan(engine, "c1", **consulting)
    await hear({call.agent: {CONSULTED}, consulted: {AGENT}}, "the agents talk privately")
    await until(lambda: hears_music(call.customer), what="the customer hears music, neither agent")
    await asyncio.sleep(0.6)
    assert hears_music(call.customer)
    await plan(engine, "c1", **consulting, conference=True)
    await hear({call.customer: {AGENT, CONSULTED}, call.agent: {CUSTOMER, CONSULTED},
                consulted: {CUSTOMER, AGENT}}, "conference")
    await plan(engine, "c1", **TWO_PARTY)
    await hear({call.customer: {AGENT}, call.agent: {CUSTOMER}}, "back to the customer")
    await until(lambda: not mixers(engine), what="every mixer stopped")


async def test_a_phone_customer_on_pcmu_is_mixed_with_opus_browsers(engine):
    customer, agent, supervisor = Peer(CUSTOMER, "audio/PCMU"), Peer(AGENT, "audio/opus"), Peer(SUPERVISOR, "audio/opus")
    barging = {**TWO_PARTY, "monitors": {"supervisor": "barge"}}
    try:
        for leg_id, peer in (("customer", customer), ("agent:1", agent), ("supervisor", supervisor)):
            await join(engine, "c1", leg_id, peer, plan=barging)
        await plan(engine, "c1", **barging)
        await hear({customer: {AGENT, SUPERVISOR}, agent: {CUSTOMER, SUPERVISOR}, supervisor: {CUSTOMER, AGENT}},
                   "mixed across codecs")
        assert {mixer.fmt.rate for mixer in mixers(engine).values()} == {8000, 48000}
    finally:
        for peer in (customer, agent, supervisor):
            await peer.close()


async def test_a_caller_on_the_trunk_is_mixed_like_a_browser(engine):
    """A phone leg (the trunk's RTP, G.711) in a barge: the caller hears agent and supervisor, and both hear
    the caller."""
    from testing.peers import tones_present

    from .phone_peer import RATE, PhonePeer

    phone, agent, supervisor = PhonePeer(), Peer(AGENT, "audio/opus"), Peer(SUPERVISOR, "audio/opus")
    barging = {"a": "phone", "b": "agent:1", "monitors": {"supervisor": "barge"}}
    try:
        await engine.perform("open_rtp_leg", {"call_id": "c1", "leg_id": "phone", "remote_host": "127.0.0.1",
                                              "remote_port": phone.port, "payload_type": 0,
                                              "telephone_event_pt": 101, "plan": barging})
        phone.speak(CUSTOMER)
        for leg_id, peer in (("agent:1", agent), ("supervisor", supervisor)):
            await join(engine, "c1", leg_id, peer, plan=barging)
        await plan(engine, "c1", **barging)

        def phone_hears():
            recent = list(phone.recent[-15:])
            return tones_present(np.concatenate(recent) if recent else np.zeros(0), RATE, VOICES)

        await until(lambda: phone_hears() == {AGENT, SUPERVISOR}, what=f"the caller hears both: {phone_hears()}")
        await hear({agent: {CUSTOMER, SUPERVISOR}, supervisor: {CUSTOMER, AGENT}}, "both hear the caller")
    finally:
        for peer in (agent, supervisor):
            await peer.close()
        await asyncio.to_thread(phone.close)


async def test_a_voice_joining_and_leaving_leaves_no_gap_over_60_ms_and_no_click(engine, call):
    """The customer hears the agent throughout while a supervisor barges in and leaves: from the direct path
    to a mix and back, the longest stretch without sound the customer receives stays under 60 ms (measured:
    0.1 ms, a zero crossing), and nothing is louder than the two voices together."""
    barging = {**TWO_PARTY, "monitors": {"supervisor": "barge"}}
    supervisor = await call.join("supervisor", SUPERVISOR, barging)
    await asyncio.sleep(0.3)
    call.customer.ear.reset_runs()
    for _ in range(2):
        await plan(engine, "c1", **barging)
        await hear({call.customer: {AGENT, SUPERVISOR}}, "the supervisor joins")
        await plan(engine, "c1", **barging, muted=["supervisor"])  # the supervisor's voice leaves the mix
        await hear({call.customer: {AGENT}}, "the supervisor muted")
        await until(lambda: "customer" not in mixers(engine), what="the customer back on the direct path")
        await asyncio.sleep(0.2)
    assert call.customer.ear.longest_quiet_ms() <= GAP_MS, call.customer.ear.longest_quiet_ms()
    assert call.customer.ear.loudest <= TWO_VOICES, call.customer.ear.loudest
    assert supervisor.pc.connectionState == "connected"


async def test_a_plan_with_an_unknown_monitoring_mode_is_refused_and_changes_nothing(engine, call):
    from sessions_app.media.leg import LegError

    shouting = {**TWO_PARTY, "monitors": {"supervisor": "shout"}}
    with pytest.raises(LegError, match="'shout' is no monitoring mode for supervisor"):
        await plan(engine, "c1", **shouting)
    with pytest.raises(LegError, match="no monitoring mode"):
        await engine.perform("open_leg", {"call_id": "c2", "leg_id": "supervisor", "sdp": "", "plan": shouting})
    assert list(engine.calls) == ["c1"] and engine.calls["c1"].plan.monitors == {}
    await hear({call.customer: {AGENT}, call.agent: {CUSTOMER}}, "the call goes on")


async def test_mixers_end_and_close_their_feeds_once_no_longer_needed(engine, call):
    barging = {**TWO_PARTY, "monitors": {"supervisor": "barge"}}
    supervisor = await call.join("supervisor", SUPERVISOR, barging)
    await plan(engine, "c1", **barging)
    await hear({call.customer: {AGENT, SUPERVISOR}}, "barge")
    used = list(mixers(engine).values())
    taps = {leg_id: leg.taps["audio"] for leg_id, leg in engine.calls["c1"].legs.items()}
    assert len(used) == 3 and all(len(tap.feeds) == 2 for tap in taps.values())  # each voice in two mixes
    await plan(engine, "c1", **TWO_PARTY)
    await until(lambda: not mixers(engine) and all(m.task.done() for m in used), what="the mixers end")
    assert all(not mixer.feeds and not mixer.voices for mixer in used)
    # the other party's direct path: forwarded (an encoded feed) or decoded
    assert all(len(taps[leg].feeds) + len(taps[leg].encoded_feeds) == 1 for leg in ("customer", "agent:1"))
    assert not taps["supervisor"].feeds
    await until(lambda: supervisor.pc.connectionState == "closed", what="the supervisor's peer sees its leg closed")
    await call.join("supervisor", SUPERVISOR, barging)  # mixes again, then the call ends
    await plan(engine, "c1", **barging)
    await until(lambda: len(mixers(engine)) == 3, what="mixed again")
    used = list(mixers(engine).values())
    await engine.perform("end_call", {"call_id": "c1"})
    await until(lambda: all(m.task.done() for m in used), what="the call's mixers end with it")


class SteadyVoice:
    """A tap whose every frame is 20 ms of one constant level (8 kHz), always ready."""

    def __init__(self, level: int):
        self.frame = sounds.audio_frame(sounds.AudioFormat(8000, 1), np.full(160, level, dtype=np.int16))
        self.feeds = set()

    def listen(self):
        feed = SteadyFeed(self)
        self.feeds.add(feed)
        return feed


class SteadyFeed:
    def __init__(self, tap: SteadyVoice):
        self.tap = tap

    def take(self):
        return self.tap.frame

    def close(self):
        self.tap.feeds.discard(self)


async def test_a_mixer_sums_with_saturation_and_fades_voices_in_and_out():
    """Two loud voices clip at full scale instead of wrapping around; a joining voice starts from zero level,
    a leaving one ramps down over one frame and is then let go."""
    mixer = Mixer(sounds.AudioFormat(8000, 1))
    try:
        loud, louder = SteadyVoice(30000), SteadyVoice(20000)
        mixer.mix([loud, louder], steady=loud)
        first = mixer.next_frame().to_ndarray().reshape(-1)
        assert first[0] == 30000  # the steady voice at once, the new one from zero
        assert first[-1] == 32767  # then both: clipped, not wrapped
        mixer.mix([loud])
        assert mixer.fading
        last = mixer.next_frame().to_ndarray().reshape(-1)
        assert last[0] == 32767 and last[-1] == 30000  # the leaving voice ramped down within the frame
        assert not mixer.fading and mixer.sources == {loud} and not louder.feeds
    finally:
        mixer.close()
    assert not loud.feeds


async def barged_call(engine: MediaEngine, number: int) -> None:
    """A customer, an agent and a barging supervisor each hear the two others, then the supervisor leaves and
    the call ends: three mixers made and ended."""
    peers = {"customer": Peer(CUSTOMER), "agent:1": Peer(AGENT), "supervisor": Peer(SUPERVISOR)}
    barging = {**TWO_PARTY, "monitors": {"supervisor": "barge"}}
    call_id = f"call{number}"
    try:
        for leg_id, peer in peers.items():
            await join(engine, call_id, leg_id, peer, plan=barging)
        await plan(engine, call_id, **barging)
        await until(lambda: all(tones(peers[leg]) == heard for leg, heard in (
            ("customer", {AGENT, SUPERVISOR}), ("agent:1", {CUSTOMER, SUPERVISOR}), ("supervisor", {CUSTOMER, AGENT}))))
        await plan(engine, call_id, **TWO_PARTY)
        await until(lambda: not engine.calls[call_id].mixers, what="back to the direct path")
        await engine.perform("end_call", {"call_id": call_id})
    finally:
        for peer in peers.values():
            await peer.close()


async def test_monitored_calls_leave_nothing_behind(engine):
    """As tests/test_media_leaks.py checks two-party calls, on a smaller scale: mixers' tasks, feeds and
    resamplers go with the plan that needed them."""
    from .test_media_leaks import OBJECTS_NOISE, resources

    for number in range(0, 6, 3):  # warm-up: codecs, resamplers, allocator arenas
        await asyncio.gather(*(barged_call(engine, n) for n in range(number, number + 3)))
    await until(lambda: len(asyncio.all_tasks()) == 1, what="the warm-up calls' tasks end")
    warm = resources()
    for number in range(6, 24, 3):
        await asyncio.gather(*(barged_call(engine, n) for n in range(number, number + 3)))
    await until(lambda: len(asyncio.all_tasks()) == 1, what="the calls' tasks end")
    after = resources()
    assert engine.calls == {}
    assert after["threads"] == warm["threads"] and after["fds"] <= warm["fds"]
    assert after["objects"] - warm["objects"] <= OBJECTS_NOISE, (warm, after)
