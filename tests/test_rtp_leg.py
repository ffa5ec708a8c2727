"""The phone side's media: G.711 RTP with a SIP trunk, checked by ear, by key and against sipp's captures.

Two RTP legs on the loopback send each other tones; a bare endpoint plays the trunk where a test needs exact
packets (reordered, repeated, lost, 10 or 30 ms long); sipp's sample captures (A-law speech in 30 ms packets,
RFC 2833 keys) arrive as a trunk sends them, replayed by hand and by sipp itself; and in the engine a phone leg
is bridged to a web leg driven by an aiortc peer. No database.
"""
from __future__ import annotations

import asyncio
import socket
import struct
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from sessions_app.media import g711, rtp
from sessions_app.media.engine import MediaEngine
from sessions_app.media.leg import LegError
from testing.peers import Peer, ToneTrack, dominant_hz
from sessions_app.media.rtp_leg import RtpLeg
from sessions_app.media.sounds import Music
from sessions_app.media.tap import Tap

from .engine_helpers import hears, join, near, plan, until
from .real_peers import needs
from .waits import assert_nothing_arrives

pytestmark = pytest.mark.service

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    try:
        import audioop  # the reference G.711: C code from the same source as ITU-T's
    except ImportError:  # gone from Python 3.13
        audioop = None

HOST = "127.0.0.1"
PHONE_HZ, AGENT_HZ = 440, 1000
TELEPHONE_EVENT = 101
SAMPLES = Path("/usr/share/sip-tester")
SIPP_SCENARIOS = Path(__file__).parent / "sipp"
LAWS = pytest.mark.parametrize("law", [g711.PCMU, g711.PCMA], ids=["PCMU", "PCMA"])
NEEDS_AUDIOOP = pytest.mark.skipif(audioop is None, reason="no audioop in this Python")


class Ear:
    """Listens to a leg's tap as a bridged leg would, keeping every frame's samples."""

    def __init__(self, tap: Tap):
        self.feed = tap.listen()
        self.chunks: list[np.ndarray] = []
        self.task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self):
        while True:
            frame = await self.feed.get(1)
            if frame is not None:
                assert (frame.sample_rate, frame.layout.name, frame.format.name) == (8000, "mono", "s16")
                self.chunks.append(frame.to_ndarray().reshape(-1).copy())

    def hears(self, seconds: float = 0.3) -> float:
        recent = self.chunks[-int(seconds / 0.02):]
        return dominant_hz(np.concatenate(recent), 8000) if recent else 0.0

    def samples(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=np.int16)

    def stop(self):
        self.task.cancel()
        self.feed.close()


class Trunk:
    """A bare RTP endpoint playing the trunk: sends hand-made packets to a leg, collects what the leg sends."""

    def __init__(self, law: int = g711.PCMU):
        self.law = law
        self.received: list[rtp.RtpPacket] = []
        self.endpoint = rtp.RtpEndpoint(HOST, self.received.append)
        self.port = self.endpoint.local_port
        self.ssrc = 0x1234ABCD

    async def aim(self, leg: RtpLeg) -> "Trunk":
        self.endpoint.set_remote(HOST, leg.local_port, latch=False)
        await self.endpoint.opening
        return self

    def send(self, sequence: int, timestamp: int, samples: np.ndarray) -> None:
        payload = g711.encode(samples.astype(np.int16), self.law)
        self.send_payload(self.law, sequence, timestamp, payload)

    def send_payload(self, payload_type: int, sequence: int, timestamp: int, payload: bytes) -> None:
        self.endpoint.send(rtp.packet(payload_type, False, sequence & 0xFFFF, timestamp & 0xFFFFFFFF, self.ssrc,
                                      payload))


def level(value: int, samples: int = 160) -> np.ndarray:
    """A packet's worth of one sample value: which packet a frame came from shows in its samples."""
    return np.full(samples, value, dtype=np.int16)


def frame_levels(ear: Ear) -> list[int]:
    """Which packet each frame came from (see `level`), in hundreds."""
    return [round(int(np.median(chunk)) / 100) for chunk in ear.chunks]


