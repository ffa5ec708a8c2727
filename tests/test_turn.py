"""TURN with a real coturn (tests/turn_server.py): the credentials the server mints are the ones coturn's
`use-auth-secret` accepts, until they expire; and with `ICE_TRANSPORT_POLICY=relay` a web call's audio flows
through coturn between Chromium and the media bridge, both ways, coturn reporting the allocations.
"""
from __future__ import annotations

import asyncio
import time

import pytest
from aioice import stun, turn as aioice_turn

from sessions_app.domain.ice import IceSettings

from .browser import fresh_channel_layer, host_page  # noqa: F401 (fixtures; a browser test's fresh_channel_layer)
from testing.liveserver import ROOT, LiveServer
from testing.serving import running
from .media_ears import wait_to_hear
from .test_web_call_browser import (  # noqa: F401 (fixtures)
    AGENT1_HZ, CUSTOMER_HZ, browsers, customer_event, ok, people, shop, start_call,
)
from .turn_server import TurnServer

pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def coturn():
    with running(TurnServer()) as server:
        yield server


@pytest.fixture(scope="module")
def media_server(coturn):
    """The server of test_web_call_browser.py's fixtures, with coturn as its TURN server and relay forced."""
    with running(LiveServer(env={"MEDIA_HOST_ADDRESSES": "127.0.0.1", "TURN_URLS": coturn.url,
                                 "TURN_SECRET": coturn.secret, "ICE_TRANSPORT_POLICY": "relay"})) as server:
        yield server


def allocate(server: TurnServer, username: str, credential: str, peers: tuple[str, ...] = ()):
    """One TURN allocation over UDP, as a browser makes it (or TransactionFailed); its relayed address, and for
    each of `peers` whether coturn lets it relay there (None) or its error code."""
    async def run():
        transport, _ = await asyncio.wait_for(aioice_turn.create_turn_endpoint(
            asyncio.DatagramProtocol, ("127.0.0.1", server.port), username, credential), 5)
        relayed, refusals = transport.get_extra_info("sockname"), {}
        client = transport._TurnTransport__inner_protocol  # binds a channel to the peer first, as browsers do
        for peer in peers:
            try:
                await asyncio.wait_for(client.send_data(b"hello", (peer, 9)), 5)
                refusals[peer] = None
            except stun.TransactionFailed as failure:
                refusals[peer] = failure.response.error_code
        transport.close()
        return relayed, refusals
    return asyncio.run(run())


def test_coturn_accepts_the_minted_credentials_and_refuses_expired_or_forged_ones(coturn):
    ice = IceSettings.from_environment({"TURN_URLS": coturn.url, "TURN_SECRET": coturn.secret, "TURN_TTL": "60"})
    fresh = ice.ice_servers(time.time(), "probe-fresh")[0]
    assert fresh["urls"] == [coturn.url]
    assert allocate(coturn, fresh["username"], fresh["credential"])[0][0] == "127.0.0.1"
    assert fresh["username"] in coturn.wait_for(coturn.allocations, "the fresh credential's allocation")

    expired = ice.ice_servers(time.time() - 61, "probe-expired")[0]  # minted 61 s ago, valid 60 s
    forged = IceSettings.from_environment({"TURN_URLS": coturn.url, "TURN_SECRET": "a guess", "TURN_TTL": "60"}
                                          ).ice_servers(time.time(), "probe-forged")[0]
    renamed = {**fresh, "username": fresh["username"].replace("probe-fresh", "probe-other")}
    for refused in (expired, forged, renamed):
        with pytest.raises(stun.TransactionFailed) as failure:
            allocate(coturn, refused["username"], refused["credential"])
        assert failure.value.response.error_code == 401, refused
    assert not {"probe-expired", "probe-forged", "probe-other"} & {u.split(":")[1] for u in coturn.allocations()}


