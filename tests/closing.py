"""Factory fixtures whose connections are closed when the test ends."""
from __future__ import annotations

from contextlib import asynccontextmanager


@asynccontextmanager
async def closed_at_end(open_one):
    """A factory calling `open_one(*args, **kwargs)`, for a fixture to yield; whatever it opened (anything with an
    async `close()`) is closed when the block ends."""
    opened = []

    async def open_(*args, **kwargs):
        opened.append(await open_one(*args, **kwargs))
        return opened[-1]

    try:
        yield open_
    finally:
        for connection in opened:
            await connection.close()
