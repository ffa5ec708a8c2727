"""The wallboard's websocket, `/ws/wallboard/?tenant=<id>`: a staff account's page (Django session, same origin)
joins its tenant's wallboard group (services/wallboard_push.py) and gets the board's fragments again after each
change, only those whose HTML changed (ui/wallboard.py).

Changes are coalesced: the first after a quiet spell is drawn at once, then at most one redraw per
`REDRAW_INTERVAL`, always ending with one after the last change. A burst of a hundred changes is a few
redraws; and the wallboards of one tenant open on one process share each board read after a change
(`shared_render`), so twenty open wallboards cost little more than one. Nothing is sent while nothing changes:
the page ticks its timers itself.
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


def _render(tenant_id: int) -> wallboard_ui.Rendered:
    return wallboard_ui.fragments(selectors.board(tenant_id))


_renders: dict[int, tuple[float, asyncio.Future]] = {}  # tenant → this process's latest board read: (start, read)
_notices: dict[int, tuple[str, float]] = {}  # tenant → the latest change notice and when this process first got it


def noticed(tenant_id: int, notice: str) -> float:
    """When this process first got `notice` (loop time): a board read started after that shows its change, since
    it was sent after the change committed. A page behind on notices, or a notice with no id, counts from now."""
    now = asyncio.get_running_loop().time()
    latest = _notices.get(tenant_id)
    if latest is not None and notice and latest[0] == notice:
        return latest[1]
    _notices[tenant_id] = (notice, now)
    return now


async def shared_render(tenant_id: int, noticed_at: float) -> wallboard_ui.Rendered:
    """The tenant's fragments as read after `noticed_at` (loop time): a read started since then sees every
    change committed before it, so the pages that noticed a change share one read."""
    started, read = _renders.get(tenant_id, (0.0, None))
    if read is None or started < noticed_at:
        started = asyncio.get_running_loop().time()
        read = asyncio.ensure_future(database_sync_to_async(_render)(tenant_id))
        _renders[tenant_id] = (started, read)
        read.add_done_callback(lambda done: _forget(tenant_id, done))
    return await asyncio.shield(read)


def _forget(tenant_id: int, read: asyncio.Future) -> None:
    if _renders.get(tenant_id, (0.0, None))[1] is read:
        del _renders[tenant_id]


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
        self.sent_rows: dict[str, str] = {}
        self.dirty = False
        self.noticed_at = self.last_redraw = 0.0
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
        self.noticed_at = noticed(self.tenant_id, str(message.get("notice") or ""))
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
            rendered = await shared_render(self.tenant_id, self.noticed_at)
        except Exception:
            log.exception("rendering the wallboard failed")
            return
        html = rendered.html
        changed = [element_id for element_id in ("wb-counts", "wb-queues", "wb-live")
                   if self.sent.get(element_id) != html[element_id]]
        parts = [html[element_id] for element_id in changed]
        if list(rendered.agent_rows) != list(self.sent_rows):  # agents came or went: the whole list
            parts.append(html["wb-agents"])
        else:
            rows = [row for user_id, row in rendered.agent_rows.items() if self.sent_rows[user_id] != row]
            if rows:
                parts.append(wallboard_ui.row_patch(rows))
        if not parts:
            return
        self.sent.update(html)
        self.sent_rows = rendered.agent_rows
        await self.send(text_data=html["wb-clock"] + "".join(parts))
