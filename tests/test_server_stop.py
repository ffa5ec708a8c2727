"""A daphne process asked to stop (SIGTERM) stops, whatever it was serving at that moment."""
import subprocess
import threading
import time
import urllib.request

import pytest

from testing.liveserver import LiveServer

pytestmark = pytest.mark.peer


def test_a_server_stopped_while_serving_pages_exits():
    """Django serves a page through its sync middleware on a thread that hands parts of the request back to the
    event loop and waits for them; a request caught by the stop waits for a loop that no longer runs, and the
    interpreter's exit waits for that thread: the process never ended. It must end within seconds."""
    with LiveServer() as server:
        stop = threading.Event()

        def browse():
            while not stop.is_set():
                try:
                    urllib.request.urlopen(server.url + "/admin/login/", timeout=2).read()
                except OSError:
                    pass

        browsers = [threading.Thread(target=browse, daemon=True) for _ in range(8)]
        for browser in browsers:
            browser.start()
        time.sleep(1)
        started = time.monotonic()
        server.process.terminate()
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            raise AssertionError("daphne did not exit within 15 s of SIGTERM") from None
        finally:
            stop.set()
        assert time.monotonic() - started < 15
