"""Recording in the media engine, with real peers: the customer sends 440 Hz, the agent 1000 Hz, and the file
is decoded afterwards: the customer on the left, what the customer hears on the right, silence while paused,
a file as long as the call, and a file cut short still playable.

Stretches of the call are held for a fixed time (`asyncio.sleep`): here the time is the content being
recorded, not a wait for something to happen.
"""
import asyncio
import os
import shutil
import time

import pytest

from sessions_app.media.encoded import EncodedFrame
from sessions_app.media.recorder import PacketFile, PacketSide, Side
from sessions_app.media.sounds import Music
from testing.peers import Peer

from .engine_helpers import hears, join, near, plan, until
from .phone_peer import PhonePeer
from .recordings import Decoded

pytestmark = pytest.mark.service

CUSTOMER_HZ, AGENT_HZ, SECOND_AGENT_HZ = 440, 1000, 1500
MARGIN = 0.3  # seconds left out at each edge of a stretch: a plan takes effect within a tick and a packet


@pytest.fixture
async def bridged(engine):
    """A factory: customer and agent on call "c1" (on `codec`), each hearing the other."""
    made = []

    async def make(codec: str = "") -> tuple[Peer, Peer]:
        customer, agent = Peer(CUSTOMER_HZ, codec), Peer(AGENT_HZ, codec)
        made.extend((customer, agent))
        await join(engine, "c1", "customer", customer)
        await join(engine, "c1", "agent:1", agent)
        await plan(engine, "c1", a="customer", b="agent:1")
        await until(lambda: hears(customer, AGENT_HZ) and hears(agent, CUSTOMER_HZ), what="bridged")
        return customer, agent

    yield make
    for peer in made:
        await peer.close()


def is_music(hz: float) -> bool:
    return any(near(hz, note) for note in Music.NOTES_HZ)


class Clock:
    """Seconds since the recording began, as the test sees it."""

    def __init__(self):
        self.origin = time.monotonic()

    def __call__(self) -> float:
        return time.monotonic() - self.origin


# How far a file's length may be from the test's clock: the recorder starts on the engine's loop, a turn or two
# after the plan on a loaded machine.
LENGTH_SLACK = 0.25


def recording(path, paused: bool = False) -> dict:
    return {"id": "r1", "path": str(path), "paused": paused}


@pytest.mark.parametrize("codec", ["audio/opus", "audio/PCMU"])
async def test_the_customer_is_on_the_left_and_what_they_hear_on_the_right_music_on_hold_included(
        engine, bridged, tmp_path, codec):
    await bridged(codec)
    path = tmp_path / "c1.ogg"
    await plan(engine, "c1", a="customer", b="agent:1", record=recording(path))
    clock = Clock()
    await asyncio.sleep(1.2)
    held = clock()
    await plan(engine, "c1", a="customer", b="agent:1", hold=True, record=recording(path))
    await asyncio.sleep(1.2)
    resumed = clock()
    await plan(engine, "c1", a="customer", b="agent:1", record=recording(path))
    await asyncio.sleep(0.8)
    ended = clock()
    await engine.perform("end_call", {"call_id": "c1"})

    assert not os.path.exists(f"{path}.part")
    decoded = Decoded(str(path))
    assert abs(decoded.seconds - ended) < LENGTH_SLACK
    assert near(decoded.left_hz(MARGIN, held - MARGIN), CUSTOMER_HZ)
    assert near(decoded.right_hz(MARGIN, held - MARGIN), AGENT_HZ)
    assert near(decoded.left_hz(held + MARGIN, resumed - MARGIN), CUSTOMER_HZ)  # the customer is heard on hold
    assert is_music(decoded.right_hz(held + MARGIN, resumed - MARGIN))
    assert near(decoded.right_hz(resumed + MARGIN, ended - 0.1), AGENT_HZ)


