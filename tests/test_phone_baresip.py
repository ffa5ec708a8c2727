"""A real softphone on the trunk side: baresip calls a hotline that queues at once, the agent (an SDK socket
with an aiortc leg, 1000 Hz) accepts, and each hears the other through the bridge — the agent baresip's
440 Hz sine, baresip the agent's tone (read back from baresip's own recording of what it received). baresip
hangs up when its time is up, and the session ends as the customer's hang-up."""
from __future__ import annotations

import asyncio
import subprocess
import wave

import numpy as np
import pytest

from testing.peers import Peer, dominant_hz

from .agent_leg import accept_hearing
from .browser import live_shell, reset_center
from testing.liveserver import LiveServer, free_port
from .real_peers import needs
from .ws_clients import open_agent

HOTLINE = "4008009999"
AGENT_HZ, BARESIP_HZ = 1000, 440
pytestmark = [needs("baresip"), pytest.mark.peer]

CONFIG = """module_path /usr/lib/baresip/modules
sip_listen 127.0.0.1:{port}
audio_source ausine,{hz}
ausrc_srate 48000
ausrc_channels 2
audio_player aubridge,nowhere
audio_alert aubridge,nowhere
module g711.so
module ausine.so
module aubridge.so
module sndfile.so
module_app account.so
module_app menu.so
snd_path {folder}
"""


@pytest.fixture(scope="module")
def server():
    live = LiveServer(env={"SIP_PORT": str(free_port()), "SIP_HOST": "127.0.0.1", "MEDIA_HOST_ADDRESSES": "127.0.0.1"})
    live.start()
    live_shell(live, "from sessions_app.models import Hotline, SkillGroup\n"
                     "group = SkillGroup.objects.get(kind='phone')\n"
                     f"Hotline.objects.create(tenant=group.tenant, number='{HOTLINE}', skill_group=group)")
    yield live
    live.stop()


def baresip(folder, sip_port: int, seconds: int) -> subprocess.Popen:
    """baresip dialling the hotline with a 440 Hz sine as its microphone, recording what it hears."""
    (folder / "config").write_text(CONFIG.format(port=free_port(), hz=BARESIP_HZ, folder=folder))
    (folder / "accounts").write_text("<sip:caller@127.0.0.1>;regint=0;audio_codecs=PCMU\n")
    (folder / "contacts").write_text("")
    return subprocess.Popen(
        ["baresip", "-f", str(folder), "-e", f"/dial sip:{HOTLINE}@127.0.0.1:{sip_port}", "-t", str(seconds)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


def heard_by_baresip(folder) -> float:
    """The dominant frequency of the last second baresip received (its sndfile recording)."""
    recording = next(folder.glob("dump-*-dec.wav"))
    with wave.open(str(recording)) as wav:
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        rate = wav.getframerate()
    return dominant_hz(samples[-rate:].astype(np.float64), rate)


def test_baresip_calls_in_and_talks_with_the_agent_both_ways(server, tmp_path):
    reset_center(server)

    async def scenario():
        agent = await open_agent(server, "agent1@demo")
        phone = baresip(tmp_path, int(server.env["SIP_PORT"]), seconds=10)
        offer = await agent.event("callIn")
        assert offer["type"] == "phone" and offer["calleePhoneNumber"] == HOTLINE
        peer = Peer(AGENT_HZ, codec="audio/PCMU")
        await accept_hearing(agent, offer["sessionId"], peer, BARESIP_HZ, "the agent hears baresip")
        ended = await agent.event("sessionEnded", timeout=20)  # baresip quits when its time is up
        await peer.close()
        await agent.ws.close()
        return phone, offer["sessionId"], ended

    phone, session_id, ended = asyncio.run(scenario())
    phone.wait(10)
    assert ended["closeBy"] == "client"
    assert server.api("GET", f"/api/sessions/{session_id}")["endStatus"] == "ok"
    assert abs(heard_by_baresip(tmp_path) - AGENT_HZ) < 15
