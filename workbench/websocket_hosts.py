"""Websocket handshakes whose `Host` is not in ALLOWED_HOSTS are refused (HTTP 403), as Django refuses such HTTP
requests (400): consumers never build a Django request, so Django's own check never runs for them.

Without it a page on a name that resolves to this server (DNS rebinding: `evil.com`) opens every socket with a
matching `Origin`, and passes the own-origin check (services/origins.py), which compares `Origin` with `Host`.
"""
from __future__ import annotations

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def allowed_hosts() -> list[str]:
    """ALLOWED_HOSTS as Django reads it: empty under DEBUG means the local names."""
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return [".localhost", "127.0.0.1", "[::1]"]
    return settings.ALLOWED_HOSTS


def host_of(scope) -> str:
    """The `Host` header, else the address the server was reached at (as Django's `get_host` falls back to)."""
    host = dict(scope.get("headers", [])).get(b"host")
    if host is not None:
        return host.decode("latin-1")
    server = scope.get("server")
    return f"{server[0]}:{server[1]}" if server and server[0] else ""


class AllowedHostsOnly:
    """ASGI middleware for the websocket router: the handshake is denied before any consumer runs."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        domain, _ = split_domain_port(host_of(scope))
        if not domain or not validate_host(domain, allowed_hosts()):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
