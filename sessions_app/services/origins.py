"""Which browser origins may load the SDK and open its websocket: the tenants' allow-lists."""
from __future__ import annotations

from urllib.parse import urlsplit

from ..models import Tenant


def matches(origin: str, pattern: str) -> bool:
    """`http://127.0.0.1:*` allows any port of that host; otherwise scheme, host and port must be equal."""
    try:
        o, p = urlsplit(origin), urlsplit(pattern.replace(":*", ":0"))
        o_port = o.port or {"http": 80, "https": 443}.get(o.scheme)
        p_port = p.port or {"http": 80, "https": 443}.get(p.scheme)
    except ValueError:
        return False
    if (o.scheme, o.hostname) != (p.scheme, p.hostname) or not o.hostname:
        return False
    return pattern.endswith(":*") or o_port == p_port


def allowed(origin: str, tenant: Tenant | None = None) -> bool:
    tenants = [tenant] if tenant else Tenant.objects.all()
    return bool(origin) and any(matches(origin, p) for t in tenants for p in t.origin_patterns)


def same_origin(origin: str, host: str) -> bool:
    """Whether a page's `Origin` is this server itself (the `Host` it was reached at): our own pages, the
    standalone workbench and the SDK panel's iframe, need no allow-list entry."""
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    return bool(netloc) and netloc.lower() == host.strip().lower()
