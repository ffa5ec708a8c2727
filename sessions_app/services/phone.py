"""Phone numbers as the contact center treats them: where a caller is from, which number agents may see
(number mapping), and whether an outbound call may go out now (per-number limits, calling hours)."""
from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..domain import phone as rules
from ..models import Agent, Consult, NumberLocation, ProtectedNumber, Session, Tenant, Trunk
from .errors import ServiceError

PROTECTED_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud or copied by hand


def location_of(number: str) -> str:
    """The callerLocation of a number: the longest matching prefix of the location table."""
    number = rules.digits(number)
    prefixes = [number[:end] for end in range(1, len(number) + 1)]
    table = dict(NumberLocation.objects.filter(prefix__in=prefixes).values_list("prefix", "location"))
    return rules.location(number, table)


def protected_id(tenant: Tenant, number: str) -> str:
    """The id agents see and dial in place of `number`: the same id every time for the same number."""
    existing = ProtectedNumber.objects.filter(tenant=tenant, number=number).values_list("protected_id", flat=True).first()
    if existing:
        return existing
    while True:
        candidate = "PN" + "".join(secrets.choice(PROTECTED_ALPHABET) for _ in range(10))
        try:
            with transaction.atomic():
                return ProtectedNumber.objects.create(tenant=tenant, number=number, protected_id=candidate).protected_id
        except IntegrityError:  # the same number mapped concurrently, or (rarely) the id is taken: read again
            existing = ProtectedNumber.objects.filter(tenant=tenant, number=number).values_list(
                "protected_id", flat=True).first()
            if existing:
                return existing


def number_to_dial(tenant: Tenant, number: str, phone_encode_type: str | None) -> str:
    """The real number behind what an agent dials: a protected id of the tenant is resolved (unless
    `phoneEncodeType: 'number'` says it is a real number); a real number is dialled as it is (spaces and
    dashes dropped)."""
    cleaned = number.replace(" ", "").replace("-", "")
    if phone_encode_type != "number":
        real = ProtectedNumber.objects.filter(tenant=tenant, protected_id=cleaned).values_list("number", flat=True).first()
        if real:
            return real
    if not rules.NUMBER_PATTERN.fullmatch(rules.digits(cleaned)):
        raise ServiceError(f"phoneNumber {number!r} is neither a phone number nor a protected id of this tenant")
    return cleaned


def protect(session: Session) -> None:
    """Give a phone session of a tenant that maps numbers the protected id of its customer's number."""
    if session.type != "phone" or not session.tenant.protect_numbers:
        return
    if session.direction == "in" and session.caller_phone_number:
        session.protected_caller = protected_id(session.tenant, session.caller_phone_number)
    elif session.direction == "out" and session.callee_phone_number:
        session.protected_callee = protected_id(session.tenant, session.callee_phone_number)


def as_agents_see(session: Session) -> Session:
    """The session with its customer's number hidden when the tenant maps numbers (a copy; the row keeps
    the real number, which supervisors see in admin and the CDR carries)."""
    if session.type != "phone" or not session.tenant.protect_numbers:
        return session
    seen = copy.copy(session)
    if session.direction == "in":
        seen.caller_phone_number = ""
    else:
        seen.callee_phone_number = ""
    return seen


@dataclass(frozen=True)
class CallerNumbers:
    """The numbers an agent may place an outbound call from, as both the dial pad and startOutboundCall see them.

    `defaults`: the agent's phone skill groups' numbers, then the number groups'; the first is what a call
    placed without a callerPhoneNumber shows. `offered`: those, then every other number of the center (any
    skill group's): each may be chosen as callerPhoneNumber, and the dial pad lists them in this order."""

    defaults: tuple[str, ...]
    offered: tuple[str, ...]


def caller_numbers_for(agent: Agent) -> CallerNumbers:
    tenant = agent.tenant
    defaults = [n for g in agent.skill_groups.filter(kind="phone").order_by("pk") for n in g.caller_number_list]
    defaults += [n for g in tenant.number_groups.order_by("pk") for n in g.number_list]
    others = [n for g in tenant.skill_groups.order_by("pk") for n in g.caller_number_list]
    return CallerNumbers(defaults=tuple(dict.fromkeys(defaults)), offered=tuple(dict.fromkeys(defaults + others)))


def check_outbound(tenant: Tenant, number: str, shown: str) -> None:
    """Refuse an outbound call outside calling hours or past the per-number limits, saying which (naming the
    number as the agent gave it, `shown`, so a protected number stays hidden)."""
    now = timezone.now()
    placed = Session.objects.filter(tenant=tenant, direction="out", type="phone", callee_phone_number=number)
    consulted = Consult.objects.filter(session__tenant=tenant, phone_number=number)  # a consult's call counts too

    def since(moment) -> int:
        return placed.filter(created_at__gte=moment).count() + consulted.filter(ring_at__gte=moment).count()

    refusal = rules.outbound_refusal(
        shown, timezone.localtime(now).time(), tenant.calling_hours_start, tenant.calling_hours_end,
        last_5_minutes=since(now - timedelta(minutes=5)), last_day=since(now - timedelta(hours=24)),
        per_5_minutes=tenant.outbound_per_5_minutes, per_day=tenant.outbound_per_day)
    if refusal:
        raise ServiceError(refusal)


def trunk_for(tenant: Tenant) -> Trunk | None:
    """The trunk outbound calls of `tenant` go through: its enabled trunk in admin, else the one the
    environment describes (SIP_TRUNK_HOST ...), else None."""
    trunk = Trunk.objects.filter(tenant=tenant, enabled=True).first()
    if trunk is None and settings.SIP_TRUNK.get("host"):
        trunk = Trunk(tenant=tenant, name="from the environment", **settings.SIP_TRUNK)
    return trunk
