"""The web chat visitor's websocket, which the embeddable widget (`/widget/chat.js`) opens: parse → call the chat
service → reply; forward the chat's events.

`ws(s)://{server}/ws/visitor/?sdkAppId={SdkAppId}[&visitorToken={token}]`. The page's `Origin` must be on the
tenant's allow-list (else the handshake is refused, HTTP 403); an unknown SdkAppId gets a `refused` frame and close
code 4003. The first frame is `{"type": "welcome", "chat": ..., "visitorId"}`: with a valid visitor token, the
chat's state and its whole conversation (`chat.visitor_view`), so a reload or a reconnect gets it back; otherwise
`null`, with `errorMsg` saying why a token given was not taken. Requests, replies and events are described in
`domain/chat.py`.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async

from ..domain import chat as rules
from ..domain import protocol
from ..models import Tenant
from ..services import chat, origins, visitor_limits
from ..services.errors import ServiceError
from ..services.visitor_limits import Visitor
from .frames import JsonFramesConsumer

CLOSE_REFUSED = 4003


def tenant_for(sdk_app_id: str, origin: str) -> Tenant:
    tenant = Tenant.objects.filter(sdk_app_id=sdk_app_id).first() if sdk_app_id else None
    if tenant is None:
        raise ServiceError(f"no SdkAppId {sdk_app_id[:32]!r}" if sdk_app_id else "sdkAppId is required")
    if not origins.allowed(origin, tenant):
        raise ServiceError(f"origin {origin} is not allowed for SdkAppId {tenant.sdk_app_id}")
    return tenant


def resumed_session(tenant: Tenant, visitor_token: str) -> str:
    session = chat.session_for_visitor(visitor_token)
    if session.tenant_id != tenant.pk:
        raise ServiceError("the visitor token was issued for another SdkAppId")
    return session.id


class CustomerSocket(JsonFramesConsumer):
    """What the customers' sockets (chat visitor, web caller) share: the page's origin and SdkAppId name the
    tenant, or the socket is refused."""

    tenant: Tenant | None = None
    visitor: Visitor | None = None

    async def open_for_tenant(self) -> dict | None:
        """Accept the socket for the tenant its query names; returns the query, or None when refused."""
        headers = dict(self.scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not await database_sync_to_async(origins.allowed)(origin):
            await self.close()  # before accept: the handshake is refused with HTTP 403
            return None
        await self.accept()
        query = {k: v[0] for k, v in parse_qs(self.scope.get("query_string", b"").decode("latin-1")).items() if v}
        try:
            self.tenant = await database_sync_to_async(tenant_for)(query.get("sdkAppId", ""), origin)
        except ServiceError as refused:
            await self.send_frame(protocol.checked_frame("refused", protocol.REFUSED, errorMsg=str(refused)))
            await self.close(CLOSE_REFUSED)
            return None
        return query

    def identify(self, query: dict) -> Visitor:
        """Who this is, for the limits on starts and messages: the visitor id the page kept (a new one if none)
        and the client's address (daphne's; with --proxy-headers, the one the proxy forwarded)."""
        client = self.scope.get("client") or ("",)
        self.visitor = Visitor(visitor_limits.visitor_id_or_new(query.get("visitorId")), str(client[0] or "")[:45])
        return self.visitor


class VisitorConsumer(CustomerSocket):
    max_frame = rules.MAX_FRAME
    session_id: str | None = None

    async def connect(self):
        query = await self.open_for_tenant()
        if query is None:
            return
        welcome = {"chat": None, "visitorId": self.identify(query).id}
        if query.get("visitorToken"):
            try:
                session_id = await database_sync_to_async(resumed_session)(self.tenant, query["visitorToken"])
            except ServiceError as refused:
                welcome["errorMsg"] = str(refused)
            else:
                welcome["chat"] = await self.follow(session_id)
        await self.send_frame(rules.welcome(**welcome))

    async def follow(self, session_id: str) -> dict:
        """Hear this chat's events from now on; then read its state, so that no event falls in between."""
        if self.session_id:
            await self.channel_layer.group_discard(chat.visitor_group(self.session_id), self.channel_name)
        self.session_id = session_id
        await self.channel_layer.group_add(chat.visitor_group(session_id), self.channel_name)
        return await database_sync_to_async(chat.visitor_chat)(session_id)

    async def disconnect(self, code):
        if self.session_id:
            await self.channel_layer.group_discard(chat.visitor_group(self.session_id), self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        if self.tenant is not None:
            await self.answer(text_data)

    async def perform(self, frame: dict):
        action, params = rules.visitor_request(frame)
        return await self.perform_action(action, params)

    async def perform_action(self, action: str, params: dict):
        if action == "start":
            started = await database_sync_to_async(chat.start_visitor_chat)(self.tenant, self.visitor,
                                                                            replacing=self.session_id, **params)
            return {**started, "chat": await self.follow(started["sessionId"])}
        if not self.session_id:
            raise ServiceError("there is no chat yet: start one first")
        call = database_sync_to_async
        if action == "send":
            return await call(chat.post_message)(self.session_id, sender="visitor", **params)
        if action == "typing":
            return await call(chat.typing)(self.session_id, side="visitor")
        if action == "read":
            return await call(chat.mark_read)(self.session_id, side="visitor", **params)
        if action == "end":
            return await call(chat.end_by_visitor)(self.session_id)
        return {"messages": await call(chat.history)(self.session_id, **params)}

    async def visitor_frame(self, message):
        await self.send_frame(message["frame"])