def test_the_shipped_coturn_file_relays_to_the_media_hosts_and_to_no_private_address():
    """deploy/turnserver.conf as coturn reads it, with 127.0.0.1 standing for a media host on a private network
    (allowed-peer-ip); the command line only says where to listen, relay from and log, and the secret."""
    with running(TurnServer(config=ROOT / "deploy" / "turnserver.conf",
                            extra=("--allow-loopback-peers", "--allowed-peer-ip=127.0.0.1"))) as deployed:
        ice = IceSettings.from_environment({"TURN_URLS": deployed.url, "TURN_SECRET": deployed.secret})
        minted = ice.ice_servers(time.time(), "probe")[0]
        _, refusals = allocate(deployed, minted["username"], minted["credential"],
                               peers=("127.0.0.1", "127.0.0.2", "10.1.2.3", "172.16.0.9", "192.168.1.1", "8.8.8.8"))
    assert refusals == {"127.0.0.1": None, "127.0.0.2": 403, "10.1.2.3": 403, "172.16.0.9": 403, "192.168.1.1": 403,
                        "8.8.8.8": None}


SELECTED_PAIR = """async () => {
  const pc = window.__pcs.at(-1);
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((r) => {
    if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
  });
  if (!pair) return null;
  const local = stats.get(pair.localCandidateId);
  return { local: local.candidateType, bytesSent: pair.bytesSent, bytesReceived: pair.bytesReceived };
}"""

def received_over_selected_pair(page, enough: int, within: float = 10.0) -> dict | None:
    """The page's selected candidate pair once it has received `enough` bytes (or as it is after `within` s)."""
    deadline = time.monotonic() + within
    while True:
        pair = page.evaluate(f"({SELECTED_PAIR})()")
        if (pair and pair["bytesReceived"] > enough) or time.monotonic() > deadline:
            return pair
        time.sleep(0.2)


OFFER_AND_CONFIGURATION = """() => {
  const pc = window.__pcs.at(-1);
  const candidates = pc.localDescription.sdp.split('\\r\\n').filter((line) => line.startsWith('a=candidate:'));
  const { iceServers, iceTransportPolicy } = pc.getConfiguration();
  return { types: [...new Set(candidates.map((line) => line.split(' typ ')[1].split(' ')[0]))],
           username: iceServers.length ? iceServers[0].username : '', iceTransportPolicy };
}"""


@pytest.mark.browser
def test_with_relay_forced_a_web_calls_audio_flows_through_turn_both_ways(people, coturn):
    agent = people.agent("agent1@demo")
    customer = people.customer()
    session_id = start_call(customer)
    agent.event("callIn", sessionId=session_id)
    ok(agent.call("Call.accept", {"sessionId": session_id}))
    customer_event(customer, "accepted")
    wait_to_hear(agent, CUSTOMER_HZ, "the agent hears the customer through TURN")
    wait_to_hear(customer, AGENT1_HZ, "the customer hears the agent through TURN")

    usernames = {}
    for who, page in (("customer", customer), ("agent", agent.page)):
        offered = page.evaluate(OFFER_AND_CONFIGURATION)
        assert offered["iceTransportPolicy"] == "relay" and offered["types"] == ["relay"], (who, offered)
        usernames[who] = offered["username"]
        pair = received_over_selected_pair(page, 10_000)
        assert pair["local"] == "relay" and pair["bytesReceived"] > 10_000, (who, pair)
    assert ":caller-" in usernames["customer"] and ":agent-" in usernames["agent"]
    allocated = coturn.open_allocations()
    assert usernames["customer"] in allocated and usernames["agent"] in allocated
    assert any(":bridge-" in username for username in allocated)  # the bridge's legs use it too

    ok(agent.call("Call.hungUp", {"sessionId": session_id}))
    customer_event(customer, "ended")
    # coturn logs what an allocation relayed as it closes it: audio is 50 packets a second each way, where ICE's
    # checks are a handful.
    def both_relayed(log):
        relayed = {u["username"] for u in coturn.peer_usage(log) if u["rp"] >= 25 and u["sp"] >= 25}
        return set(usernames.values()) <= relayed

    coturn.wait_for(both_relayed, "the closed allocations of both browsers, with relayed audio", timeout=20)
    coturn.wait_for(lambda log: not coturn.open_allocations(log),
                    "every allocation of the call released, the bridge's too")
