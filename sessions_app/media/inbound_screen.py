"""The SIP gateway's door: every new INVITE is screened here, on the media loop, before it costs anything.

A refusal is answered statelessly by the user agent and forgets the INVITE: no transaction, no call, no
session row, no RTP port, no IVR, no question to the web side. What the screen keeps is a snapshot of who may
call (`domain.inbound.InboundPolicy`, read from the database by the gateway every `REFRESH` seconds), the
rate limiter's bounded buckets, and the key of its stateless digest nonces.

In order: a source no list allows gets 403; a source past its INVITE rate gets 503 with Retry-After (SIP has
no "too many requests": its 429 is RFC 3892's "Provide Referrer Identity". 503 with Retry-After is SIP's
"overloaded, try later" (RFC 3261 §21.5.4), on which a carrier's proxy retries later or routes the call to
another destination, where a 403 would tell it the call is forbidden and end it); a trunk that demands
credentials gets a 401 digest challenge, a wrong answer 403, a right answer to an expired nonce a new
challenge (stale=true). The challenged INVITE and its authorized retry count against the rate alike.
"""
from __future__ import annotations

import logging
import math
import time

from ..domain.inbound import InboundPolicy, SourceRateLimit
from .sip import Request, Response, make_response
from .sip.challenge import Challenger, Verdict

log = logging.getLogger(__name__)

REFRESH = 2.0  # seconds between reads of who may call: a change in admin takes effect within this


class InboundScreen:
    def __init__(self, policy: InboundPolicy, *, realm: str, rate: float, burst: int, clock=time.monotonic):
        self.policy = policy
        self.limit = SourceRateLimit(rate, burst)
        self.challenger = Challenger(realm)
        self.clock = clock
        log.info("SIP inbound: calls taken from %s", _describe(policy))

    def adopt(self, policy: InboundPolicy) -> None:
        """A newer read of who may call (logged when it changed: the log says why a call was refused)."""
        if policy != self.policy:
            log.info("SIP inbound: calls taken from %s", _describe(policy))
        self.policy = policy

    def screen(self, invite: Request, source: tuple[str, int]) -> Response | None:
        """None: let the INVITE in. Otherwise the response that refuses (or challenges) it."""
        client = source[0]
        admission = self.policy.admission(invite.uri.user or "", client)
        if not admission.allowed:
            log.info("SIP: INVITE from %s to %s refused: the source is not allowed", client, invite.uri.user)
            return make_response(invite, 403)
        wait = self.limit.take(client, self.clock())
        if wait:
            return make_response(invite, 503, "Too Many Calls From This Source",
                                 headers=[("Retry-After", str(max(1, math.ceil(wait))))])
        if not admission.credentials:
            return None
        verdict = self.challenger.verify(invite, client, admission.credentials)
        if verdict is Verdict.PROVEN:
            return None
        if verdict is Verdict.WRONG:
            log.info("SIP: INVITE from %s to %s refused: wrong credentials", client, invite.uri.user)
            return make_response(invite, 403)
        return make_response(invite, 401, headers=self.challenger.headers(client, stale=verdict is Verdict.STALE))


def _describe(policy: InboundPolicy) -> str:
    """Who may call, for the log: an operator reads there why a call was refused."""
    named = {str(network) for network in policy.allowed}
    named.update(str(network) for trunks in policy.trunks.values() for trunk in trunks for network in trunk.sources)
    if not named:
        return "this machine only (loopback: neither SIP_ALLOW nor any trunk names a source)"
    proving = sum(1 for trunks in policy.trunks.values() for trunk in trunks if trunk.username and trunk.sources)
    return ", ".join(sorted(named)) + (f" ({proving} trunk(s) with credentials)" if proving else "")