def pcap_rtp(path: Path) -> list[bytes]:
    """The UDP payloads of a libpcap capture (Ethernet, IPv4): the RTP packets a trunk sent."""
    data = path.read_bytes()
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    payloads, offset = [], 24  # the global header
    while offset + 16 <= len(data):
        captured = struct.unpack_from(order + "I", data, offset + 8)[0]
        frame = data[offset + 16:offset + 16 + captured]
        offset += 16 + captured
        ip = frame[14:]  # after the Ethernet header
        udp = ip[(ip[0] & 0x0F) * 4:]
        payloads.append(udp[8:struct.unpack_from("!H", udp, 4)[0]])
    return payloads


def trimmed_pcap(path: Path, packets: int, to: Path) -> None:
    """The first `packets` packets of a capture, as a capture."""
    data = path.read_bytes()
    order = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    end = 24
    for _ in range(packets):
        end += 16 + struct.unpack_from(order + "I", data, end + 8)[0]
    to.write_bytes(data[:end])


@pytest.fixture
async def legs():
    """Factory of RTP legs on the loopback (`remote_port` 9: discard, until pointed at a peer), with helpers
    to give a leg a tone to send, an ear, and a trunk; everything is stopped at the end."""
    made, ears, taps, trunks = [], [], [], []

    def make(payload_type: int = g711.PCMU, remote_port: int = 9, **kwargs) -> RtpLeg:
        made.append(RtpLeg(f"leg{len(made)}", lambda leg: None, HOST, HOST, remote_port, payload_type,
                           TELEPHONE_EVENT, **kwargs))
        return made[-1]

    def ear(leg: RtpLeg) -> Ear:
        ears.append(Ear(leg.taps["audio"]))
        return ears[-1]

    def tone(leg: RtpLeg, hz: float) -> None:
        taps.append(Tap(ToneTrack(hz)))
        leg.audio_out.follow(taps[-1])

    def trunk(law: int = g711.PCMU) -> Trunk:
        trunks.append(Trunk(law))
        return trunks[-1]

    make.ear, make.tone, make.trunk = ear, tone, trunk
    yield make
    for e in ears:
        e.stop()
    for leg in made:
        await leg.close()
    for tap in taps:
        await tap.stop()
    for t in trunks:
        await t.endpoint.close()


def pair(legs, law: int) -> tuple[RtpLeg, RtpLeg]:
    a = legs(law)
    b = legs(law, remote_port=a.local_port)
    a.update(HOST, b.local_port, law, TELEPHONE_EVENT)
    return a, b


async def sending_to_a_trunk(legs, **kwargs) -> tuple[RtpLeg, Trunk]:
    """A leg (made with `kwargs`) sending a PHONE_HZ tone to a trunk aimed back at it."""
    trunk = legs.trunk()
    leg = legs(remote_port=trunk.port, **kwargs)
    await trunk.aim(leg)
    legs.tone(leg, PHONE_HZ)
    return leg, trunk


def hears_music(ear: Ear) -> bool:
    return any(near(ear.hears(0.2), note) for note in Music.NOTES_HZ)


# G.711


@pytest.mark.unit
@NEEDS_AUDIOOP
@LAWS
def test_encoding_every_sample_is_bit_exact_with_the_reference(law):
    every = np.arange(-32768, 32768, dtype=np.int16)
    reference = audioop.lin2ulaw if law == g711.PCMU else audioop.lin2alaw
    assert g711.encode(every, law) == reference(every.tobytes(), 2)


@pytest.mark.unit
@NEEDS_AUDIOOP
@LAWS
def test_decoding_every_code_is_bit_exact_with_the_reference(law):
    every = bytes(range(256))
    reference = audioop.ulaw2lin if law == g711.PCMU else audioop.alaw2lin
    assert g711.decode(every, law).tobytes() == reference(every, 2)


# Packets


@pytest.mark.unit
def test_the_payload_is_found_past_csrcs_a_header_extension_and_padding():
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x10\x00\x00\x00"
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 0x80 | 8, 7, 1600, 99)  # padding, extension, 2 CSRCs
    packet = rtp.parse(header + csrcs + extension + b"abc" + b"\0\0\3")
    assert (packet.payload_type, packet.marker, packet.sequence, packet.timestamp) == (8, True, 7, 1600)
    assert (packet.ssrc, packet.payload) == (99, b"abc")


