"""sipp as the SIP trunk, for tests with real peers: a caller it delivers to the hotline, or a phone number it
answers as (a consult's), each with a phone peer (tests/phone_peer.py) as the call's media.

`hotline_caller` is a fixture (a module gives it the `sip_port` fixture its server listens on): the peer, with
the trunk's sipp process as `peer.sipp`, stopped after the test.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from testing.liveserver import free_port

from .phone_peer import PhonePeer
from .real_peers import until

HOTLINE = "008675586013388"  # the demo's hotline with an IVR: 1 queues for phone support
SCENARIOS = Path(__file__).parent / "sipp"


def calls_hotline(sip_port: int | str, peer: PhonePeer, cwd: Path, timeout: str = "80s") -> subprocess.Popen:
    """sipp delivering one call to the hotline at the server's `sip_port`, the caller's media at `peer`."""
    return subprocess.Popen(
        ["sipp", f"127.0.0.1:{sip_port}", "-sf", str(SCENARIOS / "trunk_calls_hotline.xml"), "-s", HOTLINE, "-key",
         "peer_port", str(peer.port), "-i", "127.0.0.1", "-p", str(free_port()), "-m", "1", "-nostdin", "-trace_err",
         "-timeout", timeout, "-timeout_error"], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def answers(scenario: str, trunk_port: int, peer: PhonePeer, cwd: Path, *options: str,
            timeout: str = "60s") -> subprocess.Popen:
    """sipp answering one call on the trunk's port as the scenario `scenario` (a file in tests/sipp/) plays it,
    its media at `peer`; `options` are more of sipp's (`-d 12000`: hang up 12 s after answering)."""
    return subprocess.Popen(
        ["sipp", "-sf", str(SCENARIOS / scenario), "-p", str(trunk_port), "-i", "127.0.0.1", "-key", "rtp_host",
         "127.0.0.1", "-key", "rtp_port", str(peer.port), *options, "-m", "1", "-nostdin", "-trace_err", "-timeout",
         timeout, "-timeout_error"], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def choose_support(peer: PhonePeer, hz: int) -> None:
    """The caller hears the IVR's prompt, presses 1 (phone support) and speaks at `hz` from then on."""
    until(peer.heard_from_us, "the IVR's prompt reaches the caller")
    peer.press("1")
    peer.speak(hz)


def stop(sipp: subprocess.Popen | None) -> None:
    """Kill a sipp still running (a test that failed before its call ended) and reap it."""
    if sipp is not None and sipp.poll() is None:
        sipp.kill()
    if sipp is not None:
        sipp.wait(5)


@pytest.fixture
def hotline_caller(tmp_path, sip_port):
    """The trunk (sipp) calling the hotline, with a phone peer as the caller's media (`peer.sipp`: the trunk)."""
    peer = PhonePeer()
    peer.sipp = calls_hotline(sip_port, peer, tmp_path)
    yield peer
    stop(peer.sipp)
    peer.close()
