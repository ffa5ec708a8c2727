"""The media engine with real peers: RTP, DTLS and codecs on the loopback, tones in, tones heard.

Each `Peer` stands in for a browser: it sends a sine of its own frequency and its `Ear` tells the dominant
frequency of what the bridge sends back, so "the agent hears the customer" is asserted as "the agent's ear
hears 440 Hz". No database: the engine is driven directly, as `services.media` drives it.
"""
import asyncio
import fractions
import re
import threading

import pytest
from aiortc.mediastreams import VideoStreamTrack

from sessions_app.media.engine import MediaEngine
from sessions_app.media.leg import LegError
from testing.peers import Peer
from sessions_app.media.sounds import Music

from .engine_helpers import hears, join, near, plan, until

pytestmark = pytest.mark.service

CUSTOMER_HZ, AGENT_HZ, SECOND_AGENT_HZ = 440, 1000, 1500
CODECS = pytest.mark.parametrize("codec", ["audio/opus", "audio/PCMU"])


def hears_music(peer: Peer) -> bool:
    return any(near(peer.ear.hears(0.2), note) for note in Music.NOTES_HZ)


@pytest.fixture
async def peer():
    """Factory of peers (hz, codec, video); all are closed at the end of the test."""
    made = []

    def make(hz: float, codec: str = "", video: bool = False) -> Peer:
        made.append(Peer(hz, codec, video))
        return made[-1]

    yield make
    for p in made:
        await p.close()


async def legs(engine: MediaEngine) -> dict:
    return (await engine.perform("stats", {}))["calls"]


async def bridged(engine, peer, codec: str = "") -> tuple[Peer, Peer]:
    """A customer and an agent on call "c1", bridged, each already hearing the other."""
    customer, agent = peer(CUSTOMER_HZ, codec), peer(AGENT_HZ, codec)
    await join(engine, "c1", "customer", customer)
    await join(engine, "c1", "agent:1", agent)
    await plan(engine, "c1", a="customer", b="agent:1")
    await until(lambda: hears(customer, AGENT_HZ) and hears(agent, CUSTOMER_HZ), what="bridged")
    return customer, agent


def hangs_up(peer: Peer) -> bool:
    """The bridge closed the peer's leg: its connection is over and nothing more is heard."""
    return peer.pc.connectionState == "closed" and peer.ear.task.done()


async def test_customer_hears_queue_music_until_an_agent_is_bridged(engine, peer):
    customer = peer(CUSTOMER_HZ)
    await join(engine, "c1", "customer", customer, plan={"a": "customer"})
    await until(lambda: hears_music(customer), what="queue music")
    agent = peer(AGENT_HZ)
    await plan(engine, "c1", a="customer", ringing="agent:1")
    await join(engine, "c1", "agent:1", agent, plan={"a": "customer", "ringing": "agent:1"})
    await until(lambda: hears(agent, 0), what="a ringing agent hears silence")
    assert hears_music(customer)
    await plan(engine, "c1", a="customer", b="agent:1")
    await until(lambda: hears(customer, AGENT_HZ) and hears(agent, CUSTOMER_HZ), what="bridged")


async def test_an_offer_that_ends_closes_the_ringing_leg_and_the_music_goes_on(engine, peer):
    customer, agent = peer(CUSTOMER_HZ), peer(AGENT_HZ)
    await join(engine, "c1", "customer", customer, plan={"a": "customer", "ringing": "agent:1"})
    await join(engine, "c1", "agent:1", agent, plan={"a": "customer", "ringing": "agent:1"})
    assert await engine.perform("apply_plan", {"call_id": "c1", "plan": {"a": "customer"}}) == {"legs": ["customer"]}
    await until(lambda: hangs_up(agent), what="the agent's leg is closed")
    await until(lambda: hears_music(customer), what="queue music")


async def test_a_leg_that_is_no_party_to_the_call_is_refused(engine, peer):
    customer, stranger = peer(CUSTOMER_HZ), peer(AGENT_HZ)
    await join(engine, "c1", "customer", customer, plan={"a": "customer"})
    with pytest.raises(LegError, match="agent:9 is not a party to call c1"):
        await engine.perform("open_leg", {"call_id": "c1", "leg_id": "agent:9", "sdp": await stranger.offer(),
                                          "plan": {"a": "customer"}})
    assert list((await legs(engine))["c1"]) == ["customer"]


@CODECS
async def test_bridged_legs_hear_each_other(engine, peer, codec):
    customer, agent = await bridged(engine, peer, codec)
    call = (await legs(engine))["c1"]
    assert {leg["codec"].lower() for leg in call.values()} == {codec.lower()}
    assert {leg["state"] for leg in call.values()} == {"connected"}


async def test_audio_is_decoded_and_encoded_on_the_loop_without_threads(engine, peer):
    """patches.install() keeps audio off aiortc's decoder threads and the executor (half the CPU otherwise):
    this fails if an aiortc upgrade makes the patch miss its mark."""
    await bridged(engine, peer)
    assert [t.name for t in threading.enumerate() if t.name == "audio-decoder"] == []
    assert asyncio.get_running_loop()._default_executor is None  # nothing was ever sent to the executor


