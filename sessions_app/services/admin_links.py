"""One-time sign-in links into admin (Tencent's CreateAdminURL): made for a supervisor of one tenant, valid a few
minutes (`LINK_TTL`), spent by their first use, and signing that account in. Opening the link only asks to
confirm; the sign-in is a POST from that page (views/admin_link.py).

Whom a link is for (`SeatUserId`): an agent of the tenant, by their user id, whose account is staff (a "staff
agent", who supervises their own tenant), or a Django account by its username that is a supervisor of the tenant
(its `Supervisor` row). Either must be active, staff, not a superuser (a tenant's key pair never opens the whole
server), and supervise this tenant, when the link is made and again when it is used. A link is signed JSON like
the SDK's tokens (services/tokens.py), with a one-use id spent in `SpentToken`.
"""
from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core import signing

from ..models import Agent, SpentToken, Tenant
from . import tokens
from .errors import NotFound, ServiceError
from .supervisors import tenant_of

LINK_SALT = "tccc.admin-link"
LINK_TTL = 300  # seconds


def issue(tenant: Tenant, seat_user_id: str) -> str:
    """A sign-in link's token for the supervisor `seat_user_id` names in `tenant`."""
    account = _account(tenant, seat_user_id)
    check_may_sign_in(account, tenant)
    claims = {"u": account.pk, "t": tenant.pk, "e": int(time.time()) + LINK_TTL, "o": tokens.new_once_id()}
    return signing.dumps(claims, salt=LINK_SALT)


def account_of(token: str):
    """The account a link would sign in, checked but not spent (the page that asks to confirm): refused if forged,
    expired, used, or if the account may no longer sign in for its tenant."""
    return _checked(token)[0]


def redeem(token: str):
    """The account a link signs in, its one use spent; refused as `account_of` refuses."""
    account, claims = _checked(token)
    tokens.spend(claims["o"], claims["e"], used=USED)
    return account


USED = "This sign-in link was used already: ask for a new one."


def _checked(token: str):
    try:
        claims = signing.loads(token, salt=LINK_SALT)
    except signing.BadSignature:
        raise ServiceError("This sign-in link is not valid.") from None
    if not (isinstance(claims, dict) and all(isinstance(claims.get(k), int) for k in "ute")
            and isinstance(claims.get("o"), str)):
        raise ServiceError("This sign-in link is not valid.")
    if claims["e"] < time.time():
        raise tokens.TokenExpired("This sign-in link has expired: ask for a new one.")
    if SpentToken.objects.filter(pk=claims["o"]).exists():
        raise tokens.TokenRevoked(USED)
    account = get_user_model().objects.filter(pk=claims["u"]).first()
    tenant = Tenant.objects.filter(pk=claims["t"]).first()
    if account is None or tenant is None:
        raise ServiceError("This sign-in link's account is gone.")
    check_may_sign_in(account, tenant)
    return account, claims


def check_may_sign_in(account, tenant: Tenant) -> None:
    if not account.is_active:
        raise ServiceError(f"the account {account.get_username()!r} is deactivated")
    if account.is_superuser:
        raise ServiceError(f"{account.get_username()!r} is a superuser: a tenant's link signs in its supervisors only")
    if not account.is_staff or tenant_of(account) != tenant:
        raise ServiceError(f"{account.get_username()!r} is not a supervisor of SdkAppId {tenant.sdk_app_id}")


def _account(tenant: Tenant, seat_user_id: str):
    agent = Agent.objects.select_related("account").filter(tenant=tenant, user_id=seat_user_id).first()
    if agent is not None:
        return agent.account
    account = get_user_model().objects.filter(username=seat_user_id, supervisor__tenant=tenant).first()
    if account is None:
        raise NotFound(f"no agent or supervisor {seat_user_id!r} in SdkAppId {tenant.sdk_app_id}")
    return account
