"""Calls per core with forwarding on and off: Opus and PCMU audio, VP8 video, and the delay the bridge adds.

    .venv/bin/python bench/media_forwarding.py [--calls 20] [--video-calls 3] [--seconds 10] [--json FILE]
    .venv/bin/python bench/media_forwarding.py --codecs opus,phone --record   # every audio call recorded

For each kind of call the engine runs in a process of its own (`media_harness.MediaProcess`), once with
forwarding (the default) and once with MEDIA_FORWARDING=0 (every frame decoded and re-encoded), and `--calls`
calls are bridged through it: a customer's peer and an agent's, each sending a tone (or a picture) and
receiving its partner's. The media process's own CPU over `--seconds` gives calls per core: calls / cores,
valid when every leg received its full frame rate (said when one did not). With `--record` every audio call
is recorded (media/recorder.py) into a temporary folder, and the files are checked afterwards: finished, as
long as the window, and made from the packets carried or from samples.

The peers are the load generator and share the two cores with the bridge, so they are made cheap: each sends
frames encoded once at the start (a second of its tone, a second of video with one key frame, looped: the
sender packs them without encoding, as the bridge does when it forwards) and counts what it receives without
decoding it. Now and then is enough to check the tone: at the end of the window each peer decodes its last
half second received and must hear its partner's tone. The peers' CPU is printed beside the bridge's: where
the peers use as much as a core they, not the bridge, limit the run (they saturate first: one event loop).

Added delay (forwarding): a forwarded packet arrives byte for byte as it was sent, so each packet received is
matched to when its partner sent it; the same is measured over a direct peer-to-peer call, and the bridge
adds the difference (its receive buffer, one frame, and the extra hop). The decoded path's delay is
bench/media_latency.py's.

The last line is `forwarded/decoded Opus calls per core: A / B = R x`.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import fractions
import os
import statistics
import tempfile
import time

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender
from aiortc.mediastreams import MediaStreamTrack

from harness import CpuWatch, emit_json
from media_harness import AGENT_HZ, CUSTOMER_HZ, MediaProcess, client_patches
from sessions_app.media import ogg
from sessions_app.media.encoded import EncodedFrame
from testing.peers import Offering, dominant_hz

SPY = "/tmp/spy/bin/py-spy"
FULL_RATE = {"audio": 49, "video": 29}  # frames/s a leg must keep (of 50, of 30)
CODECS = {"opus": "audio/opus", "pcmu": "audio/PCMU", "phone": "audio/PCMU", "vp8": "video/VP8"}
# "phone": a caller on the trunk (plain RTP, PCMU: the phone gateway's RTP leg) and an agent's browser on PCMU,
# what a deployment's PCMU calls are; "pcmu": two browsers on PCMU.
VIDEO_SIZE, VIDEO_FPS = (320, 240), 30


def encoded_tone(codec: str, hz: float) -> tuple[list[bytes], int, int]:
    """One second of `hz` encoded: the packets, the samples each holds (codec clock), the clock rate."""
    rate, samples, name = (48000, 960, "libopus") if codec == "opus" else (8000, 160, "pcm_mulaw")
    context = av.CodecContext.create(name, "w")
    context.sample_rate, context.format, context.layout = rate, "s16", "mono"
    if codec == "opus":
        context.bit_rate = 32000
    t = np.arange(rate) / rate
    tone = (np.sin(2 * np.pi * hz * t) * 0.3 * 32767).astype(np.int16)
    packets = []
    for start in range(0, rate * 2, samples):  # two seconds: the second one, the encoder settled, is kept
        frame = av.AudioFrame.from_ndarray(tone[np.arange(start, start + samples) % rate].reshape(1, -1),
                                           format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        packets += [bytes(p) for p in context.encode(frame)]
    return packets[-rate // samples:], samples, rate


def encoded_video() -> list[bytes]:
    """One second of VP8 at `VIDEO_SIZE`, a key frame first (looped: a key frame every second)."""
    context = av.CodecContext.create("libvpx", "w")
    context.width, context.height = VIDEO_SIZE
    context.pix_fmt, context.bit_rate = "yuv420p", 300_000
    context.time_base = fractions.Fraction(1, VIDEO_FPS)
    context.gop_size = VIDEO_FPS
    context.options = {"deadline": "realtime", "lag-in-frames": "0", "cpu-used": "8"}
    frames = []
    for n in range(VIDEO_FPS):
        image = np.zeros((VIDEO_SIZE[1], VIDEO_SIZE[0], 3), dtype=np.uint8)
        image[:, :, 1] = 90
        image[:, (n * 8) % VIDEO_SIZE[0]:(n * 8) % VIDEO_SIZE[0] + 20, :] = 230  # a bar moving across
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        frame.pts, frame.time_base = n, context.time_base
        frame.pict_type = av.video.frame.PictureType.I if n == 0 else av.video.frame.PictureType.NONE
        frames.append(b"".join(bytes(p) for p in context.encode(frame)))
    return frames


class PreEncodedTrack(MediaStreamTrack):
    """Sends `frames` (already encoded) in a loop at their own pace; notes when each was last sent."""

    def __init__(self, kind: str, codec: str, frames: list[bytes], samples: int, clock: int, interval: float):
        super().__init__()
        self.kind = kind
        self.codec, self.frames, self.samples, self.interval = codec, frames, samples, interval
        self.time_base = fractions.Fraction(1, clock)
        self.step = samples or int(interval * clock)
        self.sent_at: dict[bytes, float] = {}
        self._started: float | None = None
        self._count = 0

    async def recv(self) -> EncodedFrame:
        if self._started is None:
            self._started = time.monotonic()
        wait = self._started + self._count * self.interval - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        data = self.frames[self._count % len(self.frames)]
        frame = EncodedFrame(self.codec, data, self.samples, keyframe=self._count % len(self.frames) == 0,
                             pts=self._count * self.step, time_base=self.time_base)
        self._count += 1
        self.sent_at[data] = time.monotonic()
        return frame


class LightPeer(Offering):
    """A browser-like endpoint that sends pre-encoded frames and counts what it receives, undecoded."""

    def __init__(self, codec: str, hz: float, frames: list[bytes], samples: int, clock: int, interval: float):
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.hz = hz
        kind = CODECS[codec].split("/")[0]
        self.kind, self.codec = kind, codec
        self.track = PreEncodedTrack(kind, codec, frames, samples, clock, interval)
        if kind == "video":  # a browser's audio line, silent here: the bridge wants one in every offer
            self.pc.addTransceiver("audio", direction="recvonly")
        transceiver = self.pc.addTransceiver(self.track, direction="sendrecv")
        caps = RTCRtpSender.getCapabilities(kind).codecs
        transceiver.setCodecPreferences([c for c in caps if c.mimeType.lower() == CODECS[codec].lower()])
        self.frames_in = 0
        self.recent: collections.deque[bytes] = collections.deque(maxlen=25)
        self.partner: LightPeer | None = None
        self.delays: list[float] = []
        self.connected = asyncio.Event()

        @self.pc.on("track")
        def on_track(track):
            if track.kind == kind:
                track.listened = lambda: False  # patches.py: hand over encoded, never decode
                track.encoded = self._received

        @self.pc.on("connectionstatechange")
        def on_state():
            if self.pc.connectionState == "connected":
                self.connected.set()

    def _received(self, codec: str, data: bytes, samples: int, source_ts: int, keyframe: bool = False) -> None:
        self.frames_in += 1
        self.recent.append(data)
        sent = self.partner.track.sent_at.get(data) if self.partner is not None else None
        if sent is not None:
            self.delays.append(time.monotonic() - sent)

    def hears(self) -> float:
        """The tone of the last half second received, decoded now (the only decoding a peer does)."""
        if self.kind != "audio" or not self.recent:
            return 0.0
        decoder = av.CodecContext.create("libopus" if self.codec == "opus" else "pcm_mulaw", "r")
        decoder.sample_rate, decoder.layout = (48000, "mono") if self.codec == "opus" else (8000, "mono")
        samples = []
        for data in self.recent:
            for frame in decoder.decode(av.Packet(data)):
                samples.append(frame.to_ndarray().reshape(-1).astype(np.float64))
        return dominant_hz(np.concatenate(samples), decoder.sample_rate) if samples else 0.0

    async def close(self) -> None:
        await self.pc.close()


class PhonePeer(asyncio.DatagramProtocol):
    """A caller on the trunk: a UDP socket sending a pre-encoded PCMU packet every 20 ms (all phones of a run
    from one ticker, `phone_ticker`) and counting what it receives, undecoded."""

    def __init__(self, hz: float, frames: list[bytes]):
        self.hz, self.kind, self.codec = hz, "audio", "pcmu"
        self.frames = frames
        self.track = type("Sent", (), {})()
        self.track.sent_at = {}
        self.frames_in = 0
        self.recent: collections.deque[bytes] = collections.deque(maxlen=25)
        self.partner = None
        self.delays: list[float] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.remote: tuple[str, int] | None = None
        self.sequence, self.timestamp, self.count = 0, 0, 0

    hears = LightPeer.hears

    async def open(self) -> int:
        loop = asyncio.get_running_loop()
        self.transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        return self.transport.get_extra_info("sockname")[1]

    def datagram_received(self, data: bytes, addr) -> None:
        payload = data[12 + 4 * (data[0] & 0x0F):]
        if data[0] & 0x10:  # a header extension
            length = int.from_bytes(payload[2:4], "big")
            payload = payload[4 + 4 * length:]
        self.frames_in += 1
        self.recent.append(payload)
        sent = self.partner.track.sent_at.get(payload) if self.partner is not None else None
        if sent is not None:
            self.delays.append(time.monotonic() - sent)

    def send_next(self) -> None:
        if self.remote is None or self.transport is None:
            return
        payload = self.frames[self.count % len(self.frames)]
        header = bytes([0x80, 0]) + self.sequence.to_bytes(2, "big") + self.timestamp.to_bytes(4, "big") + \
            (0x1234 + id(self) % 1000).to_bytes(4, "big")
        self.transport.sendto(header + payload, self.remote)
        self.track.sent_at[payload] = time.monotonic()
        self.sequence, self.timestamp, self.count = (self.sequence + 1) & 0xFFFF, self.timestamp + 160, \
            self.count + 1

    async def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def phone_ticker(phones: list[PhonePeer]) -> None:
    """Every 20 ms, each phone sends its next packet (one task for all of them: a cheap load generator)."""
    started, count = time.monotonic(), 0
    while True:
        for phone in phones:
            phone.send_next()
        count += 1
        await asyncio.sleep(max(0, started + count * 0.02 - time.monotonic()))


class Material:
    """What the peers send, encoded once per run."""

    def __init__(self):
        self.tones = {(codec, hz): encoded_tone(codec, hz) for codec in ("opus", "pcmu")
                      for hz in (CUSTOMER_HZ, AGENT_HZ)}
        self.video = encoded_video()

    def peer(self, codec: str, hz: float) -> LightPeer:
        if codec == "phone":
            codec = "pcmu"
        if codec == "vp8":
            return LightPeer("vp8", hz, self.video, 0, 90000, 1 / VIDEO_FPS)
        packets, samples, clock = self.tones[(codec, hz)]
        return LightPeer(codec, hz, packets, samples, clock, samples / clock)


async def join(media: MediaProcess, call_id: str, leg_id: str, peer: LightPeer, plan: dict) -> None:
    answer = await media.perform("open_leg", {"call_id": call_id, "leg_id": leg_id, "sdp": await peer.offer(),
                                              "plan": plan, "prefer_codec": CODECS[peer.codec]
                                              if peer.kind == "audio" else ""})
    await peer.accept_answer(answer["sdp"])
    await asyncio.wait_for(peer.connected.wait(), 15)


async def place(media: MediaProcess, material: Material, codec: str, calls: int,
                tickers: list[asyncio.Task], record_to: str = "") -> list[tuple]:
    gate = asyncio.Semaphore(5)

    async def one(number: int) -> tuple:
        async with gate:
            agent = material.peer(codec, AGENT_HZ)
            customer = PhonePeer(CUSTOMER_HZ, material.tones[("pcmu", CUSTOMER_HZ)][0]) if codec == "phone" \
                else material.peer(codec, CUSTOMER_HZ)
            customer.partner, agent.partner = agent, customer
            plan = {"a": "customer", "b": "agent"}
            if record_to:
                plan["record"] = {"id": f"call{number}", "path": os.path.join(record_to, f"call{number}.ogg")}
            if codec == "phone":  # as the phone gateway opens a caller's leg: plain RTP toward the trunk
                port = await customer.open()
                opened = await media.perform("open_rtp_leg", {
                    "call_id": f"call{number}", "leg_id": "customer", "remote_host": "127.0.0.1",
                    "remote_port": port, "payload_type": 0, "plan": plan})
                customer.remote = ("127.0.0.1", opened["local_port"])
                phones.append(customer)
            else:
                await join(media, f"call{number}", "customer", customer, plan)
            await join(media, f"call{number}", "agent", agent, plan)
            return f"call{number}", customer, agent

    phones: list[PhonePeer] = []
    ticker = asyncio.get_running_loop().create_task(phone_ticker(phones))
    tickers.append(ticker)

    return list(await asyncio.gather(*(one(n) for n in range(calls))))


async def measure(material: Material, codec: str, calls: int, seconds: float, forwarding: bool,
                  spy: str | None = None, record: bool = False) -> dict:
    media = await MediaProcess.start({"MEDIA_FORWARDING": "1" if forwarding else "0"})
    placed, tickers = [], []
    kind = CODECS[codec].split("/")[0]
    spool = tempfile.TemporaryDirectory(prefix="bench-recordings-") if record and kind == "audio" else None
    try:
        placed = await place(media, material, codec, calls, tickers, spool.name if spool else "")
        peers = [peer for _, customer, agent in placed for peer in (customer, agent)]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not all(peer.frames_in > 25 for peer in peers):
            await asyncio.sleep(0.2)
        await asyncio.sleep(1)  # the set-up's burst of CPU passes
        for peer in peers:
            peer.delays.clear()
        before = [peer.frames_in for peer in peers]
        watch, started = CpuWatch(media.pid), time.perf_counter()
        spying = None if not spy else await asyncio.create_subprocess_exec(
            SPY, "record", "-p", str(media.pid), "-d", str(int(seconds)), "-r", "250", "-f",
            "raw" if spy.endswith(".txt") else "flamegraph", "-o", spy, "--nonblocking",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        await asyncio.sleep(seconds)
        elapsed = time.perf_counter() - started
        cpu = watch.report()
        if spying is not None:
            await spying.wait()
        fps = [(peer.frames_in - b) / elapsed for peer, b in zip(peers, before)]
        tones_ok = sum(1 for peer in peers if kind != "audio" or abs(peer.hears() - peer.partner.hz) <= 15)
        delays = sorted(d for peer in peers for d in peer.delays)
    finally:
        for ticker in tickers:
            ticker.cancel()
        for call_id, *peers_of_call in placed:
            await media.perform("end_call", {"call_id": call_id})
            for peer in peers_of_call:
                await peer.close()
        await media.close()
        recorded = recordings_of(spool.name, seconds) if spool else None
        if spool:
            spool.cleanup()
    full = min(fps) >= FULL_RATE[kind]
    return {"codec": codec, "forwarding": forwarding, "calls": calls, "seconds": elapsed, "recorded": recorded,
            "mediaCores": cpu["serverCores"], "clientCores": cpu["clientCores"], "otherCores": cpu["otherCores"],
            "fpsMin": min(fps), "fpsMean": sum(fps) / len(fps), "fullRate": full,
            "tonesHeard": tones_ok, "legs": len(fps),
            "callsPerCore": calls / cpu["serverCores"] if cpu["serverCores"] > 0 else None,
            "coreShareOfACall": cpu["serverCores"] / calls,
            "delayMedianMs": 1000 * statistics.median(delays) if delays else None,
            "delayP99Ms": 1000 * delays[int(0.99 * (len(delays) - 1))] if delays else None}


async def direct_delay(material: Material, codec: str, seconds: float = 3) -> float | None:
    """The median delay of a peer-to-peer call of two such peers: what the bridge's delay is measured against."""
    one, other = material.peer(codec, CUSTOMER_HZ), material.peer(codec, AGENT_HZ)
    one.partner, other.partner = other, one
    try:
        await one.pc.setLocalDescription(await one.pc.createOffer())
        await other.pc.setRemoteDescription(one.pc.localDescription)
        await other.pc.setLocalDescription(await other.pc.createAnswer())
        await one.pc.setRemoteDescription(other.pc.localDescription)
        await asyncio.wait_for(one.connected.wait(), 10)
        await asyncio.sleep(1)
        one.delays.clear()
        other.delays.clear()
        await asyncio.sleep(seconds)
        delays = one.delays + other.delays
        return 1000 * statistics.median(delays) if delays else None
    finally:
        await one.close()
        await other.close()