async def test_legs_on_different_codecs_are_bridged_with_one_conversion(engine, peer):
    customer, agent = peer(CUSTOMER_HZ, "audio/PCMU"), peer(AGENT_HZ, "audio/opus")
    await join(engine, "c1", "customer", customer)
    await join(engine, "c1", "agent:1", agent)
    await plan(engine, "c1", a="customer", b="agent:1")
    await until(lambda: hears(customer, AGENT_HZ) and hears(agent, CUSTOMER_HZ), what="bridged across codecs")


@CODECS
async def test_hold_plays_music_to_the_customer_and_silence_to_the_agent(engine, peer, codec):
    customer, agent = await bridged(engine, peer, codec)
    await plan(engine, "c1", a="customer", b="agent:1", hold=True)
    await until(lambda: hears_music(customer) and hears(agent, 0), what="hold")
    await plan(engine, "c1", a="customer", b="agent:1", hold=False)
    await until(lambda: hears(customer, AGENT_HZ) and hears(agent, CUSTOMER_HZ), what="unhold")


async def test_muted_agent_is_not_heard_but_still_hears_the_customer(engine, peer):
    customer, agent = await bridged(engine, peer)
    await plan(engine, "c1", a="customer", b="agent:1", muted=["agent:1"])
    await until(lambda: hears(customer, 0), what="customer hears silence")
    assert hears(agent, CUSTOMER_HZ)
    await plan(engine, "c1", a="customer", b="agent:1", muted=[])
    await until(lambda: hears(customer, AGENT_HZ), what="unmuted")


async def test_applying_the_same_plan_twice_changes_nothing(engine, peer):
    customer, agent = await bridged(engine, peer)
    outs = [leg.audio_out for leg in engine.calls["c1"].legs.values()]
    feeds = [out.feed for out in outs]
    await plan(engine, "c1", a="customer", b="agent:1")
    assert [out.feed for out in outs] == feeds  # nothing re-pointed: not a frame lost
    frames_before = agent.ear.frames
    await until(lambda: agent.ear.frames > frames_before + 10)
    assert hears(customer, AGENT_HZ) and hears(agent, CUSTOMER_HZ)


async def test_transfer_bridges_the_second_agent_without_renegotiating_the_customer(engine, peer):
    customer, first = await bridged(engine, peer)
    customer_leg = engine.calls["c1"].legs["customer"]
    customer_pc, customer_sdp = customer_leg.pc, customer_leg.pc.localDescription.sdp
    second = peer(SECOND_AGENT_HZ)
    offered = {"a": "customer", "b": "agent:1", "ringing": "agent:2"}
    await plan(engine, "c1", **offered)
    await join(engine, "c1", "agent:2", second, plan=offered)
    await until(lambda: hears(second, 0), what="the agent being transferred to hears silence while ringing")
    assert hears(customer, AGENT_HZ) and hears(first, CUSTOMER_HZ)
    await plan(engine, "c1", a="customer", b="agent:2")
    await until(lambda: hears(second, CUSTOMER_HZ), what="second agent hears the customer")
    await until(lambda: hears(customer, SECOND_AGENT_HZ), what="customer hears the second agent")
    await until(lambda: hangs_up(first), what="first agent hears nothing more")
    leg = engine.calls["c1"].legs["customer"]
    assert leg is customer_leg and leg.pc is customer_pc
    assert leg.pc.localDescription.sdp == customer_sdp
    assert (leg.pc.connectionState, customer.pc.connectionState, customer.pc.signalingState) == (
        "connected", "connected", "stable")
    assert sorted((await legs(engine))["c1"]) == ["agent:2", "customer"]


async def test_video_is_bridged_both_ways(engine, peer):
    customer, agent = peer(CUSTOMER_HZ, video=True), peer(AGENT_HZ, video=True)
    await join(engine, "c1", "customer", customer)
    await join(engine, "c1", "agent:1", agent)
    await until(lambda: customer.video_size == agent.video_size == (320, 240), what="black filler before bridging")
    await plan(engine, "c1", a="customer", b="agent:1")
    # aiortc's VideoStreamTrack sends 640x480 frames: a frame of that size came from the other peer
    await until(lambda: customer.video_size == agent.video_size == (640, 480), timeout=10, what="peer video")
    counts = customer.video_frames, agent.video_frames
    await until(lambda: customer.video_frames > counts[0] + 5 and agent.video_frames > counts[1] + 5)
    call = (await legs(engine))["c1"]
    assert call["customer"]["framesIn"]["video"] > 0 and call["agent:1"]["framesIn"]["video"] > 0
    await plan(engine, "c1", a="customer", b="agent:1", videoMuted=["agent:1"])
    await until(lambda: customer.video_size == (320, 240), what="a muted camera shows black")
    assert agent.video_size == (640, 480)


class SlowCamera(VideoStreamTrack):
    """A camera in a dim room: aiortc's 640x480 test picture at 5 frames/s."""

    frames = 0

    async def next_timestamp(self):
        await asyncio.sleep(0.2)  # the camera's own pace
        self.frames += 1
        return self.frames * 18000, fractions.Fraction(1, 90000)


