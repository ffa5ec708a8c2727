"""The whole server: HTTP (Django), the SDK, visitor and workbench websockets, and the sweeper on one event loop.

`daphne workbench.asgi:application` is the complete product (README, "Configuration"). The sweeper starts when
Twisted's reactor runs (under daphne), or on the first request under any other ASGI server or in tests.
Every websocket's `Host` must be in ALLOWED_HOSTS (workbench/websocket_hosts.py); under daphne, HTTP requests
are bounded before their bodies are read (workbench/http_limits.py). Only the workbench's, the wallboard's and the
chat watch's sockets read the Django session (AuthMiddlewareStack): the SDK's authenticates by token alone, so its
handshake costs no session lookup.
"""
import gc
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")

# Python's default collector runs a young collection every 700 allocations, so short-lived request objects
# reach the old generation and a full collection follows every ten seconds or so under load, scanning every
# connection's objects (~280 per connected agent): ~140 ms with 1,000 agents, and every request waits.
# Young collections every 50,000 allocations (~10-15 ms each) let request objects die young; no full
# collection ran in a 15 s load at 15 sessions/s (bench/README.md).
gc.set_threshold(50_000, 20, 10)

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi = get_asgi_application()

from django.conf import settings  # noqa: E402

if settings.PRODUCTION:
    from workbench.production import refuse_demo_secrets  # noqa: E402

    refuse_demo_secrets()  # daphne runs no system checks: this import is where it can be stopped

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from sessions_app.consumers.call_monitor import CallMonitorConsumer  # noqa: E402
from sessions_app.consumers.chat_watch import ChatWatchConsumer  # noqa: E402
from sessions_app.consumers.sdk import SdkConsumer  # noqa: E402
from sessions_app.consumers.visitor import VisitorConsumer  # noqa: E402
from sessions_app.consumers.wallboard import WallboardConsumer  # noqa: E402
from sessions_app.consumers.web_call import WebCallConsumer  # noqa: E402
from sessions_app.consumers.workbench import WorkbenchConsumer  # noqa: E402
from workbench.api_handler import ApiHandler  # noqa: E402
from workbench.sweeper import ensure_sweeper, start_with_reactor  # noqa: E402
from workbench.websocket_hosts import AllowedHostsOnly  # noqa: E402

api_asgi = ApiHandler()


async def http(scope, receive, send):
    """The server APIs skip the browser pages' middleware (workbench/api_handler.py): the Bearer API under `/api/`
    and Tencent's cloud API, POSTed to `/` (a GET of `/` is the home page)."""
    api = scope["path"].startswith("/api/") or (scope["path"] == "/" and scope.get("method") == "POST")
    handler = api_asgi if api else django_asgi
    return await handler(scope, receive, send)


router = ProtocolTypeRouter({
    "http": http,
    "websocket": AllowedHostsOnly(URLRouter([
        path("ws/sdk/", SdkConsumer.as_asgi()),
        path("ws/visitor/", VisitorConsumer.as_asgi()),
        path("ws/call/", WebCallConsumer.as_asgi()),
        path("ws/workbench/", AuthMiddlewareStack(WorkbenchConsumer.as_asgi())),
        path("ws/wallboard/", AuthMiddlewareStack(WallboardConsumer.as_asgi())),
        path("ws/supervise/chat/", AuthMiddlewareStack(ChatWatchConsumer.as_asgi())),
        path("ws/supervise/call/", AuthMiddlewareStack(CallMonitorConsumer.as_asgi())),
    ])),
})


# A closed websocket leaves cycles (daphne's protocol, the consumer, their futures and the rows they read) that
# only a full collection frees, since a connection that lived a while is in the oldest generation. CPython runs
# one only when a quarter of the old objects are new, which a server that went quiet never reached: each chat
# that came and went stayed in memory (~20 KB each; bench/queue_positions.py --waves grew 6 MB per 300). A full
# collection after every CLOSED_PER_COLLECTION websockets bounds that garbage (the same run stays flat); it costs
# what the thresholds above avoid (~140 ms with 1,000 agents connected), once per that many connections.
CLOSED_PER_COLLECTION = 200
_closed = 0


def websocket_closed() -> None:
    global _closed
    _closed += 1
    if _closed >= CLOSED_PER_COLLECTION:
        _closed = 0
        gc.collect()


async def application(scope, receive, send):
    ensure_sweeper()
    try:
        return await router(scope, receive, send)
    finally:
        if scope["type"] == "websocket":
            websocket_closed()


if "twisted.internet.reactor" in sys.modules:
    from workbench import http_limits  # noqa: E402

    http_limits.install()
if "twisted.internet.reactor" in sys.modules and os.environ.get("TCCC_SWEEPER", "1") == "1":
    start_with_reactor()
