"""ICE servers (STUN, TURN) for every WebRTC peer connection, from the deployment's settings. Pure Python.

Read once at start (workbench/settings.py), so a typo stops the server with a message instead of failing calls:
- `ICE_SERVERS`: a JSON list of RTCIceServer dicts `{urls, username?, credential?}`, passed on as given;
- `TURN_URLS` + `TURN_SECRET`: coturn's TURN REST API credentials (its `use-auth-secret`). Each connection gets
  its own: username `<expiry>:<peer>`, credential base64(HMAC-SHA1(secret, username)). coturn recomputes the
  credential with the same secret and refuses it once the expiry (unix time) has passed, so nothing is stored
  and nothing long-lived leaves the server: a credential lives `TURN_TTL` seconds;
- `ICE_TRANSPORT_POLICY`: `all`, or `relay`: browsers use TURN relay candidates only.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Mapping

POLICIES = ("all", "relay")
DEFAULT_TURN_TTL = 24 * 3600
SERVER_KEYS = {"urls", "username", "credential"}
# RFC 7064 (stun:, stuns:) and RFC 7065 (turn:, turns:, with ?transport= for TURN only).
URL = re.compile(r"(?P<scheme>stuns?|turns?):(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(?P<port>\d{1,5}))?"
                 r"(?P<transport>\?transport=(?:udp|tcp))?")
# coturn splits the username at its first ':' into expiry and name, so a peer's name holds none.
PEER = re.compile(r"[A-Za-z0-9._@-]{1,64}")


class IceConfigError(ValueError):
    """A setting that cannot be used; its message names the setting and what is wrong."""


def check_url(url, setting: str, schemes: tuple[str, ...] = ("stun", "stuns", "turn", "turns")) -> str:
    match = URL.fullmatch(url) if isinstance(url, str) else None
    if match is None or match["scheme"] not in schemes:
        raise IceConfigError(f"{setting}: {url!r} is not a {'/'.join(s + ':' for s in schemes)} URL "
                             "(e.g. turn:turn.example.com:3478?transport=udp)")
    if match["port"] is not None and not 0 < int(match["port"]) < 65536:
        raise IceConfigError(f"{setting}: the port of {url!r} is not a port number")
    if match["scheme"].startswith("stun") and match["transport"]:
        raise IceConfigError(f"{setting}: {url!r}: a STUN URL has no ?transport= (RFC 7064)")
    return url


def parse_ice_servers(text: str) -> list[dict]:
    """`ICE_SERVERS`: JSON, a list of RTCIceServer dicts; a TURN server needs its username and credential."""
    try:
        servers = json.loads(text)
    except ValueError as error:
        raise IceConfigError(f"ICE_SERVERS is not valid JSON: {error}") from None
    if not isinstance(servers, list):
        raise IceConfigError('ICE_SERVERS must be a JSON list, e.g. [{"urls": "stun:stun.example.com:3478"}]')
    checked = []
    for number, server in enumerate(servers, 1):
        where = f"ICE_SERVERS entry {number}"
        if not isinstance(server, dict):
            raise IceConfigError(f"{where} must be an object with urls (and username, credential for TURN)")
        unknown = sorted(set(server) - SERVER_KEYS)
        if unknown:
            raise IceConfigError(f"{where} has unknown keys {', '.join(unknown)} (known: urls, username, credential)")
        urls = server.get("urls")
        urls = [urls] if isinstance(urls, str) else urls
        if not isinstance(urls, list) or not urls:
            raise IceConfigError(f"{where} needs urls: a URL or a list of them")
        for url in urls:
            check_url(url, where)
        for key in ("username", "credential"):
            if key in server and not isinstance(server[key], str):
                raise IceConfigError(f"{where}: {key} must be a string")
        if any(url.startswith("turn") for url in urls) and not (server.get("username") and server.get("credential")):
            raise IceConfigError(f"{where} names a TURN server: it needs username and credential "
                                 "(or use TURN_URLS and TURN_SECRET for credentials minted per connection)")
        checked.append({key: server[key] for key in ("urls", "username", "credential") if key in server})
    return checked


def turn_username(expires_at: int, peer: str) -> str:
    if not PEER.fullmatch(peer):
        raise ValueError(f"a TURN peer name is 1 to 64 letters, digits or ._@-, not {peer!r}")
    return f"{expires_at}:{peer}"


def turn_credential(secret: str, username: str) -> str:
    """coturn's `use-auth-secret` password for `username`: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


@dataclass(frozen=True)
class IceSettings:
    servers: tuple[dict, ...] = ()  # ICE_SERVERS, as given
    turn_urls: tuple[str, ...] = ()
    turn_secret: str = ""
    turn_ttl: int = DEFAULT_TURN_TTL
    transport_policy: str = "all"

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> "IceSettings":
        servers = parse_ice_servers(environ["ICE_SERVERS"]) if environ.get("ICE_SERVERS", "").strip() else []
        turn_urls = tuple(check_url(url.strip(), "TURN_URLS", ("turn", "turns"))
                          for url in environ.get("TURN_URLS", "").split(",") if url.strip())
        secret = environ.get("TURN_SECRET", "")
        if turn_urls and not secret:
            raise IceConfigError("TURN_URLS is set but TURN_SECRET is not: set it to coturn's static-auth-secret")
        if secret and not turn_urls:
            raise IceConfigError("TURN_SECRET is set but TURN_URLS is not: name the TURN server(s), "
                                 "e.g. turn:turn.example.com:3478")
        ttl_text = environ.get("TURN_TTL", "").strip() or str(DEFAULT_TURN_TTL)
        if not ttl_text.isdigit() or not 60 <= int(ttl_text) <= 7 * 24 * 3600:
            raise IceConfigError(f"TURN_TTL must be a number of seconds from 60 to 604800, not {ttl_text!r}")
        policy = environ.get("ICE_TRANSPORT_POLICY", "").strip() or "all"
        if policy not in POLICIES:
            raise IceConfigError(f"ICE_TRANSPORT_POLICY must be all or relay, not {policy!r}")
        has_turn = bool(turn_urls) or any(url.startswith("turn") for server in servers
                                          for url in ([server["urls"]] if isinstance(server["urls"], str)
                                                      else server["urls"]))
        if policy == "relay" and not has_turn:
            raise IceConfigError("ICE_TRANSPORT_POLICY=relay needs a TURN server (TURN_URLS and TURN_SECRET, "
                                 "or a turn: entry in ICE_SERVERS): without one no call could connect")
        return cls(tuple(servers), turn_urls, secret, int(ttl_text), policy)

    @property
    def configured(self) -> bool:
        return bool(self.servers or self.turn_urls)

    def ice_servers(self, now: float, peer: str) -> list[dict]:
        """The RTCIceServer list for one connection: ICE_SERVERS, then TURN_URLS with credentials minted for
        `peer` (a name coturn logs beside each allocation), valid `turn_ttl` seconds from `now`."""
        servers = [dict(server) for server in self.servers]
        if self.turn_urls:
            username = turn_username(int(now) + self.turn_ttl, peer)
            servers.append({"urls": list(self.turn_urls), "username": username,
                            "credential": turn_credential(self.turn_secret, username)})
        return servers

    def rtc_configuration(self, now: float, peer: str) -> dict:
        """What a browser passes to `new RTCPeerConnection(...)`; empty when nothing is configured, so that
        a deployment without these settings sends the frames it always sent."""
        if not self.configured:
            return {}
        return {"iceServers": self.ice_servers(now, peer), "iceTransportPolicy": self.transport_policy}