async def test_a_slow_camera_is_passed_on_without_black_between_its_frames(engine, peer):
    customer, agent = peer(CUSTOMER_HZ, video=True), peer(AGENT_HZ, video=True)
    camera = next(t.sender for t in customer.pc.getTransceivers() if t.kind == "video")
    camera.replaceTrack(SlowCamera())
    await join(engine, "c1", "customer", customer)
    await join(engine, "c1", "agent:1", agent)
    await plan(engine, "c1", a="customer", b="agent:1")
    await until(lambda: agent.video_size == (640, 480), timeout=10, what="the customer's picture")
    black, live = agent.video_sizes[(320, 240)], agent.video_sizes[(640, 480)]
    await until(lambda: agent.video_sizes[(640, 480)] >= live + 6, what="six more of the customer's frames")
    assert agent.video_sizes[(320, 240)] == black


@pytest.mark.parametrize("sdp, message", [
    ("", "the offer has no audio"),
    ("hello", "the offer has no audio"),
    ("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\n", "the offer is not valid SDP"),
])
async def test_bad_offer_is_refused_with_a_clear_message_and_the_engine_goes_on(engine, peer, sdp, message):
    with pytest.raises(LegError, match=message):
        await engine.perform("open_leg", {"call_id": "bad", "leg_id": "customer", "sdp": sdp})
    assert await legs(engine) == {}
    await bridged(engine, peer)


async def test_offer_without_a_codec_in_common_is_refused_as_such(engine, peer):
    offer = await peer(CUSTOMER_HZ).offer()
    lines = [line for line in offer.split("\r\n") if not line.startswith(("a=rtpmap:0 ", "a=rtpmap:8 ", "a=rtpmap:9 "))]
    lines = [re.sub(r"^(m=audio \d+ \S+) .*", r"\1 96", line) for line in lines]
    sdp = "\r\n".join(lines).replace("opus/48000/2", "x-unknown/48000/2")
    with pytest.raises(LegError, match="no audio codec in common"):
        await engine.perform("open_leg", {"call_id": "c1", "leg_id": "customer", "sdp": sdp})
    assert await legs(engine) == {}


async def test_unknown_command_is_refused(engine):
    with pytest.raises(LegError, match="unknown media command 'explode'"):
        await engine.perform("explode", {})


async def test_closing_a_leg_removes_it_and_the_other_side_hears_the_filler(engine, peer):
    customer, agent = await bridged(engine, peer)
    assert await engine.perform("close_leg", {"call_id": "c1", "leg_id": "agent:1"}) == {"closed": True}
    assert list((await legs(engine))["c1"]) == ["customer"]
    await until(lambda: hears(customer, 0), what="a customer whose agent left hears silence")
    assert await engine.perform("close_leg", {"call_id": "c1", "leg_id": "agent:1"}) == {"closed": False}
    assert await engine.perform("close_leg", {"call_id": "c1", "leg_id": "customer"}) == {"closed": True}
    assert await legs(engine) == {}


async def test_end_call_closes_every_leg(engine, peer):
    customer, agent = await bridged(engine, peer)
    call = engine.calls["c1"]
    assert await engine.perform("end_call", {"call_id": "c1"}) == {"ended": True}
    assert await legs(engine) == {}
    assert all(leg.pc.connectionState == "closed" for leg in call.legs.values())
    assert all(tap.task.done() for leg in call.legs.values() for tap in leg.taps.values())
    assert await engine.perform("end_call", {"call_id": "c1"}) == {"ended": False}


async def test_a_reoffered_leg_replaces_the_old_one(engine, peer):
    customer, agent = await bridged(engine, peer)
    old = engine.calls["c1"].legs["agent:1"]
    again = peer(SECOND_AGENT_HZ)
    await join(engine, "c1", "agent:1", again)
    assert old.closed and old.pc.connectionState == "closed"
    await until(lambda: hears(customer, SECOND_AGENT_HZ) and hears(again, CUSTOMER_HZ), what="reloaded agent")


def test_the_embedded_engine_runs_on_uvloop_unless_turned_off(monkeypatch):
    """The engine's own loop (media/event_loop.py): uvloop's in the web process's media thread and in media
    workers; `MEDIA_UVLOOP=0` gives asyncio's. Either carries a call: the real-peer tests run on uvloop, these on
    asyncio's."""
    import uvloop

    from sessions_app.media.embedded import EmbeddedMedia
    from sessions_app.media.event_loop import new_media_loop

    for setting, kind in (("1", uvloop.Loop), ("0", asyncio.SelectorEventLoop)):
        monkeypatch.setenv("MEDIA_UVLOOP", setting)
        loop = new_media_loop()
        assert isinstance(loop, kind), loop
        loop.close()
    monkeypatch.delenv("MEDIA_UVLOOP")
    media = EmbeddedMedia(["127.0.0.1"])
    try:
        assert isinstance(media.loop, uvloop.Loop)
        assert media.run(asyncio.sleep(0, "ran")) == "ran"
    finally:
        media.stop()
        media.loop.call_soon_threadsafe(media.loop.stop)
