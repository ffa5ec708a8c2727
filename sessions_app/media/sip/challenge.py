"""HTTP Digest as the server (RFC 3261 §22.2, RFC 2617 §3.2, RFC 8760): challenging a request with 401 and
checking the answer that comes back. `auth` is the client side; both compute the same `digest`.

Nonces are stateless (as RFC 2617 §3.2.1 suggests): a time stamp and an HMAC over it and the client's address
under a key of this process, so challenging costs no memory per request, a nonce cannot be carried to another
address, and it expires (`NONCE_LIFETIME`; then the client is challenged again with `stale=true`). Within its
lifetime a nonce may be used again (nonce counts are not tracked, which would cost memory per client). The
answer's `uri` is hashed as given but not compared with the Request-URI (RFC 2617 §3.2.2.5's SHOULD): sipp
and some trunks put their next hop there, and Kamailio does not compare it by default either; a captured answer
could then only be replayed from the same address, to another of our numbers, while its nonce lasts.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from enum import Enum
from typing import Callable

from .auth import Challenge, digest, parse_auth_params
from .fields import quote
from .message import Request

NONCE_LIFETIME = 300.0  # seconds
# Offered in this order. RFC 8760 §2.4 would put the stronger first, but trunks that read only the first
# challenge (sipp 3.6 among them) must still be able to answer it; any offered algorithm is accepted.
ALGORITHMS = ("MD5", "SHA-256")


class Verdict(Enum):
    PROVEN = "proven"  # the answer matches one of the credentials
    UNANSWERED = "unanswered"  # no answer to our challenge (or to a nonce of ours): challenge it
    STALE = "stale"  # a right answer to an expired nonce of ours: challenge again with stale=true
    WRONG = "wrong"  # an answer that does not match: refuse


class Challenger:
    """Challenges for one realm, under a key of this process (a restart makes old nonces unanswered)."""

    def __init__(self, realm: str, clock: Callable[[], float] = time.time):
        self.realm, self.clock = realm, clock
        self.key = secrets.token_bytes(32)

    def headers(self, client: str, stale: bool = False) -> list[tuple[str, str]]:
        """WWW-Authenticate headers for a 401 to `client` (its address), one per algorithm, preferred first."""
        nonce = self._nonce(client, int(self.clock()))
        extra = ", stale=true" if stale else ""
        return [("WWW-Authenticate", f'Digest realm={quote(self.realm)}, nonce={quote(nonce)}, algorithm={name}, '
                                     f'qop="auth"{extra}') for name in ALGORITHMS]

    def verify(self, request: Request, client: str, credentials: tuple[tuple[str, str], ...]) -> Verdict:
        """Does `request`'s Authorization prove one of `credentials` ((username, password) pairs)?"""
        answer = self._answer_for_us(request)
        if answer is None or not self._ours(answer.get("nonce", ""), client):
            return Verdict.UNANSWERED
        passwords = [password for username, password in credentials if username == answer.get("username")]
        if not passwords or "uri" not in answer:
            return Verdict.WRONG
        algorithm, qop = answer.get("algorithm", "MD5"), answer.get("qop") or None
        if not Challenge(self.realm, "", algorithm).supported or qop not in (None, "auth", "auth-int") \
                or "response" not in answer:
            return Verdict.WRONG
        for password in passwords:
            expected = digest(username=answer["username"], password=password, realm=self.realm,
                              nonce=answer["nonce"], method=request.method, uri=answer["uri"], algorithm=algorithm,
                              qop=qop, nc=answer.get("nc", ""), cnonce=answer.get("cnonce"), body=request.body)
            if hmac.compare_digest(expected.encode(), answer["response"].lower().encode()):
                return Verdict.STALE if self._expired(answer["nonce"]) else Verdict.PROVEN
        return Verdict.WRONG

    def _answer_for_us(self, request: Request) -> dict[str, str] | None:
        for header in request.headers.get_all("Authorization"):
            scheme, _, rest = header.strip().partition(" ")
            if scheme.lower() == "digest":
                params = parse_auth_params(rest)
                if params.get("realm") == self.realm:
                    return params
        return None

    def _nonce(self, client: str, stamp: int) -> str:
        mac = hmac.new(self.key, f"{stamp}:{client}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{stamp:x}.{mac}"

    def _ours(self, nonce: str, client: str) -> bool:
        stamp, _, _ = nonce.partition(".")
        try:
            return hmac.compare_digest(nonce.encode(), self._nonce(client, int(stamp, 16)).encode())
        except ValueError:
            return False

    def _expired(self, nonce: str) -> bool:
        return self.clock() - int(nonce.partition(".")[0], 16) > NONCE_LIFETIME

