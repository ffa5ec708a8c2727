"""SDK login tokens (like Tencent's CreateSDKLoginToken) and the resume tokens that carry reconnects.

Both are Django-signed JSON bound to one tenant and one agent with an explicit expiry, so an expired token
can be told apart from a forged one (tokenExpired versus refused). Each carries the agent's token generation
(`g`, absent meaning 0): raising `Agent.token_generation` (services/logins.py) revokes every token issued before,
which then counts as expired, and a deactivated account's tokens are refused. A login token made for one use
(CreateSDKLoginToken's OnlyOnce) also carries a random id (`o`): the socket it opens spends it (a `SpentToken` row,
kept until the token would have expired, then swept), and a second use is refused as a revoked token is.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Agent, SpentToken, Tenant, found
from .errors import NotFound, ServiceError

LOGIN_SALT = "tccc.sdk-login"
RESUME_SALT = "tccc.sdk-resume"


class TokenExpired(ServiceError):
    pass


class TokenRevoked(TokenExpired):
    """The login ended before its token expired: the SDK is told as for an expired token (fetch a new one)."""


class AccountInactive(ServiceError):
    pass


@dataclass(frozen=True)
class TokenClaims:
    sdk_app_id: str
    user_id: str
    generation: int = 0
    once: str = ""  # the id of a one-use token, spent by its first use; "" for a token of many uses
    expires: int = 0


def issue(agent: Agent, ttl: int | None = None, salt: str = LOGIN_SALT, once: bool = False) -> tuple[str, int]:
    expires = int(time.time()) + (settings.SDK_TOKEN_TTL if ttl is None else ttl)
    claims = {"a": agent.tenant.sdk_app_id, "u": agent.user_id, "e": expires, "g": agent.token_generation}
    if once:
        claims["o"] = new_once_id()
    return signing.dumps(claims, salt=salt, compress=True), expires


def new_once_id() -> str:
    return secrets.token_hex(16)


def issue_resume(agent: Agent) -> str:
    return issue(agent, settings.SDK_RESUME_TTL, RESUME_SALT)[0]


def read(token: str, salt: str = LOGIN_SALT) -> TokenClaims:
    try:
        claims = signing.loads(token, salt=salt)
    except signing.BadSignature:
        raise ServiceError("the token is not valid") from None
    if not well_formed(claims):
        raise ServiceError("the token is not valid")
    if claims["e"] < time.time():
        raise TokenExpired("the token has expired")
    return TokenClaims(claims["a"], claims["u"], claims.get("g", 0), claims.get("o", ""), claims["e"])


def well_formed(claims) -> bool:
    """Whether signed claims have the fields and types `issue` gives them: a token signed with our key by an
    earlier release, or by anyone who has the key, is refused like a forged one rather than failing later."""
    if not isinstance(claims, dict):
        return False
    a, u, e, g, o = claims.get("a"), claims.get("u"), claims.get("e"), claims.get("g", 0), claims.get("o", "")
    return (isinstance(a, str) and isinstance(u, str) and isinstance(o, str) and len(o) <= 32
            and all(isinstance(n, int) and not isinstance(n, bool) for n in (e, g)))


def spend(once: str, expires: int, used: str = "the token was made for one use only, and it has been used") -> None:
    """Spend a one-use token (`once` its id; nothing for ""), refusing it as revoked if it was spent already:
    one row per use, so two processes spending it at once cannot both succeed."""
    if not once:
        return
    try:
        with transaction.atomic():
            SpentToken.objects.create(id=once, expires_at=datetime.fromtimestamp(expires, dt_timezone.utc))
    except IntegrityError:
        raise TokenRevoked(used) from None


def forget_spent() -> int:
    """Forget the spent tokens that have expired since (an expired token is refused as such); the sweeper's, every
    round: a read when there is nothing to forget, so that SQLite's writers are not queued behind an empty delete."""
    expired = SpentToken.objects.filter(expires_at__lt=timezone.now())
    return expired.delete()[0] if expired.exists() else 0


def agent_for(claims: TokenClaims, sdk_app_id: str | None = None, user_id: str | None = None) -> Agent:
    """The agent a token names, checked against the SdkAppId and userId the page gave, if it gave them, and
    still logged in: its account active, the token not revoked."""
    if sdk_app_id and sdk_app_id != claims.sdk_app_id or user_id and user_id != claims.user_id:
        raise ServiceError("the token was issued for another SdkAppId or userId")
    agent = found(Agent.objects.select_related("tenant", "account").filter(
        tenant__sdk_app_id=claims.sdk_app_id, user_id=claims.user_id))
    if agent is None:
        raise ServiceError("the token's agent does not exist")
    check_current(agent, claims.generation)
    return agent


def check_current(agent: Agent, generation: int) -> None:
    """Refuse a login of a deactivated account, or one revoked since its token was issued (`generation`)."""
    if not agent.account.is_active:
        raise AccountInactive(f"the account of agent {agent.user_id} is deactivated")
    check_not_revoked(agent, generation)


def check_not_revoked(agent: Agent, generation: int) -> None:
    if generation != agent.token_generation:
        raise TokenRevoked("the login is no longer valid: signed out, forced offline or the password changed")


def login_token_response(tenant: Tenant, user_id: str, sdk_url: str, once: bool = False) -> dict:
    agent = found(Agent.objects.select_related("tenant", "account").filter(tenant=tenant, user_id=user_id))
    if agent is None:
        raise NotFound(f"no agent {user_id!r} in SdkAppId {tenant.sdk_app_id}")
    if not agent.account.is_active:
        raise AccountInactive(f"the account of agent {user_id!r} is deactivated: no token is issued for it")
    token, expires = issue(agent, once=once)
    return {"Token": token, "ExpiredTime": expires, "SdkURL": sdk_url}
