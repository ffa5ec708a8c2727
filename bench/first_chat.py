"""From `./scripts/run.sh` to a first chat with yourself, as a newcomer does it: how long each step takes.

It clones this repository's HEAD into a temporary folder (a fresh checkout: no venv, no database), runs
`scripts/run.sh` there on free ports, and once the server answers plays both people in Chromium: the agent signs
in to the workbench, the customer goes from the home page to "Try it", opens the chat and writes; the agent
accepts and answers. It prints the seconds from run.sh's start to each step. `--reuse-venv` links this
checkout's `.venv` into the clone, to leave pip's downloads out of the figure.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from testing.chromium import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from testing.liveserver import free_port  # noqa: E402

WAIT_MS = 60_000


def wait_for_server(url: str, process: subprocess.Popen, log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"run.sh exited:\n{log.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url + "/try/", timeout=1).read()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer within {seconds:.0f} s:\n{log.read_text()[-3000:]}")


def chat_with_yourself(url: str, lap) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        agent = browser.new_context().new_page()
        agent.set_default_timeout(WAIT_MS)
        agent.goto(url + "/workbench/")
        agent.fill("#id_username", "agent1@demo")
        agent.fill("#id_password", "demo-password")
        agent.click("button[type=submit]")
        agent.wait_for_url("**/workbench/")
        lap("the agent is signed in to the workbench")

        customer = browser.new_context().new_page()
        customer.set_default_timeout(WAIT_MS)
        customer.goto(url + "/")
        customer.get_by_role("link", name=re.compile("^Try it")).click()
        widget = customer.locator("#tccc-chat-root")
        widget.locator("[data-launcher]").click()
        widget.locator("button[type=submit]").first.click()
        widget.locator("textarea").fill("Hello, is anyone there?")
        widget.locator("textarea").press("Enter")
        agent.locator("[data-accept]").click()
        lap("the agent accepted the customer's chat")
        agent.locator("#wb-composer-text").fill("Hello! How can I help?")
        agent.locator("#wb-composer-text").press("Enter")
        widget.locator("[data-messages] .msg:not(.mine) .bubble").filter(has_text="How can I help").wait_for()
        lap("the customer reads the agent's answer")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse-venv", action="store_true", help="link this checkout's .venv instead of a new one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tccc-first-") as folder:
        checkout = Path(folder) / "contact-center"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(checkout)], check=True)
        if args.reuse_venv:
            (checkout / ".venv").symlink_to(ROOT / ".venv")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = Path(folder) / "run.log"
        env = {**os.environ, "PORT": str(port), "SIP_PORT": str(free_port())}
        started = time.monotonic()

        def lap(what: str) -> None:
            print(f"{time.monotonic() - started:7.1f} s  {what}", flush=True)

        with open(log, "w") as out:
            process = subprocess.Popen(["bash", "scripts/run.sh"], cwd=checkout, env=env, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for_server(url, process, log, seconds=600)
            lap("run.sh's server answers (venv, install, migrate, demo data, daphne)")
            chat_with_yourself(url, lap)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(10)


if __name__ == "__main__":
    main()