def recordings_of(folder: str, seconds: float) -> dict:
    """How many of the calls' files were finished and as long as the run at least, and the stereo files'
    kind (two mono streams of the packets carried, or one stereo stream encoded from samples)."""
    files = [os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(".ogg")]
    whole, kinds = 0, collections.Counter()
    for path in files:
        with open(path, "rb") as file:
            kinds["packets" if file.read(200).find(ogg.opus_head()) >= 0 else "samples"] += 1
        with av.open(path) as container:
            stream = container.streams.audio[0]
            whole += float(stream.duration * stream.time_base) >= seconds if stream.duration else 0
    return {"files": len(files), "asLongAsTheRun": whole, "kinds": dict(kinds)}


def report(result: dict, direct_ms: float | None) -> str:
    path = "forwarded" if result["forwarding"] else "decoded"
    if result.get("recorded"):
        path += ", recorded"
    line = (f" {result['calls']:3d} {result['codec']} calls {path}: media process "
            f"{100 * result['mediaCores']:5.1f}% "
            f"of a core ({100 * result['coreShareOfACall']:.2f}% a call) | frames/s per leg min "
            f"{result['fpsMin']:.1f} mean {result['fpsMean']:.1f} | "
            + (f"tone heard by {result['tonesHeard']}/{result['legs']} legs | " if result["codec"] != "vp8" else "")
            + f"peers {result['clientCores']:.2f} cores, other processes "
            f"{result['otherCores']:.2f}")
    per_core = result["callsPerCore"]
    line += f"\n      -> {per_core or 0:.0f} calls per core"
    if not result["fullRate"]:
        line += " (NOT at full rate: some leg got fewer frames; the machine or the peers fell behind)"
    if result["forwarding"] and result["delayMedianMs"] is not None:
        added = result["delayMedianMs"] - (direct_ms or 0)
        line += (f"; delay median {result['delayMedianMs']:.1f} ms, p99 {result['delayP99Ms']:.1f} ms "
                 f"(direct {direct_ms or 0:.1f} ms: the bridge adds {added:.1f} ms)")
    if result.get("recorded"):
        recorded = result["recorded"]
        line += (f"\n      recordings: {recorded['files']} files, {recorded['asLongAsTheRun']} as long as the window, "
                 f"made from {', '.join(f'{kind} {n}' for kind, n in recorded['kinds'].items())}")
    if result["clientCores"] > 0.9:
        line += "\n      (the peers used a whole core: they, not the bridge, limited this run)"
    if result["otherCores"] > 0.25:
        line += "\n      (other processes were busy: figures are noisy, rerun on a quiet machine)"
    return line


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="audio calls per run")
    parser.add_argument("--video-calls", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--codecs", default="opus,pcmu,phone,vp8", help="opus, pcmu (browser to browser), phone (a trunk caller to a browser on PCMU), vp8")
    parser.add_argument("--paths", default="forwarded,decoded", help="forwarded, decoded or both")
    parser.add_argument("--spy", help="py-spy: record the forwarded media process into this SVG/speedscope file")
    parser.add_argument("--record", action="store_true", help="record every audio call (a temporary folder)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    client_patches()
    material = Material()
    results, per_core = [], {}
    print("media_forwarding: the engine in its own process, forwarding on and off; peers send pre-encoded "
          "frames and count what they receive without decoding (this process)")
    for codec in args.codecs.split(","):
        calls = args.video_calls if codec == "vp8" else args.calls
        direct_ms = await direct_delay(material, codec)
        for forwarding in (True, False):
            if ("forwarded" if forwarding else "decoded") not in args.paths.split(","):
                continue
            result = await measure(material, codec, calls, args.seconds, forwarding, args.spy if forwarding else None,
                                   args.record)
            result["directDelayMs"] = direct_ms
            results.append(result)
            per_core[(codec, forwarding)] = result["callsPerCore"]
            print(report(result, direct_ms), flush=True)
    emit_json(args.json, {"runs": results})
    forwarded, decoded = per_core.get(("opus", True)), per_core.get(("opus", False))
    ratio = f"{forwarded / decoded:.1f}" if forwarded and decoded else "?"
    print(f"forwarded/decoded Opus calls per core: {forwarded or 0:.0f} / {decoded or 0:.0f} = {ratio} x")


if __name__ == "__main__":
    asyncio.run(main())