async def test_after_a_transfer_the_second_agent_is_on_the_right_in_the_same_file(engine, bridged, tmp_path):
    customer, _ = await bridged()
    second = Peer(SECOND_AGENT_HZ)
    path = tmp_path / "c1.ogg"
    try:
        await plan(engine, "c1", a="customer", b="agent:1", record=recording(path))
        clock = Clock()
        offered = {"a": "customer", "b": "agent:1", "ringing": "agent:2", "record": recording(path)}
        await plan(engine, "c1", **offered)
        await join(engine, "c1", "agent:2", second, plan=offered)
        await asyncio.sleep(max(0.0, 1.0 - clock()))
        transferred = clock()
        await plan(engine, "c1", a="customer", b="agent:2", record=recording(path))
        await until(lambda: hears(customer, SECOND_AGENT_HZ), what="the customer hears the second agent")
        await asyncio.sleep(1.0)
        ended = clock()
        await engine.perform("end_call", {"call_id": "c1"})
    finally:
        await second.close()

    decoded = Decoded(str(path))
    assert near(decoded.right_hz(0.2, transferred - 0.1), AGENT_HZ)
    assert near(decoded.right_hz(ended - 0.8, ended - 0.1), SECOND_AGENT_HZ)
    assert near(decoded.left_hz(0.2, ended - 0.1), CUSTOMER_HZ)


async def test_a_pause_records_silence_on_both_sides_and_keeps_the_timeline(engine, bridged, tmp_path):
    await bridged()
    path = tmp_path / "c1.ogg"
    await plan(engine, "c1", a="customer", b="agent:1", record=recording(path))
    clock = Clock()
    await asyncio.sleep(0.8)
    paused = clock()
    await plan(engine, "c1", a="customer", b="agent:1", record=recording(path, paused=True))
    await asyncio.sleep(1.2)
    resumed = clock()
    await plan(engine, "c1", a="customer", b="agent:1", record=recording(path))
    await asyncio.sleep(0.8)
    ended = clock()
    await engine.perform("end_call", {"call_id": "c1"})

    decoded = Decoded(str(path))
    assert abs(decoded.seconds - ended) < LENGTH_SLACK
    assert near(decoded.left_hz(0.2, paused - 0.2), CUSTOMER_HZ)
    assert decoded.peak(paused + MARGIN, resumed - 0.05) < 50
    assert near(decoded.left_hz(resumed + MARGIN, ended - 0.1), CUSTOMER_HZ)
    assert near(decoded.right_hz(resumed + MARGIN, ended - 0.1), AGENT_HZ)


