"""Starts the deadline sweeper once per process on the server's event loop (the sweeps are services.deadlines'),
and under daphne the rest of the process's life: the outbox, the phone gateway, retiring in order, exiting."""
import asyncio
import logging
import os
import threading
import time

import httpx
from channels.db import database_sync_to_async
from django.conf import settings

logger = logging.getLogger(__name__)

EXIT_GRACE_SECONDS = 5

_task = None


def ensure_sweeper() -> None:
    global _task
    if _task is None and os.environ.get("TCCC_SWEEPER", "1") == "1":
        _task = asyncio.get_running_loop().create_task(run_forever())


async def run_forever() -> None:
    """The sweeping loops: every SWEEP_INTERVAL, fire the deadlines due and push the CDRs and recordings due.

    Deadlines and pushes loop separately, so a slow webhook never delays a ring timeout.
    """
    from sessions_app.services import deadlines

    async with httpx.AsyncClient() as client:
        await asyncio.gather(_repeat(database_sync_to_async(deadlines.sweep_once)),
                             _repeat(lambda: deadlines.push_due_cdrs(client)),
                             _repeat(lambda: deadlines.push_due_recordings(client)))


async def _repeat(step) -> None:
    while True:
        try:
            await step()
        except Exception:  # a bad row must not stop the sweeper; it is logged and retried next round
            logger.exception("sweep failed")
        await asyncio.sleep(settings.SWEEP_INTERVAL)


def start_with_reactor() -> None:
    """Under daphne: events leave through the outbox, sweep (and answer the SIP trunk) from the start; when the
    process stops in order, retire its connections, then exit even if a thread hangs."""
    from twisted.internet import reactor

    from workbench import outbox
    from workbench.sip_gateway import start_phone_gateway

    reactor.callWhenRunning(lambda: outbox.serve_on(asyncio.get_event_loop()))
    reactor.callWhenRunning(lambda: asyncio.get_event_loop().call_soon(ensure_sweeper))
    reactor.callWhenRunning(start_phone_gateway)  # the trunk is answered from the start, not the first web call
    reactor.addSystemEventTrigger("before", "shutdown", retire_process)
    reactor.addSystemEventTrigger("after", "shutdown", exit_even_if_threads_hang)


def retire_process() -> None:
    from workbench.media_backend import shut_down
    from sessions_app.services.reaping import retire_process as retire

    def retire_and_hang_up():
        retire()  # sessions first (their calls end as mediaError), then the media they had
        shut_down()

    # Django's ORM refuses to run on the event loop's thread; a short-lived thread may.
    worker = threading.Thread(target=retire_and_hang_up, name="retire-process")
    worker.start()
    worker.join(5)


def exit_even_if_threads_hang() -> None:
    """The server has stopped; the interpreter's exit now waits for every worker thread. A page request caught
    by the stop has one waiting forever: Django runs the pages' sync middleware on a thread that hands the rest
    of the request back to the event loop and waits for it, and the loop no longer runs. Such threads get a
    few seconds, then the process exits anyway. Nothing is lost: the database keeps what was committed, and
    a transaction cut short rolls back, as in a crash."""

    def exit_later():
        time.sleep(EXIT_GRACE_SECONDS)
        waiting = [t.name for t in threading.enumerate() if not t.daemon and t is not threading.main_thread()]
        logger.warning("stopped %s s ago, exiting although threads still wait: %s", EXIT_GRACE_SECONDS,
                       ", ".join(waiting))
        logging.shutdown()
        os._exit(0)

    threading.Thread(target=exit_later, name="exit-watchdog", daemon=True).start()
