"""A `manage.py media_worker` process beside a live server, as `run.sh` starts one: it serves once it has said so."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from .liveserver import ROOT, LiveServer


class Worker:
    def __init__(self, live: LiveServer, *options: str):
        self.log = open(live.workdir / f"media-worker-{time.monotonic_ns()}.log", "w")
        self.process = subprocess.Popen([sys.executable, "manage.py", "media_worker", *options], cwd=ROOT, env=live.env,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.process.stdout.readline()  # "media worker {id} on {channel}", once it serves
        assert line.startswith("media worker"), line

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(5)
        self.log.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.log.close()
