"""`python manage.py media_worker [--sip]`: one media worker process (needs REDIS_URL; README "Media workers").
With `--sip` it also runs the SIP gateway (SIP_PORT): phone calls and their agents' legs live on it.

It answers the web processes' media commands on its own channel, beats its `MediaWorker` row, and on a stop
in order (SIGTERM, Ctrl-C) ends its calls as `mediaError` at once rather than waiting to be reaped.
"""
from __future__ import annotations

import asyncio
import functools
import signal
import uuid

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sessions_app.media.engine import MediaEngine
from sessions_app.media.event_loop import new_media_loop
from sessions_app.media.remote import WorkerLoop
from sessions_app.services import media_workers, reaping
from workbench.sip_gateway import Decisions, start_gateway

BEAT_EVERY = 2.0


class Command(BaseCommand):
    help = "Run a media worker: the WebRTC legs and bridges of web calls, driven over Redis."

    def add_arguments(self, parser):
        parser.add_argument("--sip", action="store_true", help="also answer and place phone calls (SIP_PORT)")

    def handle(self, *args, **options):
        if not settings.MEDIA_IN_WORKERS:
            raise CommandError("media workers need REDIS_URL; without it the web process carries media itself")
        if options["sip"] and not settings.SIP_PORT:
            raise CommandError("--sip needs SIP_PORT")
        with asyncio.Runner(loop_factory=new_media_loop) as runner:
            runner.run(self.run(options["sip"]))

    async def run(self, sip: bool) -> None:
        worker_id = uuid.uuid4().hex
        engine = MediaEngine(settings.MEDIA_HOST_ADDRESSES, settings.ICE)
        loop = WorkerLoop(engine)
        channel = await loop.open(worker_id)
        gateway = await start_gateway(engine, Decisions(media_worker=worker_id)) if sip else None
        beat = database_sync_to_async(functools.partial(media_workers.beat, carries_sip=sip))
        await beat(worker_id, channel, 0, force=True)
        self.stdout.write(f"media worker {worker_id} on {channel}", ending="\n")
        self.stdout.flush()
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        serving = asyncio.create_task(loop.serve())

        async def heartbeat():
            while True:
                await beat(worker_id, channel, len(engine.calls), force=True)
                await asyncio.sleep(BEAT_EVERY)

        beating = asyncio.create_task(heartbeat())
        await stop.wait()
        serving.cancel()
        beating.cancel()
        if gateway is not None:
            await gateway.close()
        await engine.close()
        await database_sync_to_async(reaping.retire_worker)(worker_id)
