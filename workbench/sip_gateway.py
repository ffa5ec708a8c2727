"""The SIP gateway's start, on this process's media thread (embedded, SIP_PORT set) or on a media worker's
loop (`media_worker --sip`), and `Decisions`: how the gateway's questions reach `services.telephony`.
"""
from __future__ import annotations

import asyncio
import functools

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import close_old_connections

from sessions_app.domain import inbound
from sessions_app.services import consult, processes, telephony
from workbench import media_backend


def start_phone_gateway() -> None:
    """Start the SIP gateway on this process's media thread, when SIP_PORT is set (embedded default)."""
    if settings.SIP_PORT and not settings.MEDIA_IN_WORKERS:  # with workers, `media_worker --sip` carries it
        embedded = media_backend.backend()
        web_loop = asyncio.get_event_loop()  # called on the server's own loop (daphne's reactor thread)
        decisions = Decisions(web_loop, media_worker=processes.PROCESS_ID)  # its calls are ours
        embedded.run(start_gateway(embedded.engine, decisions))


async def start_gateway(engine, decisions: Decisions):
    """Start the SIP gateway on `engine`'s loop (this process's media thread, or a media worker's)."""
    from sessions_app.media.phone_gateway import PhoneGateway
    from sessions_app.media.rtp_commands import port_range
    from sessions_app.media.sip import Timers
    from sessions_app.media.sip.transport import local_ip

    public_host = settings.SIP_PUBLIC_HOST or (settings.MEDIA_HOST_ADDRESSES or [""])[0] or local_ip()
    engine.rtp_host, engine.rtp_ports = public_host, port_range(settings.RTP_PORTS)
    gateway = PhoneGateway(engine, decisions, host=settings.SIP_HOST, port=settings.SIP_PORT,
                           public_host=public_host, prompt_cache=settings.PROMPT_CACHE,
                           invite_rate=settings.SIP_INBOUND.invite_rate, invite_burst=settings.SIP_INBOUND.invite_burst,
                           timers=Timers(t1=settings.SIP_T1))
    await gateway.start(lease=settings.SIP_LINE_LEASE)
    return gateway


class Decisions:
    """What the SIP gateway asks, from a thread of its own (it never blocks the media loop on the database).

    Each decision runs on the web process's loop and its database thread, as a consumer's request does: the
    one thread all writes queue on, and the loop the channel layer delivers events on (from any other
    thread an in-memory layer's events would wait for something else to wake that loop). Without a web loop
    (a process with no web side) it runs in the asking thread, with its connection handled as Channels does."""

    def __init__(self, web_loop: asyncio.AbstractEventLoop | None = None, media_worker: str = ""):
        self.web_loop = web_loop
        self.media_worker = media_worker  # a media worker's gateway: the sessions it creates are pinned to it

    def inbound_policy(self) -> inbound.InboundPolicy:
        """Read in the asking thread, not on the web loop: it only reads, and the gateway's first read comes
        while the gateway's start holds that loop."""
        close_old_connections()
        try:
            return telephony.inbound_policy()
        finally:
            close_old_connections()

    def __getattr__(self, name):
        function = _DECIDED[name]
        if name == "inbound_call" and self.media_worker:
            function = functools.partial(function, media_worker=self.media_worker)
        if self.web_loop is not None:
            def on_web_loop(*args):
                decided = database_sync_to_async(function)(*args)
                return asyncio.run_coroutine_threadsafe(decided, self.web_loop).result()
            return on_web_loop

        def here(*args):
            close_old_connections()
            try:
                return function(*args)
            finally:
                close_old_connections()
        return here


_DECIDED = {"inbound_call": telephony.inbound_call_or_none, "ivr_menus": telephony.ivr_menus,
            "ivr_chosen": telephony.ivr_chosen, "caller_hung_up": telephony.caller_hung_up,
            "call_lost": telephony.call_lost, "renew_lines": telephony.renew_lines,
            "ivr_gave_up": telephony.ivr_gave_up, "plan": telephony.plan, "call_outed": telephony.call_outed,
            "outbound_answered": telephony.outbound_answered, "outbound_failed": telephony.outbound_failed,
            "consult_answered": consult.phone_answered, "consult_failed": consult.phone_failed,
            "consult_ended": telephony.consult_call_ended}
