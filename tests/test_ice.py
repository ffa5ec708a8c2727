"""ICE settings (ICE_SERVERS, TURN_URLS + TURN_SECRET, TURN_TTL, ICE_TRANSPORT_POLICY): every bad value stops the
server at start with a message naming it; what browsers get in their welcome; what the bridge's legs get.

That coturn accepts the minted credentials, and refuses expired ones, is proven against a real coturn in
tests/test_turn.py.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sessions_app.domain.ice import IceConfigError, IceSettings
from sessions_app.media.ice import leg_configuration

from .conftest import SdkClient
from testing.liveserver import ROOT
from .widget_clients import CallerClient

pytestmark = pytest.mark.unit

TURN = {"TURN_URLS": "turn:turn.example.com:3478,turns:turn.example.com:5349?transport=tcp", "TURN_SECRET": "s3cret"}


@pytest.mark.parametrize(("environ", "message"), [
    ({"ICE_SERVERS": "[{urls: 'stun:x'}]"}, "ICE_SERVERS is not valid JSON"),
    ({"ICE_SERVERS": '{"urls": "stun:x"}'}, "ICE_SERVERS must be a JSON list"),
    ({"ICE_SERVERS": '["stun:x"]'}, "ICE_SERVERS entry 1 must be an object"),
    ({"ICE_SERVERS": '[{"url": "stun:x"}]'}, "ICE_SERVERS entry 1 has unknown keys url"),
    ({"ICE_SERVERS": '[{"urls": []}]'}, "ICE_SERVERS entry 1 needs urls"),
    ({"ICE_SERVERS": '[{"urls": "http://stun.example.com"}]'}, "is not a stun:/stuns:/turn:/turns: URL"),
    ({"ICE_SERVERS": '[{"urls": "stun:x"}, {"urls": ["stun:y", "stun:z:99999"]}]'},
     "entry 2: the port of 'stun:z:99999'"),
    ({"ICE_SERVERS": '[{"urls": "stun:x?transport=udp"}]'}, "a STUN URL has no ?transport="),
    ({"ICE_SERVERS": '[{"urls": "turn:x?transport=sctp", "username": "u", "credential": "c"}]'}, "is not a"),
    ({"ICE_SERVERS": '[{"urls": "turn:x"}]'}, "entry 1 names a TURN server: it needs username and credential"),
    ({"ICE_SERVERS": '[{"urls": "stun:x", "username": 5}]'}, "username must be a string"),
    ({"TURN_URLS": "turn:x"}, "TURN_URLS is set but TURN_SECRET is not"),
    ({"TURN_SECRET": "s"}, "TURN_SECRET is set but TURN_URLS is not"),
    ({"TURN_URLS": "stun:x", "TURN_SECRET": "s"}, "TURN_URLS: 'stun:x' is not a turn:/turns: URL"),
    ({**TURN, "TURN_TTL": "1h"}, "TURN_TTL must be a number of seconds from 60 to 604800, not '1h'"),
    ({**TURN, "TURN_TTL": "0"}, "TURN_TTL must be a number of seconds"),
    ({**TURN, "ICE_TRANSPORT_POLICY": "Relay"}, "ICE_TRANSPORT_POLICY must be all or relay, not 'Relay'"),
    ({"ICE_TRANSPORT_POLICY": "relay"}, "ICE_TRANSPORT_POLICY=relay needs a TURN server"),
    ({"ICE_SERVERS": '[{"urls": "stun:x"}]', "ICE_TRANSPORT_POLICY": "relay"}, "relay needs a TURN server"),
])
def test_a_setting_that_cannot_work_is_refused_with_its_name_and_reason(environ, message):
    with pytest.raises(IceConfigError) as refused:
        IceSettings.from_environment(environ)
    assert message in str(refused.value)


@pytest.mark.peer
def test_the_server_does_not_start_with_a_bad_setting_and_says_why():
    """The settings module refuses it, so daphne, media_worker and every manage.py command stop before serving."""
    run = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "/usr/bin:/bin", "ICE_TRANSPORT_POLICY": "rely"}, timeout=60)
    assert run.returncode != 0
    assert "ImproperlyConfigured: ICE_TRANSPORT_POLICY must be all or relay, not 'rely'" in run.stderr


def test_without_settings_nothing_is_configured():
    ice = IceSettings.from_environment({"ICE_SERVERS": " ", "TURN_URLS": "", "ICE_TRANSPORT_POLICY": ""})
    assert not ice.configured and ice.transport_policy == "all"
    assert ice.rtc_configuration(1_800_000_000, "agent-1") == {}
    assert leg_configuration(ice, "agent:1").iceServers == []


def test_each_connection_gets_turn_credentials_of_its_own_that_expire_after_the_ttl():
    ice = IceSettings.from_environment({"ICE_SERVERS": '[{"urls": ["stun:stun.example.com"]}]', **TURN,
                                        "TURN_TTL": "3600", "ICE_TRANSPORT_POLICY": "relay"})
    now = 1_800_000_000.7
    configuration = ice.rtc_configuration(now, "agent-7")
    stun, turn = configuration["iceServers"]
    assert configuration["iceTransportPolicy"] == "relay"
    assert stun == {"urls": ["stun:stun.example.com"]}
    assert turn["urls"] == TURN["TURN_URLS"].split(",")
    assert turn["username"] == "1800003600:agent-7"  # coturn reads the expiry, in unix seconds, before the ':'
    assert TURN["TURN_SECRET"] not in json.dumps(configuration)
    other = ice.rtc_configuration(now, "agent-8")["iceServers"][1]
    later = ice.rtc_configuration(now + 1, "agent-7")["iceServers"][1]
    assert len({turn["credential"], other["credential"], later["credential"]}) == 3
    with pytest.raises(ValueError):
        ice.rtc_configuration(now, "agent:7")  # coturn would read "agent" as part of the expiry


def test_the_bridges_legs_get_the_servers_aiortc_can_use_and_relay_is_left_to_the_browsers():
    ice = IceSettings.from_environment({
        "ICE_SERVERS": '[{"urls": ["stun:[2001:db8::1]:3478", "stuns:stun.example.com", "stun:stun.example.com"]}]',
        **TURN, "ICE_TRANSPORT_POLICY": "relay"})
    configuration = leg_configuration(ice, "agent:12")
    stun, turn = configuration.iceServers
    assert stun.urls == ["stun:stun.example.com"]  # aiortc refuses IPv6 literals and ignores stuns:
    assert turn.urls == TURN["TURN_URLS"].split(",") and turn.username.endswith(":bridge-agent-12")
    assert configuration.iceTransportPolicy.value == "all"


RELAY = IceSettings.from_environment({**TURN, "ICE_TRANSPORT_POLICY": "relay"})


@pytest.mark.service
async def test_the_sdk_and_the_call_widget_get_their_servers_in_the_welcome(demo, settings):
    settings.ICE = RELAY
    agent = await SdkClient.connect("agent1@demo")
    caller = await CallerClient.connect()
    for welcome, peer in ((agent.welcome, ":agent-"), (caller.welcome, ":caller-")):
        assert welcome["type"] == "welcome"
        configuration = welcome["rtcConfiguration"]
        assert configuration["iceTransportPolicy"] == "relay"
        [turn] = configuration["iceServers"]
        assert turn["urls"] == TURN["TURN_URLS"].split(",") and peer in turn["username"]
    await agent.close()
    await caller.communicator.disconnect()


@pytest.mark.service
async def test_an_sdk_connection_that_stays_open_gets_fresh_turn_credentials_before_its_own_expire(demo, settings):
    # Credentials living 2 s, renewed every second (the environment allows 60 s at least).
    settings.ICE = IceSettings(turn_urls=("turn:turn.example.com",), turn_secret="s3cret", turn_ttl=2)
    agent = await SdkClient.connect("agent1@demo")
    first = agent.welcome["rtcConfiguration"]["iceServers"][0]
    renewed = await agent.frame(timeout=3)
    assert renewed["type"] == "rtcConfiguration"
    fresh = renewed["rtcConfiguration"]["iceServers"][0]
    assert int(fresh["username"].split(":")[0]) > int(first["username"].split(":")[0])
    assert fresh["credential"] != first["credential"]
    assert renewed["rtcConfiguration"]["iceTransportPolicy"] == "all"
    await agent.close()


@pytest.mark.service
async def test_without_settings_the_welcomes_are_as_they_were(demo):
    agent = await SdkClient.connect("agent1@demo")
    caller = await CallerClient.connect()
    assert set(caller.welcome) == {"type", "visitorId"}
    assert set(agent.welcome) == {"type", "resumeToken", "agent", "sessions", "calls"}
    await agent.close()
    await caller.communicator.disconnect()
