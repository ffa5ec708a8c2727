"""Forwarding (media/encoded.py): a leg whose one source is a leg on its codec gets that leg's encoded frames,
nothing decoded; the engine moves between forwarding and decoding as the plan changes, on one timeline.

Tones name the voices as elsewhere: customer 440 Hz, agent 1000 Hz, supervisor 1500 Hz, second agent 2000 Hz.
"""
import asyncio
import tracemalloc
from fractions import Fraction

import av
import numpy as np
import pytest

from sessions_app.media import patches
from sessions_app.media.encoded import EncodedFrame, opus_samples, vp8_keyframe
from sessions_app.media.engine import MediaEngine
from sessions_app.media.sounds import AudioFormat
from sessions_app.media.switch import SwitchAudioTrack
from sessions_app.media.tap import Tap
from testing.peers import Peer, tones_present

from .engine_helpers import join, near, plan, until

pytestmark = pytest.mark.service

CUSTOMER, AGENT, SUPERVISOR, SECOND_AGENT = 440, 1000, 1500, 2000
VOICES = (CUSTOMER, AGENT, SUPERVISOR, SECOND_AGENT)
GAP_MS = 60
TWO_PARTY = {"a": "customer", "b": "agent:1"}


def tones(peer: Peer, seconds: float = 0.3) -> set:
    return peer.ear.tones(VOICES, seconds) if peer.ear is not None else set()


async def hear(expected: dict, what: str, timeout: float = 5) -> None:
    await until(lambda: all(tones(peer) == heard for peer, heard in expected.items()), timeout=timeout,
                what=f"{what}: {[(sorted(heard), sorted(tones(peer))) for peer, heard in expected.items()]}")


@pytest.fixture
async def forwarding():
    engine = MediaEngine(["127.0.0.1"], forwarding=True)
    yield engine
    await engine.close()


@pytest.fixture
async def peers():
    made = []

    def make(*args, **kwargs) -> Peer:
        made.append(Peer(*args, **kwargs))
        return made[-1]

    yield make
    for peer in made:
        await peer.close()


def decoded(engine, *legs) -> list[int]:
    return [engine.calls["c1"].legs[leg].taps["audio"].frames_decoded for leg in legs]


@pytest.mark.parametrize("codec", ["audio/opus", "audio/PCMU", "audio/PCMA"])
async def test_a_forwarded_call_carries_both_voices_and_decodes_nothing(forwarding, peers, codec):
    customer, agent = peers(CUSTOMER, codec), peers(AGENT, codec)
    await join(forwarding, "c1", "customer", customer, plan=TWO_PARTY)
    await join(forwarding, "c1", "agent:1", agent, plan=TWO_PARTY)
    await hear({customer: {AGENT}, agent: {CUSTOMER}}, "bridged")
    legs = forwarding.calls["c1"].legs
    assert legs["customer"].audio_out.forwarding and legs["agent:1"].audio_out.forwarding
    before, heard = decoded(forwarding, "customer", "agent:1"), customer.ear.frames
    await until(lambda: customer.ear.frames > heard + 25, what="half a second more of the call")
    assert decoded(forwarding, "customer", "agent:1") == before  # nothing decoded meanwhile
    await hear({customer: {AGENT}, agent: {CUSTOMER}}, "still bridged")
    assert customer.ear.pts_jumps == [] and agent.ear.pts_jumps == []