@pytest.mark.unit
def test_rtcp_and_what_is_not_rtp_version_2_are_no_packets():
    assert rtp.parse(struct.pack("!BBHI", 0x81, 201, 7, 99) + bytes(24)) is None  # a receiver report
    assert rtp.parse(b"\x40" + bytes(20)) is None
    assert rtp.parse(b"\x80\x00") is None


# Two legs, a tone each way


@LAWS
async def test_each_leg_hears_the_tone_the_other_sends(legs, law):
    a, b = pair(legs, law)
    legs.tone(a, PHONE_HZ)
    legs.tone(b, AGENT_HZ)
    ear_a, ear_b = legs.ear(a), legs.ear(b)
    await until(lambda: near(ear_a.hears(), AGENT_HZ) and near(ear_b.hears(), PHONE_HZ), what="both tones heard")
    stats = a.stats()
    assert stats["state"] == "connected" and stats["codec"] == ("audio/PCMU" if law == g711.PCMU else "audio/PCMA")
    assert stats["lost"] == stats["late"] == stats["duplicates"] == 0


async def test_packets_go_out_every_20_ms_with_running_sequence_and_timestamp(legs):
    _, trunk = await sending_to_a_trunk(legs)
    await until(lambda: len(trunk.received) >= 15, what="15 packets from the leg")
    packets = trunk.received[:15]
    assert packets[0].marker and not any(p.marker for p in packets[1:])
    assert {len(p.payload) for p in packets} == {160} and {p.payload_type for p in packets} == {0}
    assert all((q.sequence - p.sequence) & 0xFFFF == 1 for p, q in zip(packets, packets[1:]))
    assert all((q.timestamp - p.timestamp) & 0xFFFFFFFF == 160 for p, q in zip(packets, packets[1:]))
    assert len({p.ssrc for p in packets}) == 1


async def test_a_leg_learns_where_the_trunk_sends_from_and_ignores_strangers(legs):
    leg = legs()  # the SDP said port 9: behind NAT, the trunk's packets come from elsewhere
    trunk, stranger = await legs.trunk().aim(leg), await legs.trunk().aim(leg)
    trunk.send(1, 160, level(1000))
    await until(lambda: leg.stats()["remote"] == f"{HOST}:{trunk.port}", what="the leg latched")
    legs.tone(leg, PHONE_HZ)
    await until(lambda: len(trunk.received) >= 3, what="the leg sends to the trunk")
    stranger.send(2, 320, level(2000))
    await until(lambda: leg.stats()["strays"] == 1, what="the stranger's packet dropped")
    assert not stranger.received and leg.stats()["packetsIn"] == 1


async def test_a_leg_the_trunk_holds_sends_nothing_and_resumes_with_the_marker(legs):
    leg, trunk = await sending_to_a_trunk(legs, direction="sendonly")  # the trunk's SDP: it sends, it takes nothing
    await assert_nothing_arrives(lambda: until(lambda: trunk.received, what="a packet"), what="a packet to the trunk")
    assert leg.sender.frames >= 5  # what must not happen has had ten frames' time to happen
    leg.update(HOST, trunk.port, g711.PCMU, TELEPHONE_EVENT, direction="sendrecv")
    await until(lambda: len(trunk.received) >= 2, what="sending resumed")
    first = trunk.received[0]
    assert first.marker and (first.timestamp - trunk.received[1].timestamp) & 0xFFFFFFFF == 0x100000000 - 160


async def test_a_leg_drops_what_a_trunk_that_said_recvonly_sends(legs):
    leg = legs(direction="recvonly")
    ear = legs.ear(leg)
    trunk = await legs.trunk().aim(leg)
    for n in range(3):
        trunk.send(n, 160 * n, level(1000))
    await until(lambda: leg.stats()["packetsIn"] == 3, what="three packets read")
    leg.update(HOST, trunk.port, g711.PCMU, TELEPHONE_EVENT)  # a re-INVITE: sendrecv
    trunk.send(3, 480, level(2000))
    await until(lambda: ear.chunks, what="the packet after the re-INVITE")
    assert frame_levels(ear) == [20] and leg.stats()["framesIn"] == {"audio": 1}


