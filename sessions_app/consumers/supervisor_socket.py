"""What an admin page's socket about one session (the call monitor's, the chat watch's) checks on connect
before its own rules: same origin, then a signed-in, active staff account, then the `sessionId` it asks for.

A socket of another site is closed before it is accepted (HTTP 403: a cookie alone never opens it); a page of
an account that may not supervise is accepted and refused, so that it can say why (`refuse`, the subclass's).
An inactive account is never signed in (Django's ModelBackend, which our sign-in goes through, does not load
one from a session), so asking for `is_active` refuses no one the session would let through.
"""
from __future__ import annotations

from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from ..services import origins


class SupervisorSocket(AsyncWebsocketConsumer):
    async def refuse(self, message: str):
        raise NotImplementedError

    async def open_for_supervisor(self, refusal: str):
        """(the user, the session id asked for: at most 64 characters), or None when the socket was closed or
        refused with `refusal`."""
        headers = dict(self.scope.get("headers", []))
        if not origins.same_origin(headers.get(b"origin", b"").decode("latin-1"),
                                   headers.get(b"host", b"").decode("latin-1")):
            await self.close()
            return None
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff or not user.is_active:
            await self.refuse(refusal)
            return None
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        return user, (query.get("sessionId") or [""])[0][:64]
