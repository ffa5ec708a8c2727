"""Who may call in, without a socket: the allowed-sources lists (SIP_ALLOW and each trunk's, matched to the tenant
whose hotline is dialled), the gateway's screen with its bounded rate limiter and stateless digest nonces, and
admin's checks of a trunk's list and credentials. The same rules on real SIP: test_phone_inbound_screen.py."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from sessions_app.domain.inbound import (InboundPolicy, InboundSettings, SourceListError, SourceRateLimit,
                                         TrunkAccess, parse_sources)
from sessions_app.media.inbound_screen import InboundScreen
from sessions_app.media.sip import Credentials, parse_message
from sessions_app.media.sip.auth import authorize
from sessions_app.media.sip.challenge import NONCE_LIFETIME
from sessions_app.models import Trunk
from sessions_app.services import telephony

pytestmark = pytest.mark.unit

HOTLINE, OTHER_TENANTS = "008675586013388", "4008009999"
ROOT = Path(__file__).resolve().parent.parent


def invite(number: str = HOTLINE, authorization: str = "", call_id: str = "c1") -> object:
    extra = f"Authorization: {authorization}\r\n" if authorization else ""
    return parse_message((f"INVITE sip:{number}@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.5;branch=z9hG4bK1\r\n"
                          f"From: <sip:1@203.0.113.5>;tag=a\r\nTo: <sip:{number}@192.0.2.1>\r\nCall-ID: {call_id}\r\n"
                          f"CSeq: 1 INVITE\r\n{extra}Content-Length: 0\r\n\r\n").encode())


def policy(allowed: str = "", *trunks: TrunkAccess) -> InboundPolicy:
    return InboundPolicy(parse_sources(allowed), {1: trunks, 2: (TrunkAccess(parse_sources("198.51.100.0/24")),)},
                         {HOTLINE: 1, OTHER_TENANTS: 2})


def test_a_source_list_takes_addresses_and_cidrs_of_both_families_separated_by_commas_or_lines():
    assert [str(n) for n in parse_sources(" 203.0.113.5,198.51.100.0/24\n2001:db8::/32 ,, ")] == [
        "203.0.113.5/32", "198.51.100.0/24", "2001:db8::/32"]
    assert parse_sources("") == ()


@pytest.mark.parametrize("text, message", [
    ("203.0.113.5, trunk.example.com", "'trunk.example.com' is not an IP address or a CIDR"),
    ("10.0.0.1/8", "did you mean 10.0.0.0/8"),
    ("300.1.1.1", "'300.1.1.1' is not an IP address"),
    ("10.0.0.0/33", "'10.0.0.0/33' is not an IP address"),
])
def test_a_bad_entry_is_named_in_the_error(text, message):
    with pytest.raises(SourceListError, match=re.escape(message)):
        parse_sources(text)


def test_with_no_source_named_anywhere_only_this_machine_may_call():
    empty = InboundPolicy(hotlines={HOTLINE: 1})
    assert empty.admission(HOTLINE, "127.0.0.1").allowed and empty.admission(HOTLINE, "::1").allowed
    assert empty.admission(HOTLINE, "::ffff:127.0.0.1").allowed  # a dual-stack socket's view of 127.0.0.1
    assert not empty.admission(HOTLINE, "203.0.113.5").allowed
    assert not empty.admission(HOTLINE, "not an address").allowed


@pytest.mark.service
def test_sip_allow_admits_for_every_tenant_and_a_trunks_list_only_for_its_own_tenants_hotlines():
    rules = policy("203.0.113.0/24", TrunkAccess(parse_sources("192.0.2.7")))
    assert rules.admission(HOTLINE, "203.0.113.9").allowed and rules.admission(OTHER_TENANTS, "203.0.113.9").allowed
    assert rules.admission(HOTLINE, "192.0.2.7").allowed
    assert not rules.admission(OTHER_TENANTS, "192.0.2.7").allowed  # tenant 2's hotline: not this trunk's
    assert not rules.admission(HOTLINE, "198.51.100.1").allowed  # tenant 2's trunk calling tenant 1's hotline
    assert not rules.admission(HOTLINE, "127.0.0.1").allowed  # a list is named: loopback is no exception
    assert rules.admission("5550100", "198.51.100.1").allowed  # an unknown number: any trunk learns it is unknown
    assert not rules.admission("5550100", "192.0.2.200").allowed


def test_a_trunk_with_credentials_asks_for_them_unless_another_way_admits_the_source():
    proving = TrunkAccess(parse_sources("192.0.2.0/24"), "trunk", "s3cret")
    assert policy("", proving).admission(HOTLINE, "192.0.2.7").credentials == (("trunk", "s3cret"),)
    assert policy("192.0.2.7", proving).admission(HOTLINE, "192.0.2.7").credentials == ()  # SIP_ALLOW is trusted
    plain = TrunkAccess(parse_sources("192.0.2.7"))
    assert policy("", proving, plain).admission(HOTLINE, "192.0.2.7").credentials == ()


def test_the_rate_limit_refills_at_its_rate_and_remembers_a_bounded_number_of_sources():
    limit = SourceRateLimit(rate=2, burst=3, max_sources=100)
    assert [limit.take("192.0.2.1", 0.0) for _ in range(4)] == [0, 0, 0, 0.5]
    assert limit.take("192.0.2.1", 0.5) == 0 and limit.take("192.0.2.1", 0.5) > 0
    for n in range(10_000):
        limit.take(f"10.{n // 65536}.{n // 256 % 256}.{n % 256}", 1.0)
    assert len(limit) == 100


def screen_with(*trunks: TrunkAccess, allowed: str = "", rate: float = 100, burst: int = 100) -> InboundScreen:
    return InboundScreen(policy(allowed, *trunks), realm="192.0.2.1", rate=rate, burst=burst, clock=lambda: 0.0)


def test_refused_sources_leave_nothing_in_the_screen_and_allowed_ones_at_most_the_limiters_bound():
    door = screen_with(allowed="10.0.0.0/8")
    door.limit.max_sources = 50
    assert all(door.screen(invite(), (f"203.0.{n // 256}.{n % 256}", 5060)).status == 403 for n in range(2000))
    assert len(door.limit) == 0
    assert all(door.screen(invite(), (f"10.0.{n // 256}.{n % 256}", 5060)) is None for n in range(2000))
    assert len(door.limit) == 50


def test_past_its_burst_a_source_gets_503_with_the_seconds_to_wait():
    door = screen_with(allowed="10.0.0.0/8", rate=0.5, burst=2)
    answers = [door.screen(invite(), ("10.0.0.1", 5060)) for _ in range(3)]
    assert answers[:2] == [None, None]
    assert answers[2].status == 503 and answers[2].headers.get("Retry-After") == "2"


def answered(door: InboundScreen, source: str, credentials: Credentials, algorithm: str = "MD5"):
    """Our own client's answer (auth.authorize) to the screen's challenge offering `algorithm`."""
    challenge = door.screen(invite(), (source, 5060))
    assert challenge.status == 401
    challenge.headers.remove("WWW-Authenticate")
    for name, value in door.challenger.headers(source):
        if f"algorithm={algorithm}," in value:
            challenge.headers.add(name, value)
    return authorize(invite(), challenge, credentials)


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_an_invite_answering_the_challenge_with_the_right_credentials_is_let_in(algorithm):
    door = screen_with(TrunkAccess(parse_sources("192.0.2.0/24"), "trunk", "s3cret"))
    assert door.screen(answered(door, "192.0.2.7", Credentials("trunk", "s3cret"), algorithm), ("192.0.2.7", 5060)) \
        is None


def test_wrong_credentials_get_403_and_a_nonce_carried_to_another_address_a_new_challenge():
    door = screen_with(TrunkAccess(parse_sources("192.0.2.0/24"), "trunk", "s3cret"))
    assert door.screen(answered(door, "192.0.2.7", Credentials("trunk", "guess")), ("192.0.2.7", 5060)).status == 403
    assert door.screen(answered(door, "192.0.2.7", Credentials("eve", "s3cret")), ("192.0.2.7", 5060)).status == 403
    good = answered(door, "192.0.2.7", Credentials("trunk", "s3cret"))
    assert door.screen(good, ("192.0.2.8", 5060)).status == 401


def test_a_right_answer_to_an_expired_nonce_is_challenged_again_as_stale():
    door = screen_with(TrunkAccess(parse_sources("192.0.2.0/24"), "trunk", "s3cret"))
    now = [1_000_000.0]
    door.challenger.clock = lambda: now[0]
    late = answered(door, "192.0.2.7", Credentials("trunk", "s3cret"))
    now[0] += NONCE_LIFETIME + 1
    again = door.screen(late, ("192.0.2.7", 5060))
    assert again.status == 401 and "stale=true" in again.headers.get("WWW-Authenticate")


@pytest.mark.service
def test_the_policy_joins_sip_allow_and_the_enabled_trunks_of_each_hotlines_tenant(tenant, settings):
    settings.SIP_INBOUND = InboundSettings.from_environment({"SIP_ALLOW": "203.0.113.0/24"})
    Trunk.objects.create(tenant=tenant, name="carrier", host="192.0.2.7", allowed_sources="192.0.2.7",
                         inbound_username="trunk", inbound_password="s3cret")
    Trunk.objects.create(tenant=tenant, name="old carrier", host="192.0.2.99", allowed_sources="192.0.2.99",
                         enabled=False)
    rules = telephony.inbound_policy()
    assert rules.admission(HOTLINE, "203.0.113.1").allowed
    assert rules.admission(HOTLINE, "192.0.2.7").credentials == (("trunk", "s3cret"),)
    assert not rules.admission(HOTLINE, "192.0.2.99").allowed


def test_the_environment_defaults_to_no_list_and_30_invites_a_second_with_bursts_of_60():
    assert InboundSettings.from_environment({}) == InboundSettings((), 30.0, 60)


@pytest.mark.peer
@pytest.mark.parametrize("environ, message", [
    ({"SIP_ALLOW": "203.0.113.0/24, sbc.example"}, "SIP_ALLOW: 'sbc.example' is not an IP address or a CIDR"),
    ({"SIP_INVITE_RATE": "fast"}, "SIP_INVITE_RATE: 'fast' is not a positive number"),
    ({"SIP_INVITE_RATE": "0"}, "SIP_INVITE_RATE: '0' is not a positive number"),
    ({"SIP_INVITE_BURST": "2.5"}, "SIP_INVITE_BURST: '2.5' is not a positive whole number"),
])
def test_a_setting_that_cannot_work_stops_the_start_with_its_reason(environ, message):
    checked = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
                             env={**os.environ, **environ})
    assert checked.returncode != 0 and f"ImproperlyConfigured: {message}" in checked.stderr


TRUNK_FORM = {"name": "carrier", "host": "192.0.2.7", "port": "5060", "transport": "udp", "enabled": "on",
              "username": "", "password": "", "inbound_username": "", "inbound_password": ""}


@pytest.mark.service
@pytest.mark.parametrize("fields, error", [
    ({"allowed_sources": "192.0.2.7, carrier.example"}, "&#x27;carrier.example&#x27; is not an IP address or a CIDR"),
    ({"allowed_sources": "192.0.2.7/24"}, "did you mean 192.0.2.0/24?"),
    ({"allowed_sources": "", "inbound_username": "trunk", "inbound_password": "s3cret"},
     "Inbound credentials apply to the calls from the trunk&#x27;s sources"),
    ({"allowed_sources": "192.0.2.7", "inbound_username": "trunk"}, "give both, or neither"),
])
def test_admin_refuses_a_bad_source_list_or_half_credentials_with_a_clear_error(client, tenant, fields, error):
    client.force_login(get_user_model().objects.get(username="admin"))
    response = client.post(reverse("admin:sessions_app_trunk_add"), {**TRUNK_FORM, "tenant": tenant.pk, **fields})
    assert response.status_code == 200 and error in response.content.decode()
    assert not Trunk.objects.exists()


@pytest.mark.service
def test_admin_saves_a_trunk_with_its_sources_and_credentials(client, tenant):
    client.force_login(get_user_model().objects.get(username="admin"))
    response = client.post(reverse("admin:sessions_app_trunk_add"),
                           {**TRUNK_FORM, "tenant": tenant.pk, "allowed_sources": "192.0.2.7\n198.51.100.0/24",
                            "inbound_username": "trunk", "inbound_password": "s3cret"})
    assert response.status_code == 302
    assert telephony.inbound_policy().admission(HOTLINE, "198.51.100.20").credentials == (("trunk", "s3cret"),)