async def test_a_leg_takes_an_even_port_of_its_range_and_frees_it_when_closed():
    low = free_udp_ports(1)[0] & ~1
    leg = RtpLeg("x", lambda leg: None, HOST, HOST, 9, g711.PCMU, ports=range(low, low + 4))
    port, tasks = leg.local_port, [leg.sender.task, leg.taps["audio"].task]
    assert port in (low, low + 2)
    await leg.close()
    assert all(task.done() for task in tasks) and leg.state == "closed"
    again = rtp.bind_udp(HOST, range(port, port + 1))
    assert again.getsockname()[1] == port
    again.close()


async def test_a_leg_refuses_what_is_not_g711_or_not_an_address():
    with pytest.raises(LegError, match="not G.711"):
        RtpLeg("x", lambda leg: None, HOST, HOST, 4000, 96)
    with pytest.raises(LegError, match="not an IP address"):
        RtpLeg("x", lambda leg: None, HOST, "trunk.example.com", 4000, g711.PCMU)


# Reordering, repeats, loss, packet sizes


async def test_reordered_and_repeated_packets_play_once_in_order(legs):
    leg = legs()
    ear = legs.ear(leg)
    trunk = await legs.trunk().aim(leg)
    for n in (1, 2, 4, 3, 5, 5, 6, 3, 8, 8, 7, 9):  # 5 and 3 again once played: late; 8 twice while waiting
        trunk.send(100 + n, 160 * n, level(100 * n))
    await until(lambda: len(ear.chunks) >= 9, what="nine frames")
    await assert_nothing_arrives(lambda: until(lambda: len(ear.chunks) > 9), within=0.06,  # past the reorder wait
                                 what="a tenth frame")
    assert frame_levels(ear) == list(range(1, 10))
    assert (leg.stats()["duplicates"], leg.stats()["late"], leg.stats()["lost"]) == (1, 2, 0)


async def test_a_missing_packet_is_given_up_when_two_later_ones_wait(legs):
    leg = legs()
    ear = legs.ear(leg)
    trunk = await legs.trunk().aim(leg)
    for n in (1, 2, 4, 5):
        trunk.send(n, 160 * n, level(100 * n))
    await until(lambda: len(ear.chunks) >= 4, what="four frames")
    assert frame_levels(ear) == [1, 2, 4, 5] and leg.stats()["lost"] == 1
    trunk.send(3, 480, level(300))  # too late now
    trunk.send(7, 160 * 7, level(700))  # 6 is lost; no later packet comes: given up after the reorder wait
    await until(lambda: len(ear.chunks) >= 5, timeout=1, what="the frame after the gap")
    assert frame_levels(ear)[-1] == 7 and leg.stats()["late"] == 1 and leg.stats()["lost"] == 2