async def test_a_recorded_call_stays_forwarded_and_its_file_is_the_packets_carried(forwarding, peers, tmp_path):
    """Recording a web customer on Opus decodes and encodes nothing (media/recorder.py, `packets`): both legs
    stay forwarded and the file is the customer's packets (left) and those they were sent (right). The plan
    asks for the recording from the first leg's offer on, before its codec is known."""
    from .recordings import Decoded

    customer, agent = peers(CUSTOMER, "audio/opus"), peers(AGENT, "audio/opus")
    path = tmp_path / "c1.ogg"
    recorded = {**TWO_PARTY, "record": {"id": "r1", "path": str(path)}}
    await join(forwarding, "c1", "customer", customer, plan=recorded)
    await join(forwarding, "c1", "agent:1", agent, plan=recorded)
    await hear({customer: {AGENT}, agent: {CUSTOMER}}, "bridged and recorded")
    call = forwarding.calls["c1"]
    assert call.recorder.packets
    assert call.legs["customer"].audio_out.forwarding and call.legs["agent:1"].audio_out.forwarding
    senders = [call.legs[leg].pc.getTransceivers()[0].sender for leg in ("customer", "agent:1")]
    encoded = []
    for sender in senders:
        encoder = sender._RTCRtpSender__encoder
        if encoder is not None:
            encode = encoder.encode
            encoder.encode = lambda *args, encode=encode: encoded.append(1) or encode(*args)
    before, heard = decoded(forwarding, "customer", "agent:1"), customer.ear.frames
    await until(lambda: customer.ear.frames > heard + 50, what="a second more of the call")
    assert decoded(forwarding, "customer", "agent:1") == before and encoded == []
    await forwarding.perform("end_call", {"call_id": "c1"})
    await until(lambda: path.exists(), what="the file finished")
    recording = Decoded(str(path))
    end = recording.seconds
    assert end > 1.0 and call.recorder is None
    assert near(recording.left_hz(end - 0.8, end - 0.1), CUSTOMER)
    assert near(recording.right_hz(end - 0.8, end - 0.1), AGENT)


async def test_legs_on_different_codecs_are_decoded_not_forwarded(forwarding, peers):
    customer, agent = peers(CUSTOMER, "audio/PCMU"), peers(AGENT, "audio/opus")
    await join(forwarding, "c1", "customer", customer, plan=TWO_PARTY)
    await join(forwarding, "c1", "agent:1", agent, plan=TWO_PARTY)
    await hear({customer: {AGENT}, agent: {CUSTOMER}}, "bridged")
    assert not any(leg.audio_out.forwarding for leg in forwarding.calls["c1"].legs.values())


async def test_a_phone_caller_and_a_pcmu_browser_forward_to_each_other(forwarding, peers):
    """The trunk's G.711 RTP and a browser on the same law: the payloads pass as they came, both ways."""
    from .phone_peer import RATE, PhonePeer

    phone, agent = PhonePeer(), peers(AGENT, "audio/PCMU")
    call = {"a": "phone", "b": "agent:1"}
    try:
        await forwarding.perform("open_rtp_leg", {"call_id": "c1", "leg_id": "phone", "remote_host": "127.0.0.1",
                                                  "remote_port": phone.port, "payload_type": 0,
                                                  "telephone_event_pt": 101, "plan": call})
        phone.speak(CUSTOMER)
        await join(forwarding, "c1", "agent:1", agent, plan=call)
        await plan(forwarding, "c1", **call)

        def phone_hears():
            recent = list(phone.recent[-15:])
            return tones_present(np.concatenate(recent) if recent else np.zeros(0), RATE, VOICES)

        await until(lambda: phone_hears() == {AGENT}, what=f"the caller hears the agent: {phone_hears()}")
        await hear({agent: {CUSTOMER}}, "the agent hears the caller")
        legs = forwarding.calls["c1"].legs
        assert legs["phone"].audio_out.forwarding and legs["agent:1"].audio_out.forwarding
        before, heard = decoded(forwarding, "phone", "agent:1"), agent.ear.frames
        await until(lambda: agent.ear.frames > heard + 25, what="half a second more of the call")
        assert decoded(forwarding, "phone", "agent:1") == before
    finally:
        await asyncio.to_thread(phone.close)


def prompt(hz: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * hz * t) * 0.3 * 32767).astype(np.int16)


