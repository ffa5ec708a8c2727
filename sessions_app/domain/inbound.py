"""Who may call the hotlines through the SIP trunk: source addresses, and the credentials a trunk demands.

An INVITE is for the tenant whose hotline it dials. It is taken when its source address is in `SIP_ALLOW`
(the deployment's list, trusted for every tenant) or in the allowed sources of one of that tenant's enabled
trunks; a trunk with inbound credentials also makes the calls from its sources prove them (digest). When
neither `SIP_ALLOW` nor any of the tenant's trunks names a source, only this machine may call (loopback):
the laptop default, where sipp and a softphone run beside the server, keeps working, while a server on the
internet takes no call from a stranger until its operator names the carrier's addresses. Deny-by-default is
what PBXs facing the internet do (Asterisk answers an unidentified source with no call), because an open
SIP port is scanned within minutes; `0.0.0.0/0, ::/0` opens it on purpose.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from .phone import digits

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class InboundConfigError(ValueError):
    """A setting of who may call that cannot work; the message says which and why."""


class SourceListError(InboundConfigError):
    """An allowed-sources list with an entry that is not an address or a CIDR; the message names it."""


def parse_sources(text: str) -> tuple[Network, ...]:
    """`"203.0.113.5, 198.51.100.0/24"` (commas, spaces or lines between entries) → the networks; an address
    alone is one host. Names are refused: a trunk's address is checked on every INVITE, never resolved."""
    networks = []
    for entry in re.split(r"[\s,]+", text.strip()):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError:
            networks.append(_host_bits_error(entry))
    return tuple(networks)


def _host_bits_error(entry: str) -> Network:
    try:
        network = ipaddress.ip_network(entry, strict=False)
    except ValueError:
        raise SourceListError(f"{entry!r} is not an IP address or a CIDR (like 203.0.113.5 or 198.51.100.0/24; "
                              f"names are not resolved)") from None
    raise SourceListError(f"{entry!r} has bits set past its prefix length: did you mean {network}?")


@dataclass(frozen=True)
class InboundSettings:
    """The environment's part: `SIP_ALLOW` (trusted for every tenant) and each source's INVITE rate limit
    (`SIP_INVITE_RATE` per second, `SIP_INVITE_BURST` at once)."""

    allowed: tuple[Network, ...] = ()
    invite_rate: float = 30.0
    invite_burst: int = 60

    @classmethod
    def from_environment(cls, environ) -> InboundSettings:
        try:
            allowed = parse_sources(environ.get("SIP_ALLOW", ""))
        except SourceListError as error:
            raise InboundConfigError(f"SIP_ALLOW: {error}") from None
        rate = _positive("SIP_INVITE_RATE", environ.get("SIP_INVITE_RATE", str(cls.invite_rate)), float)
        burst = _positive("SIP_INVITE_BURST", environ.get("SIP_INVITE_BURST", str(cls.invite_burst)), int)
        return cls(allowed, rate, burst)


def _positive(name: str, text: str, kind: type):
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if not value > 0 or value == float("inf"):
        raise InboundConfigError(f"{name}: {text!r} is not a positive {'whole ' if kind is int else ''}number")
    return value


@dataclass(frozen=True)
class TrunkAccess:
    """One enabled trunk as the gateway screens by it: where it calls from, and what it must prove."""

    sources: tuple[Network, ...]
    username: str = ""
    password: str = ""


@dataclass(frozen=True)
class Admission:
    """The screen's verdict on an INVITE's source: refused (403), or taken, maybe only with one of
    `credentials` ((username, password) pairs) proven by a digest answer."""

    allowed: bool
    credentials: tuple[tuple[str, str], ...] = ()


REFUSED = Admission(False)
TAKEN = Admission(True)


@dataclass(frozen=True)
class InboundPolicy:
    """A snapshot of who may call: `SIP_ALLOW`, each tenant's enabled trunks, and the tenant of each hotline."""

    allowed: tuple[Network, ...] = ()
    trunks: dict[int, tuple[TrunkAccess, ...]] = field(default_factory=dict)  # tenant id → its enabled trunks
    hotlines: dict[str, int] = field(default_factory=dict)  # hotline number → tenant id

    def admission(self, number: str, source: str) -> Admission:
        """May `source` (an IP address) call `number`? For a number no tenant has, any source allowed by
        anything may learn that (the web side answers 404); strangers get the same 403 as always."""
        try:
            address = ipaddress.ip_address(source.strip("[]").split("%")[0])
        except ValueError:
            return REFUSED
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        tenant = self.hotlines.get(digits(number))
        trunks = self.trunks.get(tenant, ()) if tenant is not None else tuple(
            trunk for each in self.trunks.values() for trunk in each)
        if not self.allowed and not any(trunk.sources for trunk in trunks):
            return TAKEN if address.is_loopback else REFUSED
        if _within(address, self.allowed):
            return TAKEN
        matching = [trunk for trunk in trunks if _within(address, trunk.sources)]
        if not matching:
            return REFUSED
        if tenant is None or any(not trunk.username for trunk in matching):
            return TAKEN
        return Admission(True, tuple((trunk.username, trunk.password) for trunk in matching))


def _within(address, networks: tuple[Network, ...]) -> bool:
    return any(address.version == network.version and address in network for network in networks)


class SourceRateLimit:
    """INVITEs per source address: a token bucket each (`rate` per second, `burst` at once), in memory.

    Its memory is bounded: it remembers at most `max_sources` sources, forgetting the one seen longest ago
    first (a forgotten source starts again with a full bucket, so a flood of spoofed addresses can at worst make
    a source's limit forget its past, never grow the process)."""

    def __init__(self, rate: float, burst: int, max_sources: int = 10_000):
        if rate <= 0 or burst < 1 or max_sources < 1:
            raise ValueError("an INVITE rate limit needs a positive rate, a burst of at least 1 and room for a source")
        self.rate, self.burst, self.max_sources = rate, burst, max_sources
        self._buckets: dict[str, tuple[float, float]] = {}  # source → (tokens, when counted); oldest first

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, source: str, now: float) -> float:
        """Count one INVITE from `source`: 0 when it is within the limit, else the seconds until it would be."""
        tokens, then = self._buckets.pop(source, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        waited = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[source] = (tokens - 1 if not waited else tokens, now)  # last in the dict: seen most recently
        if len(self._buckets) > self.max_sources:
            del self._buckets[next(iter(self._buckets))]
        return waited
