"""Hearing and seeing what a page's WebRTC connections receive, for browser tests of the media bridge.

`TRACK_PEER_CONNECTIONS` (an init script) records every RTCPeerConnection a page makes in `window.__pcs`;
`hears(page)` runs an AnalyserNode (smoothing off) on the newest open connection's received audio and returns
its strongest frequency (0 for silence); `VOICE_LEVELS` and `TONES_PRESENT` read a mix of voices from the same
listening (`listening`). Each side's fake microphone plays a WAV tone made with sox, so a
frequency names who is heard.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

from playwright.sync_api import Page

MUSIC_HZ = (523.25, 659.25, 783.99)  # the bridge's queue and hold music (media/sounds.py)
TOLERANCE_HZ = 15
SILENT_DB = -75.0

TRACK_PEER_CONNECTIONS = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native) return;
  window.__pcs = [];
  window.__offersTaken = 0;
  class Tracked extends Native {
    constructor(...args) { super(...args); window.__pcs.push(this); }
    setRemoteDescription(...args) { window.__offersTaken += 1; return super.setRemoteDescription(...args); }
  }
  window.RTCPeerConnection = Tracked;
})();
"""

def listening(empty: str, reading: str) -> str:
    """In-page JavaScript, `async ([ms, voices]) => …`: an AnalyserNode (smoothing off) listens `ms` to the audio
    the newest open connection receives; then `reading`, JavaScript with `bins` (dB per bin), `ctx`, `analyser`
    and `voices` (frequencies) in scope, returns what the caller wants of it. `empty` is returned when no open
    connection receives audio."""
    return """async ([ms, voices]) => {
  const open = window.__pcs.filter((pc) => pc.connectionState !== 'closed');
  const pc = open[open.length - 1];
  const receiver = pc && pc.getReceivers().find((r) => r.track && r.track.kind === 'audio');
  if (!receiver) return %s;
  const ctx = window.__audioContext || (window.__audioContext = new AudioContext());
  await ctx.resume();
  const source = ctx.createMediaStreamSource(new MediaStream([receiver.track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  analyser.smoothingTimeConstant = 0;
  source.connect(analyser);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  source.disconnect();
%s
}""" % (empty, reading)


# The strongest frequency and its level.
HEAR = listening("{ hz: 0, db: -200, why: 'no open connection' }", """\
  let best = 1;
  for (let i = 2; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
  return { hz: best * ctx.sampleRate / analyser.fftSize, db: bins[best] };""")

# The level (dB) at each voice's frequency (a mix carries several).
VOICE_LEVELS = listening("null", """\
  const at = (hz) => { const i = Math.round(hz * analyser.fftSize / ctx.sampleRate);
                       return Math.max(bins[i - 1], bins[i], bins[i + 1]); };
  return Object.fromEntries(voices.map((hz) => [hz, at(hz)]));""")

# The voices present: for each voice's frequency its peak in dB, present when within 25 dB of the strongest peak
# and above silence.
TONES_PRESENT = listening("[]", """\
  const width = ctx.sampleRate / analyser.fftSize;
  let loudest = -200;
  for (let i = 2; i < bins.length; i++) loudest = Math.max(loudest, bins[i]);
  const peak = (hz) => {
    let best = -200;
    for (let i = Math.floor((hz - 15) / width); i <= Math.ceil((hz + 15) / width); i++) best = Math.max(best, bins[i]);
    return best;
  };
  return voices.filter((hz) => peak(hz) > -75 && peak(hz) >= loudest - 25);""")


FRAMES = """async () => {
  const open = window.__pcs.filter((pc) => pc.connectionState !== 'closed');
  const pc = open[open.length - 1];
  if (!pc) return { received: 0, sent: 0 };
  const stats = await pc.getStats();
  let received = 0, sent = 0;
  stats.forEach((report) => {
    if (report.kind !== 'video') return;
    if (report.type === 'inbound-rtp') received += report.framesDecoded || 0;
    if (report.type === 'outbound-rtp') sent += report.framesEncoded || 0;
  });
  return { received, sent };
}"""


def tone_wav(folder: Path, hz: int) -> Path:
    """A 20-second sine of `hz` (Chromium loops it as the fake microphone)."""
    path = folder / f"tone-{hz}.wav"
    if not path.exists():
        subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(path), "synth", "20", "sine",
                        str(hz), "vol", "0.5"], check=True)
    return path


def hears(page: Page, ms: int = 400) -> float:
    """The frequency the page hears now on its newest open connection (0: silence or nothing)."""
    page = getattr(page, "page", page)  # an SdkPage or a plain Page
    heard = page.evaluate(HEAR, [ms, []])
    return 0.0 if heard["db"] < SILENT_DB else round(heard["hz"], 1)


def is_music(hz: float) -> bool:
    return any(abs(hz - note) <= TOLERANCE_HZ for note in MUSIC_HZ)


def wait_to_hear(page: Page, expected, what: str, timeout: float = 8.0) -> float:
    """Wait until the page hears `expected` (a frequency, 0 for silence, or a predicate on the frequency)."""
    matches = expected if callable(expected) else (
        lambda hz: abs(hz - expected) <= TOLERANCE_HZ if expected else hz == 0)
    deadline = time.monotonic() + timeout
    heard = []
    while True:
        hz = hears(page)
        heard.append(hz)
        if matches(hz):
            return hz
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not heard within {timeout} s; heard {heard[-8:]} Hz")


def video_frames(page: Page) -> dict:
    return getattr(page, "page", page).evaluate(FRAMES)


def open_connections(page: Page) -> int:
    return getattr(page, "page", page).evaluate("() => window.__pcs.filter((pc) => pc.connectionState !== 'closed').length")