async def test_every_switch_keeps_one_timeline_and_no_gap_over_60_ms(engine, peers, tmp_path):
    """Hold, unhold, mute, unmute, a whisper, a prompt, recording and a transfer, one after the other: the
    customer's and the agent's streams never jump in time (a browser's jitter buffer would reset), and where the
    sound goes on across a switch (a voice to a mix, to a prompt, to another agent) it stops for 60 ms at most.
    Run on both paths (the `engine` fixture): with forwarding, each of these but the recording (made from the
    packets carried) moves a leg between forwarding and decoding."""
    customer, agent = peers(CUSTOMER, "audio/opus"), peers(AGENT, "audio/opus")
    await join(engine, "c1", "customer", customer, plan=TWO_PARTY)
    await join(engine, "c1", "agent:1", agent, plan=TWO_PARTY)
    await hear({customer: {AGENT}, agent: {CUSTOMER}}, "bridged")
    legs = engine.calls["c1"].legs
    assert legs["customer"].audio_out.forwarding == engine.forwarding
    customer.ear.reset_runs()
    agent.ear.reset_runs()
    gaps = {}

    async def step(name: str, expected: dict, measured: tuple = (), **plan_args) -> None:
        for peer in measured:
            peer.ear.reset_runs()
        await plan(engine, "c1", **plan_args)
        await hear(expected, name)
        await asyncio.sleep(0.2)
        for peer in measured:
            gaps[(name, peer.tone.hz)] = peer.ear.longest_quiet_ms()

    await step("hold", {agent: set()}, hold=True, **TWO_PARTY)
    await step("unhold", {customer: {AGENT}, agent: {CUSTOMER}}, **TWO_PARTY)
    await step("mute", {customer: set(), agent: {CUSTOMER}}, muted=["agent:1"], **TWO_PARTY)
    await step("unmute", {customer: {AGENT}, agent: {CUSTOMER}}, **TWO_PARTY)
    whisper = {**TWO_PARTY, "monitors": {"supervisor": "whisper"}}
    supervisor = peers(SUPERVISOR, "audio/opus")
    await join(engine, "c1", "supervisor", supervisor, plan=whisper)
    await step("whisper", {agent: {CUSTOMER, SUPERVISOR}, customer: {AGENT}}, (agent, customer), **whisper)
    await step("whisper ends", {agent: {CUSTOMER}, customer: {AGENT}}, (agent, customer), **TWO_PARTY)
    await until(lambda: not engine.calls["c1"].mixers, what="the agent back on the direct path")
    assert legs["agent:1"].audio_out.forwarding == engine.forwarding

    customer.ear.reset_runs()
    out = legs["customer"].audio_out
    done = asyncio.Event()
    out.say(prompt(SUPERVISOR, 0.5, out.fmt.rate), on_done=done.set)
    await until(lambda: tones(customer) == {SUPERVISOR}, what="the customer hears the prompt")
    await asyncio.wait_for(done.wait(), 2)
    await hear({customer: {AGENT}}, "the agent again after the prompt")
    await asyncio.sleep(0.2)
    gaps[("prompt", CUSTOMER)] = customer.ear.longest_quiet_ms()

    recorded = {**TWO_PARTY, "record": {"id": "r1", "path": str(tmp_path / "r1.ogg")}}
    await step("recording", {customer: {AGENT}, agent: {CUSTOMER}}, (customer, agent), **recorded)
    # recorded from the packets carried: both ways stay forwarded (on the other path all is decoded anyway)
    assert legs["customer"].audio_out.forwarding == legs["agent:1"].audio_out.forwarding == engine.forwarding

    second = peers(SECOND_AGENT, "audio/opus")
    transferred = {"a": "customer", "b": "agent:2"}
    await join(engine, "c1", "agent:2", second, plan={**transferred, "ringing": "agent:2"})
    await step("transfer", {customer: {SECOND_AGENT}, second: {CUSTOMER}}, (customer,), **transferred)
    assert legs["customer"].audio_out.forwarding == engine.forwarding

    assert {step: gap for step, gap in gaps.items() if gap > GAP_MS} == {}, gaps
    assert customer.ear.pts_jumps == [] and agent.ear.pts_jumps == [], (customer.ear.pts_jumps, agent.ear.pts_jumps)


