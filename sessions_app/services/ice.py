"""The WebRTC configuration each browser connection is given in its welcome: the deployment's STUN and TURN
servers, with TURN credentials minted for that connection, and the transport policy (domain/ice.py)."""
from __future__ import annotations

import time

from django.conf import settings


def welcome_fields(peer: str) -> dict:
    """`{"rtcConfiguration": {iceServers, iceTransportPolicy}}`, which the page passes to RTCPeerConnection;
    nothing when no server is configured, so the welcome stays as it always was. `peer` names the connection
    in the TURN server's log."""
    configuration = settings.ICE.rtc_configuration(time.time(), peer)
    return {"rtcConfiguration": configuration} if configuration else {}


def renewal_interval() -> float | None:
    """How often a connection that stays open gets fresh TURN credentials (half their life, so that a call
    set up just before a renewal still has half a life of them); None when none are minted."""
    return settings.ICE.turn_ttl / 2 if settings.ICE.turn_urls else None
