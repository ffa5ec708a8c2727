"""Starts the deadline sweeper once per process on the server's event loop (see services.deadlines)."""
import asyncio
import threading
import os

_task = None


def ensure_sweeper() -> None:
    global _task
    if _task is None and os.environ.get("TCCC_SWEEPER", "1") == "1":
        from sessions_app.services.deadlines import run_forever

        _task = asyncio.get_running_loop().create_task(run_forever())


def start_with_reactor() -> None:
    """Under daphne: events leave through the outbox, sweep (and answer the SIP trunk) from the start, and retire this process's connections
    when it stops in order."""
    from twisted.internet import reactor

    from sessions_app.services import outbox

    reactor.callWhenRunning(lambda: outbox.serve_on(asyncio.get_event_loop()))
    reactor.callWhenRunning(lambda: asyncio.get_event_loop().call_soon(ensure_sweeper))
    reactor.callWhenRunning(start_phone_gateway)
    reactor.addSystemEventTrigger("before", "shutdown", retire_process)


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