@pytest.mark.parametrize("packet_ms", [10, 30])
async def test_packets_of_other_lengths_become_20_ms_frames_of_the_same_samples(legs, packet_ms):
    leg = legs()
    ear = legs.ear(leg)
    trunk = await legs.trunk().aim(leg)
    size = packet_ms * 8
    ramp = (np.arange(size * 12) * 7 % 6000 - 3000).astype(np.int16)  # 12 packets, a whole number of frames
    sent = g711.decode(g711.encode(ramp, g711.PCMU), g711.PCMU)
    for n in range(12):
        trunk.send(n, n * size, ramp[n * size:(n + 1) * size])
        await asyncio.sleep(0.002)
    await until(lambda: len(ear.chunks) >= len(ramp) // 160, what="every frame")
    assert {len(chunk) for chunk in ear.chunks} == {160}
    assert np.array_equal(ear.samples(), sent)


async def test_the_sipp_sample_recording_in_30_ms_packets_arrives_sample_for_sample(legs):
    leg = legs(g711.PCMA)
    ear = legs.ear(leg)
    sender = rtp.RtpEndpoint(HOST, lambda packet: None)
    sender.set_remote(HOST, leg.local_port, latch=False)
    await sender.opening
    packets = pcap_rtp(SAMPLES / "g711a.pcap")[:60]  # 1.8 s of speech, 240 samples a packet
    for data in packets:
        sender.send(data)
        await asyncio.sleep(0.003)
    expected = np.concatenate([g711.decode(rtp.parse(data).payload, g711.PCMA) for data in packets])
    await until(lambda: len(ear.chunks) >= len(expected) // 160, what="every frame of the recording")
    assert np.array_equal(ear.samples(), expected[:len(ear.samples())]) and len(ear.samples()) == len(expected)
    await sender.close()


# Keys


async def test_keys_pressed_on_one_leg_reach_the_other_once_each_in_order(legs):
    a, b = pair(legs, g711.PCMU)
    legs.tone(a, PHONE_HZ)
    pressed = []
    b.on_digit = pressed.append
    await a.send_digits("159*#0AD", duration_ms=60, gap_ms=40)
    await until(lambda: len(pressed) == 8, what="eight keys")
    await assert_nothing_arrives(lambda: until(lambda: len(pressed) > 8), within=0.05, what="a key pressed twice")
    assert "".join(pressed) == "159*#0AD" and b.stats()["digitsIn"] == "159*#0AD"


async def test_a_key_press_is_one_event_and_the_audio_after_it_keeps_its_clock(legs):
    leg, trunk = await sending_to_a_trunk(legs)
    await until(lambda: len(trunk.received) >= 3, what="audio first")
    await leg.send_digits("7", duration_ms=180)
    await until(lambda: trunk.received[-1].payload_type == 0, what="audio again")
    kinds = [p.payload_type for p in trunk.received]
    first, last = kinds.index(TELEPHONE_EVENT), len(kinds) - 1 - kinds[::-1].index(TELEPHONE_EVENT)
    before, events, after = trunk.received[:first], trunk.received[first:last + 1], trunk.received[last + 1:]
    assert {p.payload_type for p in before + after} == {0}
    fields = [struct.unpack("!BBH", p.payload) for p in events]
    assert [f[2] for f in fields] == [0, 400, 800, 1200, 1440, 1440, 1440]  # 180 ms: updates at 50 ms, end x3
    assert [f[1] & 0x80 for f in fields] == [0] * 4 + [0x80] * 3 and {f[0] for f in fields} == {7}
    assert [p.marker for p in events] == [True] + [False] * 6 and len({p.timestamp for p in events}) == 1
    assert all((q.sequence - p.sequence) & 0xFFFF == 1 for p, q in zip(trunk.received, trunk.received[1:]))
    assert (events[0].timestamp - before[-1].timestamp) & 0xFFFFFFFF == 160  # the event starts where audio stops
    assert after[0].marker and (after[0].timestamp - events[0].timestamp) & 0xFFFFFFFF >= 1440


async def test_keys_from_sipps_rfc_2833_captures_are_heard_once_each(legs):
    leg = legs(g711.PCMA)
    pressed = []
    leg.on_digit = pressed.append
    sender = rtp.RtpEndpoint(HOST, lambda packet: None)
    sender.set_remote(HOST, leg.local_port, latch=False)
    await sender.opening
    keys = ["1", "pound", "star", "0", "9", "5"]
    for key in keys:
        for data in pcap_rtp(SAMPLES / f"dtmf_2833_{key}.pcap"):  # start, updates, the end three times
            sender.send(data)
            await asyncio.sleep(0.001)
    await until(lambda: len(pressed) == len(keys), what="every key")
    await assert_nothing_arrives(lambda: until(lambda: len(pressed) > len(keys)), within=0.05,
                                 what="a key heard twice")
    assert "".join(pressed) == "1#*095"
    await sender.close()


def free_udp_ports(count: int) -> list[int]:
    """Ports free on the loopback now (the machine is shared: fixed ports could be taken)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(count)]
    for sock in socks:
        sock.bind((HOST, 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


async def sipp(tmp_path: Path, name: str, *args: str) -> asyncio.subprocess.Process:
    log = open(tmp_path / f"{name}.out", "wb")
    return await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(SIPP_SCENARIOS / f"{name}.xml"), "-i", HOST, "-m", "1", "-nostdin", "-timeout", "15s",
        *args, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)


@pytest.mark.peer
@needs("sipp")
async def test_sipp_as_the_trunk_plays_a_recording_and_keys_to_a_leg(legs, tmp_path):
    """Two sipps make a call: the answering one gives our leg's port as its media address, the calling one
    plays speech (30 ms A-law packets) and the keys 1 and # there, as sipp plays media: raw, unchanged."""
    leg = legs(g711.PCMA)
    ear = legs.ear(leg)
    pressed = []
    leg.on_digit = pressed.append
    trimmed_pcap(SAMPLES / "g711a.pcap", 33, tmp_path / "audio.pcap")  # a second of it
    answering, calling, media = free_udp_ports(3)
    uas = await sipp(tmp_path, "rtp_answer", "-p", str(answering), "-key", "rtp_host", HOST,
                     "-key", "rtp_port", str(leg.local_port))
    uac = await sipp(tmp_path, "rtp_play", f"{HOST}:{answering}", "-p", str(calling), "-mi", HOST,
                     "-mp", str(media))
    try:
        called = await asyncio.wait_for(uac.wait(), 15)
        assert called == 0, (tmp_path / "rtp_play.out").read_text(errors="replace")[-2000:]
        await until(lambda: len(pressed) == 2, what="both keys")
    finally:
        for process in (uac, uas):
            if process.returncode is None:
                process.kill()
                await process.wait()
    expected = np.concatenate([g711.decode(rtp.parse(data).payload, g711.PCMA)
                               for data in pcap_rtp(tmp_path / "audio.pcap")])
    assert "".join(pressed) == "1#" and leg.stats()["remote"] == f"{HOST}:{media}"
    assert np.array_equal(ear.samples()[:len(expected)], expected[:len(ear.samples())])
    assert len(ear.samples()) >= len(expected) - 80  # all but a partial frame: the keys come on another SSRC


# In the engine, next to a web leg


@pytest.fixture
async def engine():
    engine = MediaEngine(["127.0.0.1"])
    yield engine
    await engine.close()


async def test_a_phone_caller_and_an_agent_hear_each_other_through_the_bridge(engine, legs):
    trunk = legs(g711.PCMU)  # the carrier's end of the line, sending the caller's voice
    legs.tone(trunk, PHONE_HZ)
    trunk_ear = legs.ear(trunk)
    opened = await engine.perform("open_rtp_leg", {
        "call_id": "c1", "leg_id": "phone", "remote_host": HOST, "remote_port": trunk.local_port,
        "payload_type": 0, "telephone_event_pt": TELEPHONE_EVENT,
        "plan": {"a": "phone", "ringing": "agent:1"}})
    assert opened == {"local_host": HOST, "local_port": opened["local_port"], "codec": "audio/PCMU"}
    trunk.update(HOST, opened["local_port"], g711.PCMU, TELEPHONE_EVENT)
    agent = Peer(AGENT_HZ)
    try:
        answer = await join(engine, "c1", "agent:1", agent)
        assert answer["codec"] == "audio/PCMU"  # the web leg takes the trunk's law: no transcoding between
        await until(lambda: hears_music(trunk_ear), what="the waiting caller hears music")
        await plan(engine, "c1", a="phone", b="agent:1")
        await until(lambda: hears(agent, PHONE_HZ) and near(trunk_ear.hears(), AGENT_HZ),
                    what="the agent hears the caller and the caller the agent")

        pressed = []
        engine.on_digit = lambda call_id, leg_id, digit: pressed.append((call_id, leg_id, digit))
        assert await engine.perform("send_digits", {"call_id": "c1", "leg_id": "phone", "digits": "42",
                                                    "duration_ms": 60, "gap_ms": 40}) == {"queued": 2}
        trunk_keys = []
        trunk.on_digit = trunk_keys.append
        await until(lambda: trunk_keys == ["4", "2"], what="the trunk gets the agent's keys")
        await trunk.send_digits("9", duration_ms=60)
        await until(lambda: pressed == [("c1", "phone", "9")], what="the engine hears the caller's key")

        await plan(engine, "c1", a="phone", b="agent:1", hold=True)
        await until(lambda: hears(agent, 0) and hears_music(trunk_ear), what="on hold: music, and silence")
        stats = (await engine.perform("stats", {}))["calls"]["c1"]["phone"]
        assert stats["state"] == "connected" and stats["digitsIn"] == "9" and stats["lost"] == 0
    finally:
        await agent.close()


async def test_the_engine_refuses_phone_legs_it_cannot_open(engine):
    with pytest.raises(LegError, match="not G.711"):
        await engine.perform("open_rtp_leg", {"call_id": "c1", "leg_id": "phone", "remote_host": HOST,
                                              "remote_port": 4000, "payload_type": 18})
    with pytest.raises(LegError, match="no phone leg"):
        await engine.perform("send_digits", {"call_id": "c1", "leg_id": "phone", "digits": "1"})
    assert engine.calls == {}
