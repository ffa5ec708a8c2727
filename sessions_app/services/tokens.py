"""SDK login tokens (like Tencent's CreateSDKLoginToken) and the resume tokens that carry reconnects.

Both are Django-signed JSON bound to one tenant and one agent with an explicit expiry, so an expired token
can be told apart from a forged one (tokenExpired versus refused). Each carries the agent's token generation
(`g`, absent meaning 0): raising `Agent.token_generation` (services/logins.py) revokes every token issued before,
which then counts as expired, and a deactivated account's tokens are refused.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

from ..models import Agent, Tenant, found
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


def issue(agent: Agent, ttl: int | None = None, salt: str = LOGIN_SALT) -> tuple[str, int]:
    expires = int(time.time()) + (settings.SDK_TOKEN_TTL if ttl is None else ttl)
    claims = {"a": agent.tenant.sdk_app_id, "u": agent.user_id, "e": expires, "g": agent.token_generation}
    return signing.dumps(claims, salt=salt, compress=True), expires


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
    return TokenClaims(claims["a"], claims["u"], claims.get("g", 0))


def well_formed(claims) -> bool:
    """Whether signed claims have the fields and types `issue` gives them: a token signed with our key by an
    earlier release, or by anyone who has the key, is refused like a forged one rather than failing later."""
    if not isinstance(claims, dict):
        return False
    a, u, e, g = claims.get("a"), claims.get("u"), claims.get("e"), claims.get("g", 0)
    return (isinstance(a, str) and isinstance(u, str)
            and all(isinstance(n, int) and not isinstance(n, bool) for n in (e, g)))


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


def login_token_response(tenant: Tenant, user_id: str, sdk_url: str) -> dict:
    agent = found(Agent.objects.select_related("tenant", "account").filter(tenant=tenant, user_id=user_id))
    if agent is None:
        raise NotFound(f"no agent {user_id!r} in SdkAppId {tenant.sdk_app_id}")
    if not agent.account.is_active:
        raise AccountInactive(f"the account of agent {user_id!r} is deactivated: no token is issued for it")
    token, expires = issue(agent)
    return {"Token": token, "ExpiredTime": expires, "SdkURL": sdk_url}
