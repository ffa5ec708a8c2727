"""Calls placed out through the SIP trunk, at the level every service may use: whether a gateway can place one
now, how long one may ring before the sweeper gives up on it, and the command that places a consult's call. The
phone channel's own decisions (`telephony`) and the consult's (`consult`) both build on it, so neither needs the
other."""
from __future__ import annotations

from django.conf import settings
from django.db import transaction

from ..models import Session, Trunk
from . import media, media_workers

DIAL_GRACE_SECONDS = 5  # past the gateway's own limits, before the sweeper ends a call still ringing out


def gateway_running() -> bool:
    """Whether phone calls can be placed now: this process's gateway (embedded), or a live worker's."""
    if not settings.SIP_PORT:
        return False
    return media_workers.sip_worker() is not None if settings.MEDIA_IN_WORKERS else True


def ring_limit(ring_seconds: float) -> float:
    """Seconds after which the sweeper ends a dialled call still ringing, past the gateway's own limits (it gives
    up ringing at `ring_seconds`, and its SIP transactions within 64*T1 after)."""
    return ring_seconds + 64 * settings.SIP_T1 + DIAL_GRACE_SECONDS


def dial_consult(session: Session, consult_id: int, trunk: Trunk, *, number: str, caller: str,
                 ring_seconds: float) -> None:
    """After the consult commits, ask the gateway carrying the session's call to dial `number` as the consult's
    own call (`PhoneGateway.dial` with `consult_id`): its end is the consult's (services/consult.py), not the
    session's."""
    session_id = session.pk
    args = {"number": number, "caller": caller, "trunk_host": trunk.host, "trunk_port": trunk.port,
            "transport": trunk.transport, "username": trunk.username, "password": trunk.password,
            "uui": session.uui, "ring_seconds": ring_seconds, "consult_id": consult_id}
    transaction.on_commit(lambda: media.backend().dial(session_id, **args), robust=True)