async def test_forwarded_video_starts_at_a_key_frame_asked_for_after_a_switch(forwarding, peers):
    """The customer sees the agent; on a transfer it sees the second agent, whose camera is asked (PLI) for a
    key frame, and the first frame forwarded from it is that key frame."""
    customer, agent, second = (peers(hz, "audio/opus", video=True) for hz in (CUSTOMER, AGENT, SECOND_AGENT))
    asked = {peer: 0 for peer in (agent, second)}
    for peer in asked:
        sender = next(s for s in peer.pc.getSenders() if s.track is not None and s.track.kind == "video")
        stock = sender._send_keyframe

        def counted(peer=peer, stock=stock):
            asked[peer] += 1
            stock()

        sender._send_keyframe = counted
    await join(forwarding, "c1", "customer", customer, plan=TWO_PARTY)
    await join(forwarding, "c1", "agent:1", agent, plan=TWO_PARTY)
    await until(lambda: customer.video_frames > 10 and agent.video_frames > 10, what="video both ways")
    out = forwarding.calls["c1"].legs["customer"].video_out
    assert out.forwarding
    sent = []
    stock_recv = out.recv

    async def recv():
        frame = await stock_recv()
        if isinstance(frame, EncodedFrame):
            sent.append((out.feed.tap if out.feed is not None else None, frame.keyframe))
        return frame

    out.recv = recv
    transferred = {"a": "customer", "b": "agent:2"}
    await join(forwarding, "c1", "agent:2", second, plan={**transferred, "ringing": "agent:2"})
    second_tap = forwarding.calls["c1"].legs["agent:2"].taps
    await until(lambda: "video" in second_tap and second_tap["video"].frames_in > 10, what="the second camera")
    asked_before, shown = asked[second], customer.video_frames
    await plan(forwarding, "c1", **transferred)
    await until(lambda: asked[second] > asked_before, what="a key frame asked of the second agent's camera")
    await until(lambda: customer.video_frames > shown + 15, what="the second agent's picture")
    second_tap = second_tap["video"]
    assert out.forwarding and out.feed.tap is second_tap
    from_second = [key for tap, key in sent if tap is second_tap]
    assert len(from_second) > 10 and from_second[0], from_second[:5]


class _SilentTrack:
    kind = "audio"

    async def recv(self):
        await asyncio.Event().wait()


class _Sender:
    """What `patches._next_encoded_frame` reads of an RTCRtpSender: its track, encoder and flags."""

    def __init__(self, track):
        self._RTCRtpSender__track = track
        self._RTCRtpSender__encoder = None
        self._RTCRtpSender__force_keyframe = False
        self._RTCRtpSender__loop = asyncio.get_running_loop()
        self._enabled = True


async def test_ten_minutes_of_a_forwarded_call_keep_exact_timestamps_and_flat_memory(monkeypatch):
    """30 000 frames (ten minutes) through a switch track and the sender's packing, as fast as they go: a
    forwarded stretch, then the filler (encoded here) and back, thirty times, with a lost packet and a
    duplicate in each stretch. Every RTP timestamp is exactly where the frames before it put it (a lost packet
    keeps its place, for the far end to conceal; a duplicate is dropped), and memory does not grow."""
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters

    async def unpaced(self, seconds):
        return None

    monkeypatch.setattr(SwitchAudioTrack, "_paced", unpaced)
    codec = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
    tap = Tap(_SilentTrack())
    out = SwitchAudioTrack(AudioFormat(48000, 2))
    out.codec = "opus"
    sender = _Sender(out)
    packet = bytes([0xFC]) + bytes(60)  # TOC: CELT fullband 20 ms, one frame
    assert opus_samples(packet) == 960
    source_ts, expected, sent = 0, 0, 0
    memory = []
    tracemalloc.start()
    try:
        for stretch in range(30):
            out.follow(tap, encoded=True)
            for n in range(950):
                if n == 400:
                    source_ts += 960  # a packet lost on the way in
                    expected += 960
                if n == 600:
                    tap.put_encoded("opus", packet, 960, source_ts - 960)  # the last one again: dropped
                tap.put_encoded("opus", packet, 960, source_ts)
                source_ts += 960
                encoded = await patches._next_encoded_frame(sender, codec)
                assert encoded.timestamp == expected and encoded.payloads == [packet]
                expected += 960
                sent += 1
            out.follow(None)
            for _ in range(50):
                encoded = await patches._next_encoded_frame(sender, codec)
                if encoded is not None:
                    assert encoded.timestamp == expected
                expected += 960
                source_ts += 960
                sent += 1
            if stretch in (5, 29):
                memory.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
        out.stop()
        await tap.stop()
    assert sent == 30000 and out._pts == expected
    assert memory[1] - memory[0] < 256 * 1024, memory