async def test_the_file_of_a_call_cut_short_is_playable_up_to_the_cut(engine, bridged, tmp_path):
    """What a kill -9 of the media process leaves is the `.part` file as it is on disk during the call: a copy
    of it taken mid-call plays up to within a second of the copy, and so does the finished file cut anywhere."""
    await bridged()
    path = tmp_path / "c1.ogg"
    await plan(engine, "c1", a="customer", b="agent:1", record=recording(path))
    clock = Clock()
    await asyncio.sleep(2.0)
    copied = clock()
    shutil.copy(f"{path}.part", tmp_path / "killed.ogg")
    await engine.perform("end_call", {"call_id": "c1"})

    killed = Decoded(str(tmp_path / "killed.ogg"))
    assert copied - 1.0 < killed.seconds <= copied
    assert near(killed.left_hz(killed.seconds - 0.5, killed.seconds), CUSTOMER_HZ)
    whole = path.read_bytes()
    (tmp_path / "cut.ogg").write_bytes(whole[:len(whole) * 2 // 3 + 7])  # mid-page
    cut = Decoded(str(tmp_path / "cut.ogg"))
    assert 0.5 < cut.seconds < Decoded(str(path)).seconds
    assert near(cut.right_hz(cut.seconds - 0.5, cut.seconds), AGENT_HZ)


async def test_a_call_whose_plan_drops_the_recording_finishes_its_file(engine, bridged, tmp_path):
    await bridged()
    path = tmp_path / "c1.ogg"
    await plan(engine, "c1", a="customer", b="agent:1", record=recording(path))
    await asyncio.sleep(0.5)
    await plan(engine, "c1", a="customer", b="agent:1")
    await until(lambda: path.exists(), what="the file finished")
    assert 0.3 < Decoded(str(path)).seconds < 0.8  # half a second recorded, less what a loaded loop started late
    finished = path.read_bytes()
    await plan(engine, "c1", a="customer", b="agent:1", record=recording(path))  # the same recording again
    await until(lambda: engine.calls["c1"].recorder.failed, what="the recorder refused")
    assert path.read_bytes() == finished  # a finished file is never overwritten


async def test_a_writer_that_fails_stops_the_recording_and_the_call_goes_on(engine, bridged, tmp_path):
    customer, agent = await bridged()
    (tmp_path / "file").write_text("")
    await plan(engine, "c1", a="customer", b="agent:1", record=recording(tmp_path / "file" / "c1.ogg"))
    call = engine.calls["c1"]
    await until(lambda: call.recorder.failed, what="the recorder gave up")
    await asyncio.sleep(0.3)
    assert hears(customer, AGENT_HZ) and hears(agent, CUSTOMER_HZ)


async def test_a_phone_caller_on_the_trunk_is_recorded_like_a_web_caller(engine, tmp_path):
    """The caller's leg is the trunk's RTP leg (G.711 at 8 kHz): its voice left, what it is sent right."""
    phone, agent = PhonePeer(), Peer(AGENT_HZ)
    path = tmp_path / "c1.ogg"
    try:
        phone.speak(CUSTOMER_HZ)
        await engine.perform("open_rtp_leg", {"call_id": "c1", "leg_id": "phone", "remote_host": "127.0.0.1",
                                              "remote_port": phone.port, "payload_type": 0,
                                              "plan": {"a": "phone", "ringing": "agent:1"}})
        await join(engine, "c1", "agent:1", agent)
        await plan(engine, "c1", a="phone", b="agent:1", record=recording(path))
        clock = Clock()
        await until(lambda: hears(agent, CUSTOMER_HZ) and near(phone.hears(), AGENT_HZ), what="bridged")
        await asyncio.sleep(max(0.0, 1.5 - clock()))
        ended = clock()
        await engine.perform("end_call", {"call_id": "c1"})
    finally:
        await agent.close()
        phone.close()

    decoded = Decoded(str(path))
    assert abs(decoded.seconds - ended) < LENGTH_SLACK
    assert near(decoded.left_hz(ended - 0.8, ended - 0.1), CUSTOMER_HZ)
    assert near(decoded.right_hz(ended - 0.8, ended - 0.1), AGENT_HZ)


@pytest.mark.unit
@pytest.mark.parametrize("kind", [Side, PacketSide])
def test_a_frame_the_recorder_cannot_read_never_breaks_the_audio_path_it_sits_in(kind):
    side = kind(time.monotonic())
    side.put(object())  # not a frame: inside a tap's drain or a sender's recv, raising would stop the call's audio
    assert side.failed and side.take(0, 960) is None


@pytest.mark.unit
def test_packets_a_recording_cannot_carry_are_counted_lost_and_the_file_has_silence_there(tmp_path):
    """A side kept as packets takes 20 ms Opus packets only (the file's two streams advance together); a
    packet of another length or codec is lost, and a packet whose framing cannot be read becomes silence in
    the file rather than a frame no player decodes."""
    side = PacketSide(time.monotonic() - 1.0)
    side.put(EncodedFrame("opus", b"\xf8\xff\xfe", 1920))  # 40 ms
    side.put(EncodedFrame("pcmu", bytes(160), 960))
    assert side.lost == 2 and not side.failed and side.take(0) is None
    file = PacketFile(str(tmp_path / "odd.ogg"))
    file.write([(b"\x02\xc8\x01", b"\x03\x00"), None])  # a code-2 and a code-3 packet whose lengths do not add up
    file.close()
    decoded = Decoded(str(tmp_path / "odd.ogg"))
    assert abs(decoded.seconds - 0.04) < 0.001 and decoded.peak(0, 0.04) == 0
