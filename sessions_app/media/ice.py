"""The ICE configuration of the bridge's own WebRTC legs: the deployment's STUN and TURN servers, for aiortc.

A leg gets the same servers as the browsers (`domain/ice.py`), with TURN credentials minted for it, so that a
bridge behind a NAT still offers a reflexive or relayed candidate that browsers can reach. aiortc (1.16) uses
the first STUN and the first TURN URL it can use (UDP or TCP, `turns:` over TCP) and refuses a whole list over
one URL it cannot parse (an IPv6 address), so only the URLs it can use reach it.

The legs keep the transport policy `all` even when `ICE_TRANSPORT_POLICY=relay`: that setting is for the
browsers, whose offers then carry relay candidates only, so every candidate pair ICE can form has the
browser's end on the TURN server and the media passes through it whatever the bridge offers. Relaying the
bridge's end as well would send each packet through TURN twice and double the allocations, for nothing.
"""
from __future__ import annotations

import re
import time

from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri

from ..domain.ice import IceSettings


def usable(url: str) -> bool:
    try:
        parsed = parse_stun_turn_uri(url)
    except ValueError:
        return False
    return parsed["scheme"] != "stuns" and parsed.get("transport", "udp") in ("udp", "tcp")


def leg_configuration(ice: IceSettings | None, leg_id: str) -> RTCConfiguration:
    """No servers at all when none are configured: host candidates only, nothing leaves the network."""
    if ice is None or not ice.configured:
        return RTCConfiguration(iceServers=[])
    peer = "bridge-" + re.sub(r"[^A-Za-z0-9._@-]", "-", leg_id)[:57]
    servers = []
    for server in ice.ice_servers(time.time(), peer):
        urls = [url for url in ([server["urls"]] if isinstance(server["urls"], str) else server["urls"]) if usable(url)]
        if urls:
            servers.append(RTCIceServer(urls=urls, username=server.get("username"),
                                        credential=server.get("credential")))
    return RTCConfiguration(iceServers=servers)