def test_codec_facts_read_from_the_frames():
    assert opus_samples(bytes([0x00])) == 480 and opus_samples(bytes([0x18])) == 2880  # SILK NB 10 and 60 ms
    assert opus_samples(bytes([0xFD])) == 1920 and opus_samples(bytes([0xFF, 0x03])) == 2880  # two, three frames
    assert vp8_keyframe(bytes([0x10, 0x02, 0x00])) and not vp8_keyframe(bytes([0x11, 0x02, 0x00]))
    assert EncodedFrame("opus", b"x", 960).stamped(1920, Fraction(1, 48000)).pts == 1920


def test_a_decoder_that_starts_again_is_primed_and_its_first_frame_is_right():
    """A voice forwarded (not decoded) and then mixed: its decoder starts on a packet in mid-stream. Primed
    with the packets kept meanwhile, its first frame is what a decoder that never stopped makes (within 2% of
    full scale); a cold one's is off by as much as the tone itself."""
    import types

    from aiortc.codecs import get_decoder
    from aiortc.jitterbuffer import JitterFrame
    from aiortc.rtcrtpparameters import RTCRtpCodecParameters
    from aiortc.rtcrtpreceiver import TimestampMapper

    codec = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.format, encoder.layout, encoder.bit_rate = 48000, "s16", "mono", 32000
    tone = prompt(CUSTOMER, 1.0, 48000)
    packets = []
    for start in range(0, 48000, 960):
        frame = av.AudioFrame.from_ndarray(tone[start:start + 960].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 48000, start
        packets += [bytes(p) for p in encoder.encode(frame)]

    def first_channel(frames) -> np.ndarray:
        return np.concatenate([f.to_ndarray().reshape(-1, 2)[:, 0] for f in frames]).astype(np.float64)

    steady = get_decoder(codec)
    expected = [first_channel(steady.decode(JitterFrame(p, 0))) for p in packets]
    listening = False
    track = types.SimpleNamespace(_queue=asyncio.Queue(), listened=lambda: listening)
    receiver = types.SimpleNamespace(_track=track, _RTCRtpReceiver__jitter_buffer=patches.ShortJitterBuffer(16, 4),
                                     _RTCRtpReceiver__timestamp_mapper=TimestampMapper(),
                                     _RTCRtpReceiver__decoder_thread=True)
    decoder = patches.InlineAudioDecoder(receiver)
    for index, packet in enumerate(packets[:30]):
        decoder.received(codec, "opus", packet, 1, index, index * 960, 1)
    assert track._queue.empty()  # nobody listened: nothing decoded
    listening = True
    for index in (30, 31):  # the jitter buffer releases a frame at the next one
        decoder.received(codec, "opus", packets[index], 1, index, index * 960, 1)
    first = first_channel([track._queue.get_nowait()])
    cold = first_channel(get_decoder(codec).decode(JitterFrame(packets[30], 0)))
    assert np.abs(first - expected[30]).max() < 0.02 * 32767
    assert np.abs(cold - expected[30]).max() > 0.2 * 32767


async def test_frames_forwarded_from_the_receive_callback_keep_the_senders_rtp_and_rtcp(forwarding, peers):
    """Forwarded audio goes out from the receive callback (patches.py point 7), not the sender's task: the
    far end still gets one RTP stream (consecutive sequence numbers, the sender's SSRC) and sender reports
    whose packet count and RTP timestamp follow what was sent; the filler of a late source is sent encoded
    already (no encoding while forwarding)."""
    customer, agent = peers(CUSTOMER, "audio/opus"), peers(AGENT, "audio/opus")
    await join(forwarding, "c1", "customer", customer, plan=TWO_PARTY)
    await join(forwarding, "c1", "agent:1", agent, plan=TWO_PARTY)
    await hear({customer: {AGENT}, agent: {CUSTOMER}}, "bridged")
    out = forwarding.calls["c1"].legs["customer"].audio_out
    assert out.forwarding and out.sink is not None and out.feed.direct is not None
    pushed = []
    push = out._push
    out.feed.direct = lambda frame: pushed.append(frame) or push(frame)
    receiver = customer.pc.getTransceivers()[0].receiver
    reports, packets = [], []
    handle_rtcp, buffered = receiver._handle_rtcp_packet, receiver._RTCRtpReceiver__jitter_buffer.add

    async def on_rtcp(packet):
        if type(packet).__name__ == "RtcpSrPacket":
            reports.append(packet)
        await handle_rtcp(packet)

    def on_rtp(packet):
        packets.append(packet)
        return buffered(packet)

    receiver._handle_rtcp_packet, receiver._RTCRtpReceiver__jitter_buffer.add = on_rtcp, on_rtp
    await until(lambda: len(reports) >= 2, timeout=8, what="two sender reports from the bridge")
    assert len(pushed) >= 40  # the source's frames went out directly
    sequence = [packet.sequence_number for packet in packets]
    assert all((b - a) & 0xFFFF == 1 for a, b in zip(sequence, sequence[1:]))
    assert {packet.ssrc for packet in packets} == {reports[-1].ssrc}
    sender = forwarding.calls["c1"].legs["customer"].pc.getTransceivers()[0].sender
    report = reports[-1].sender_info
    assert 0 < report.packet_count <= sender._RTCRtpSender__packet_count
    sent_then = [p for p in packets if (report.rtp_timestamp - p.timestamp) & 0xFFFFFFFF < 48000]
    assert sent_then, "the report's RTP timestamp is one of the stream's recent ones"
    assert customer.ear.pts_jumps == []

    encoded = []
    encoder = sender._RTCRtpSender__encoder
    if encoder is not None:
        encode = encoder.encode
        encoder.encode = lambda *args: encoded.append(1) or encode(*args)
    frames = out._frames
    out.feed.tap.encoded_feeds.discard(out.feed)  # the source's packets stop coming: late, then silent
    await until(lambda: out._frames > frames + 10, what="the filler of a late source")
    assert out.forwarding and encoded == []  # silence, encoded already


@pytest.mark.parametrize("codec", ["audio/opus", "audio/PCMU"])
async def test_a_leg_that_hears_silence_is_sent_silence_encoded_once(forwarding, peers, codec):
    """Silence in place of a source (an agent's leg while nobody speaks to it, a caller in the quiet of the IVR)
    is a packet encoded once (encoded.SILENT_FRAMES): the leg's encoder does nothing, the far end hears
    silence at full rate, on one timeline."""
    agent = peers(AGENT, codec)
    await join(forwarding, "c1", "agent:1", agent, plan={"a": "customer", "b": "agent:1"})
    sender = forwarding.calls["c1"].legs["agent:1"].pc.getTransceivers()[0].sender
    await until(lambda: agent.ear.frames > 10, what="the agent's leg sends")
    encoder = sender._RTCRtpSender__encoder
    encoded = []
    if encoder is not None:
        encode = encoder.encode
        encoder.encode = lambda *args: encoded.append(1) or encode(*args)
    frames = agent.ear.frames
    await until(lambda: agent.ear.frames > frames + 25, what="half a second of silence")
    assert encoded == []
    assert agent.ear.hears(0.3) == 0 and agent.ear.pts_jumps == []
