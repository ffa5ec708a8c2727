"""Tencent Cloud's request signature, TC3-HMAC-SHA256, as its API documentation defines it ("Signature v3"):
what the cloud API (sessions_app/cloud/) checks on every request. Pure: no Django, no clock.

The client signs a canonical request (method, path, query, the signed headers' values, the body's SHA-256)
with a key derived from its SecretKey, the UTC date and the service name; the server derives the same key from
the SecretKey stored for the SecretId the Authorization header names and compares signatures in constant time.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

ALGORITHM = "TC3-HMAC-SHA256"
SERVICE = "ccc"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_AUTHORIZATION = re.compile(
    r"TC3-HMAC-SHA256 Credential=(?P<secret_id>[^/\s,]{1,128})/(?P<date>\d{4}-\d{2}-\d{2})/(?P<service>[a-z0-9]{1,32})"
    r"/tc3_request, ?SignedHeaders=(?P<headers>[a-z0-9-]{1,64}(?:;[a-z0-9-]{1,64}){0,15}), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})")


class Malformed(ValueError):
    """The Authorization header is not a TC3 one."""


@dataclass(frozen=True)
class Authorization:
    secret_id: str
    date: str  # YYYY-MM-DD, UTC: the day of X-TC-Timestamp
    service: str
    signed_headers: tuple[str, ...]  # lower-case names, as listed
    signature: str


def parse_authorization(value: str) -> Authorization:
    match = _AUTHORIZATION.fullmatch(value.strip())
    if match is None:
        raise Malformed("Authorization is not 'TC3-HMAC-SHA256 Credential=<SecretId>/<date>/<service>/tc3_request, "
                        "SignedHeaders=<names>, Signature=<hex>'")
    headers = tuple(match["headers"].split(";"))
    if not {"content-type", "host"} <= set(headers):
        raise Malformed("SignedHeaders must include content-type and host")
    return Authorization(match["secret_id"], match["date"], match["service"], headers, match["signature"])


def canonical_request(method: str, path: str, query: str, headers: dict[str, str], signed: tuple[str, ...],
                      payload_hash: str) -> str:
    """`headers`: the signed headers' values by lower-case name, trimmed and otherwise as received (Tencent's SDKs
    sign them as they send them)."""
    lines = "".join(f"{name}:{headers.get(name, '').strip()}\n" for name in signed)
    return f"{method}\n{path}\n{query}\n{lines}\n{';'.join(signed)}\n{payload_hash}"


def payload_hash(body: bytes, declared: str | None) -> str:
    """The body's hash as the client signed it. When X-TC-Content-SHA256 is UNSIGNED-PAYLOAD, Tencent's clients
    (Python's `_get_tc3_signature`, Go's `signRequest`) hash those words in the body's place: the hash of the
    literal, not the literal itself."""
    return hashlib.sha256(UNSIGNED_PAYLOAD.encode() if declared == UNSIGNED_PAYLOAD else body).hexdigest()


def signature(secret_key: str, timestamp: str, date: str, service: str, canonical: str) -> str:
    scope = f"{date}/{service}/tc3_request"
    to_sign = f"{ALGORITHM}\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode()).hexdigest()}"
    key = _hmac(("TC3" + secret_key).encode(), date)
    key = _hmac(_hmac(key, service), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def matches(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode(), given.encode())


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()
