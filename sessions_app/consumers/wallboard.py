"""The wallboard's websocket, `/ws/wallboard/?tenant=<id>`: a staff account's page (Django session, same origin)
gets its tenant's board, and after each change (told through the tenant's wallboard group,
services/wallboard_push.py) the fragments whose HTML changed (ui/wallboard.py).

Changes are coalesced: the first after a quiet spell is drawn at once, then at most one redraw per
`REDRAW_INTERVAL`, always ending with one after the last change. A burst of a hundred changes is a few
redraws; and the wallboards of one tenant open on one process share each read of the board (`TenantBoard`), so
twenty open wallboards cost little more than one. Nothing is sent while nothing changes: the page ticks its
timers itself.
"""
from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.db import connections

from ..services import origins
from ..services import wallboard as selectors
from ..services.wallboard_push import wallboard_group
from ..ui import wallboard as wallboard_ui

log = logging.getLogger(__name__)
REDRAW_INTERVAL = 0.25  # seconds between two redraws of one page at most
CLOSE_REFUSED = 4003


def _render(tenant_id: int) -> wallboard_ui.Rendered:
    return wallboard_ui.fragments(selectors.board(tenant_id))


# Boards are read on a thread of their own, with its own connection: a read waits for no writer (SQLite in WAL
# mode, PostgreSQL), so under load a wallboard is not queued behind the database thread's writes.
_reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wallboard")


async def read_board(tenant_id: int) -> wallboard_ui.Rendered:
    return await database_sync_to_async(_render, thread_sensitive=False, executor=_reader)(tenant_id)


class TenantBoard:
    """One tenant's board on this process, shared by its open wallboards. It alone listens to the tenant's
    wallboard group (one channel-layer message per change for the process, however many pages are open); after a
    change the board is read at once, then at most once per `REDRAW_INTERVAL` while changes keep coming (always
    once after the last), and each read goes to every page, which sends what changed for it."""

    def __init__(self, tenant_id: int):
        self.tenant_id = tenant_id
        self.pages: set[WallboardConsumer] = set()
        self.members = 0  # pages open or opening
        self.changes = 0
        self.dirty = False
        self.last_read = 0.0
        self.redrawing: asyncio.Task | None = None
        self.listener: asyncio.Task | None = None
        self.channel = ""
        self.joined = asyncio.Event()

    async def open(self, page: "WallboardConsumer") -> None:
        """Send `page` the board, then every redraw; changes from the moment it opens are not missed."""
        self.members += 1
        if self.listener is None:
            self.listener = asyncio.create_task(self.listen())
        await self.joined.wait()
        changes = self.changes
        try:
            await page.show(await read_board(self.tenant_id))
        except Exception:
            log.exception("rendering the wallboard failed")
        self.pages.add(page)  # from now on, no read older than its first reaches it
        if self.changes != changes:
            self.changed()

    async def close(self, page: "WallboardConsumer") -> None:
        self.pages.discard(page)
        self.members -= 1
        if self.members == 0:
            if _boards.get(self.tenant_id) is self:
                del _boards[self.tenant_id]
            self.listener.cancel()
            if self.channel:
                await get_channel_layer().group_discard(wallboard_group(self.tenant_id), self.channel)
            if not _boards:  # no wallboard open on this process: the reader's connection is not kept open
                await asyncio.get_running_loop().run_in_executor(_reader, connections.close_all)

    async def listen(self) -> None:
        layer = get_channel_layer()
        self.channel = await layer.new_channel()
        await layer.group_add(wallboard_group(self.tenant_id), self.channel)
        self.joined.set()
        while True:
            message = await layer.receive(self.channel)
            if message.get("type") == "wallboard.changed":
                self.changed()

    def changed(self) -> None:
        self.changes += 1
        self.dirty = True
        if self.redrawing is None or self.redrawing.done():
            self.redrawing = asyncio.create_task(self.redraw_while_dirty())

    async def redraw_while_dirty(self) -> None:
        loop = asyncio.get_running_loop()
        while self.dirty and self.pages:
            wait = self.last_read + REDRAW_INTERVAL - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.dirty = False
            self.last_read = loop.time()
            try:
                rendered = await read_board(self.tenant_id)
            except Exception:
                log.exception("rendering the wallboard failed")
                continue
            for page in list(self.pages):
                try:
                    await page.show(rendered)
                except Exception:  # one page that cannot be sent to must not stop the others
                    log.exception("sending the wallboard failed")


_boards: dict[int, TenantBoard] = {}  # tenant → its board on this process, while a wallboard of it is open


class WallboardConsumer(AsyncWebsocketConsumer):
    board: TenantBoard | None = None

    async def connect(self):
        headers = dict(self.scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1")
        host = headers.get(b"host", b"").decode("latin-1")
        if not origins.same_origin(origin, host):
            await self.close()  # a cookie alone never opens this socket for another site: HTTP 403
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        requested = (query.get("tenant") or [None])[0]
        tenant = await database_sync_to_async(selectors.tenant_shown)(self.scope.get("user"), requested)
        await self.accept()
        if tenant is None:  # not staff, or not of this tenant: the page says so and does not reconnect
            await self.close(CLOSE_REFUSED)
            return
        self.sent: dict[str, str] = {}
        self.sent_rows: dict[str, str] = {}
        if tenant.pk not in _boards:
            _boards[tenant.pk] = TenantBoard(tenant.pk)
        self.board = _boards[tenant.pk]
        await self.board.open(self)

    async def disconnect(self, code):
        board, self.board = self.board, None
        if board is not None:
            await board.close(self)

    async def receive(self, text_data=None, bytes_data=None):
        """The page sends nothing; sorting and filtering happen in the browser."""

    async def show(self, rendered: wallboard_ui.Rendered) -> None:
        """Send this page what differs from what it was sent last."""
        if self.board is None:
            return  # closed while the board was read
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
