"""The SDK's websocket: authenticate, then parse → call one service → reply; forward the agent's events.

Frames and close codes are described in docs/wire-protocol.md.
"""
from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from ..domain import protocol
from ..services import agents, ice, media, origins, rpc, tokens
from ..services.errors import ServiceError
from ..services.events import agent_group
from .frames import JsonFramesConsumer

CLOSE_EXPIRED, CLOSE_REFUSED = 4001, 4003


def authenticate(query: dict, origin: str, own_origin: bool = False) -> tuple[int, int, str]:
    """The agent a connection's token (or resume token) names, if the page's origin may use it: the tenant's
    allow-list, or this server's own pages (the standalone workbench loads the SDK too). Returns the agent, the
    token's generation (checked again as the agent connects) and a resume token (reconnects carry it: a one-use
    login token is spent by this first socket)."""
    first = {k: v[0] for k, v in query.items() if v}
    if first.get("resume"):
        claims = tokens.read(first["resume"], tokens.RESUME_SALT)
    elif first.get("token"):
        claims = tokens.read(first["token"])
    else:
        raise ServiceError("no token given")
    agent = tokens.agent_for(claims, first.get("sdkAppId"), first.get("userId"))
    if not own_origin and not origins.allowed(origin, agent.tenant):
        raise ServiceError(f"origin {origin} is not allowed for SdkAppId {agent.tenant.sdk_app_id}")
    tokens.spend(claims.once, claims.expires)  # a one-use login token opens this socket and no other
    return agent.pk, claims.generation, tokens.issue_resume(agent)


class SdkConsumer(JsonFramesConsumer):
    agent_id: int | None = None
    renewing: asyncio.Task | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests: set[asyncio.Task] = set()

    async def connect(self):
        headers = dict(self.scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        own_origin = origins.same_origin(origin, headers.get(b"host", b"").decode("latin-1"))
        if not own_origin and not await database_sync_to_async(origins.allowed)(origin):
            await self.close()  # before accept: the handshake is refused with HTTP 403
            return
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        agent_id = None
        try:
            agent_id, generation, resume_token = await database_sync_to_async(authenticate)(query, origin, own_origin)
            # In the agent's group before the login is checked again: a revocation committed after that check
            # reaches this socket (agent_revoked).
            await self.channel_layer.group_add(agent_group(agent_id), self.channel_name)
            agent, offers, calls = await database_sync_to_async(agents.connect)(agent_id, self.channel_name, generation)
        except ServiceError as refused:
            if agent_id is not None:
                await self.channel_layer.group_discard(agent_group(agent_id), self.channel_name)
            await self.refuse(refused)
            return
        self.agent_id = agent_id
        await self.send_frame({"type": "welcome", "resumeToken": resume_token, "agent": agent, "sessions": offers,
                               "calls": calls, **ice.welcome_fields(f"agent-{agent_id}")})
        if interval := ice.renewal_interval():
            self.renewing = asyncio.get_running_loop().create_task(self.renew_ice(interval))

    async def renew_ice(self, interval: float):
        """An agent's tab may stay connected for days, longer than TURN credentials live: it gets fresh ones
        (`{"type": "rtcConfiguration", "rtcConfiguration"}`) for the legs it connects from then on."""
        while True:
            await asyncio.sleep(interval)
            await self.send_frame({"type": "rtcConfiguration", **ice.welcome_fields(f"agent-{self.agent_id}")})

    async def disconnect(self, code):
        if self.renewing is not None:
            self.renewing.cancel()
        for task in self.requests:
            task.cancel()  # nobody is left to read the reply; a service call already running still completes
        if self.agent_id is not None:
            agent_id, self.agent_id = self.agent_id, None  # no request is served after this
            await self.channel_layer.group_discard(agent_group(agent_id), self.channel_name)
            await database_sync_to_async(agents.disconnect)(agent_id, self.channel_name)

    async def refuse(self, error: ServiceError):
        """Say why the login is not taken, and close: an expired or revoked token as such (the SDK fires
        tokenExpired), anything else as refused; the SDK reconnects after neither."""
        if isinstance(error, tokens.TokenExpired):
            await self.send_frame({"type": "tokenExpired", "errorMsg": str(error)})
            await self.close(CLOSE_EXPIRED)
        else:
            await self.send_frame({"type": "refused", "errorMsg": str(error)})
            await self.close(CLOSE_REFUSED)

    async def agent_revoked(self, message):
        """The agent's logins ended (services/logins.py): the socket serves nothing more while it closes."""
        if self.agent_id is not None:
            await self.refuse(tokens.TokenRevoked(f"the login is no longer valid: {message['reason']}"))
            await self.disconnect(CLOSE_EXPIRED)

    async def receive(self, text_data=None, bytes_data=None):
        """Start answering a request without waiting for it: while it waits for the database, this
        connection's events (a callIn) go on flowing. Requests still run in the order they came, since all
        database work queues on one thread. Past MAX_REQUESTS_IN_FLIGHT, a request is answered at once with an
        error: a flood from one connection then holds neither memory nor the database thread for long."""
        if self.agent_id is None:
            return
        if len(self.requests) >= protocol.MAX_REQUESTS_IN_FLIGHT:
            await self.answer(text_data, refusal=protocol.TOO_MANY_REQUESTS)
            return
        task = asyncio.get_running_loop().create_task(self.answer(text_data))
        self.requests.add(task)
        task.add_done_callback(self.requests.discard)

    async def perform(self, frame: dict):
        method, params = protocol.validate_request(frame)
        if method.name in protocol.MEDIA_METHODS:
            return await self.perform_media(method.name, **params)
        return await database_sync_to_async(rpc.call)(method.name, self.agent_id, params)

    async def perform_media(self, method: str, session_id: str, sdp: str = ""):
        """The SDK's WebRTC leg for a session it is offered or serving: answer its offer, or close it."""
        if method == "Media.disconnect":
            await media.close_leg(session_id, media.agent_leg(self.agent_id))
            return None
        await database_sync_to_async(media.media_session)(session_id, agent_id=self.agent_id)
        return await media.open_leg(session_id, media.agent_leg(self.agent_id), sdp)

    async def agent_frame(self, message):
        await self.send_frame(message["frame"])

    async def agent_frames(self, message):
        """Events one commit (or a few) published together (workbench/outbox.py)."""
        for frame in message["frames"]:
            await self.send_frame(frame)
