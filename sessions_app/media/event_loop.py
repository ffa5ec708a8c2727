"""The event loop media runs on: uvloop's (libuv, in C) rather than asyncio's own.

Every RTP packet is one readiness event, one callback and one `recvfrom` through the loop, and forwarding a
packet costs little else (packet_path.py), so the loop's own Python per event is a tenth of a forwarding media
process's time: measured, 10% more forwarded Opus calls per core on uvloop (bench/media_forwarding.py, runs
alternating the two loops). Its transports and timers are asyncio's interface, which aiortc, aioice and the SIP
stack use as they are. `MEDIA_UVLOOP=0` keeps asyncio's loop (the engine's own tests run on it too).
"""
from __future__ import annotations

import asyncio
import os


def new_media_loop() -> asyncio.AbstractEventLoop:
    """A new loop for the media engine: uvloop's, unless the environment says `MEDIA_UVLOOP=0`."""
    if os.environ.get("MEDIA_UVLOOP", "1") == "0":
        return asyncio.new_event_loop()
    import uvloop

    return uvloop.new_event_loop()
