"""Starts the deadline sweeper once per process on the server's event loop (see services.deadlines), and
under daphne the rest of the process's life: the outbox, the phone gateway, retiring in order, exiting."""
import asyncio
import logging
import os
import threading
import time

logger = logging.getLogger(__name__)

EXIT_GRACE_SECONDS = 5

_task = None


def ensure_sweeper() -> None:
    global _task
    if _task is None and os.environ.get("TCCC_SWEEPER", "1") == "1":
        from sessions_app.services.deadlines import run_forever

        _task = asyncio.get_running_loop().create_task(run_forever())


def start_with_reactor() -> None:
    """Under daphne: events leave through the outbox, sweep (and answer the SIP trunk) from the start; when the
    process stops in order, retire its connections, then exit even if a thread hangs."""
    from twisted.internet import reactor

    from sessions_app.services import outbox

    reactor.callWhenRunning(lambda: outbox.serve_on(asyncio.get_event_loop()))
    reactor.callWhenRunning(lambda: asyncio.get_event_loop().call_soon(ensure_sweeper))
    reactor.callWhenRunning(start_phone_gateway)
    reactor.addSystemEventTrigger("before", "shutdown", retire_process)
    reactor.addSystemEventTrigger("after", "shutdown", exit_even_if_threads_hang)


def start_phone_gateway() -> None:
    """The SIP trunk's gateway listens from the start (SIP_PORT set), not from the first web call."""
    from sessions_app.services.media import start_phone_gateway as start

    start()


def retire_process() -> None:
    from sessions_app.services.media import shut_down
    from sessions_app.services.processes import retire

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
