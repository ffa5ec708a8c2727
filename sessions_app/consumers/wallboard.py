"""The wallboard's websocket, `/ws/wallboard/?tenant=<id>`: a staff account's page (Django session, same origin)
joins its tenant's wallboard group (services/wallboard_push.py) and gets the board's fragments again after each
change, only those whose HTML changed (ui/wallboard.py).

Changes are coalesced: the first after a quiet spell is drawn at once, then at most one redraw per
`REDRAW_INTERVAL`, always ending with one after the last change. A burst of a hundred changes is a few
redraws, so many open wallboards cost the server little. Nothing is sent while nothing changes: the page
ticks its timers itself.
"""
from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from ..services import origins
from ..services import wallboard as selectors
from ..services.wallboard_push import wallboard_group
from ..ui import wallboard as wallboard_ui

log = logging.getLogger(__name__)
REDRAW_INTERVAL = 0.25  # seconds between two redraws of one page at most
CLOSE_REFUSED = 4003


def _render(tenant_id: int) -> dict[str, str]:
    return wallboard_ui.fragments(selectors.board(tenant_id))


class WallboardConsumer(AsyncWebsocketConsumer):
    group: str | None = None
    redrawing: asyncio.Task | None = None

    async def connect(self):
        headers = dict(self.scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        if not origins.same_origin(origin, host):
            await self.close()  # a cookie alone never opens this socket for another site: HTTP 403
            return
        requested = (parse_qs(self.scope.get("query_string", b"").decode("latin-1")).get("tenant") or [None])[0]
        tenant = await database_sync_to_async(selectors.tenant_shown)(self.scope.get("user"), requested)
        await self.accept()
        if tenant is None:  # not staff, or not of this tenant: the page says so and does not reconnect
            await self.close(CLOSE_REFUSED)
            return
        self.tenant_id = tenant.pk
        self.sent: dict[str, str] = {}
        self.dirty = False
        self.last_redraw = 0.0
        self.group = wallboard_group(tenant.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.push()

    async def disconnect(self, code):
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
        if self.redrawing is not None:
            self.redrawing.cancel()

    async def receive(self, text_data=None, bytes_data=None):
        """The page sends nothing; sorting and filtering happen in the browser."""

    async def wallboard_changed(self, message):
        self.dirty = True
        if self.redrawing is None or self.redrawing.done():
            self.redrawing = asyncio.create_task(self.redraw_while_dirty())

    async def redraw_while_dirty(self):
        loop = asyncio.get_running_loop()
        while self.dirty and self.group is not None:
            wait = self.last_redraw + REDRAW_INTERVAL - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.dirty = False
            self.last_redraw = loop.time()
            await self.push()

    async def push(self):
        try:
            fragments = await database_sync_to_async(_render)(self.tenant_id)
        except Exception:
            log.exception("rendering the wallboard failed")
            return
        changed = [html for element_id, html in fragments.items()
                   if element_id != "wb-clock" and self.sent.get(element_id) != html]
        if not changed:
            return
        self.sent.update(fragments)
        await self.send(text_data=fragments["wb-clock"] + "".join(changed))
