"""Playwright fixtures for the browser SDK: a live server, a CRM host page on a second origin, Chromium.

The host page loads `/sdk/tccc.js` cross-origin exactly as an integration of Tencent's SDK does (a script
element with data-token, data-sdk-app-id, data-userid and crossorigin="anonymous") and records every SDK event
in `window.log`, so a test waits for `callIn` the way a person waits for the phone to ring: with a deadline.
Use it from a test module by importing the fixtures:

    from .browser import browser, fresh_channel_layer, host_page, open_agent, sdk_server  # noqa: F401

    def test_something(open_agent):
        agent1 = open_agent("agent1@demo")         # its own browser context, `ready` already fired
        agent1.call("Agent.setStatus", {"status": "notReady"})
        agent1.event("callIn", sessionId=...)      # waits, then returns the payload

One live server and one Chromium per module; a new browser context per agent page; before each test the
center is reset (every agent offline, no session open), so each agent a test opens starts `free`.
pytest-django owns the fixture name `live_server`, hence `sdk_server`; `fresh_channel_layer` must be imported
too (see its docstring).
"""
from __future__ import annotations

import json
import re
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Error as PlaywrightError, Frame, Page, expect, sync_playwright

from testing.chromium import CHROMIUM, CHROMIUM_ARGS, FOREIGN_HOST  # noqa: F401 (FOREIGN_HOST: tests import it from here)
from testing.liveserver import ROOT, LiveServer
from testing.serving import running

from .media_ears import TRACK_PEER_CONNECTIONS, tone_wav

ARTIFACTS = ROOT / "test-artifacts"
EVENT_TIMEOUT = 5.0  # seconds; events follow a request or a deadline within well under a second here
CALL_TIMEOUT = 12.0  # seconds; longer than the SDK's own 10 s answer deadline, so a hang shows as ours
# What a call needs of Chromium: WebRTC between loopback addresses, and audio that plays without a user's gesture.
MEDIA_ARGS = ["--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required"]


def html_page(title: str, body: str, style: str = "") -> str:
    """A test's web page (a CRM, a shop) as an integration would write it: `body` and `style` go in as they are."""
    style = f"<style>\n{style}</style>\n" if style else ""
    return (f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{title}</title>\n{style}'
            f"</head>\n<body>\n{body}</body>\n</html>\n")


HOST_PAGE = html_page("Acme CRM", style="""\
  body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: #1d2939; background: #f2f4f7; }
  header { display: flex; justify-content: space-between; padding: 14px 28px; background: #101828; color: #fff; }
  header strong { font-size: 17px; }
  #sdk-status { color: #d0d5dd; }
  main { max-width: 880px; margin: 28px auto; padding: 0 28px; }
  table { width: 100%; border-collapse: collapse; background: #fff; border-radius: 10px; overflow: hidden; }
  th, td { padding: 12px 16px; text-align: left; border-bottom: 1px solid #eaecf0; }
  th { background: #f9fafb; color: #667085; font-size: 13px; }
""", body="""\
<header><strong>Acme CRM</strong><span id="sdk-status">Contact center: loading…</span></header>
<main>
  <h1>Customers</h1>
  <table>
    <tr><th>Name</th><th>Phone</th><th>Last contact</th></tr>
    <tr><td>Li Wei</td><td>0086 138 0000 0000</td><td>Yesterday</td></tr>
    <tr><td>Maria Rossi</td><td>0039 06 1234 5678</td><td>Last week</td></tr>
    <tr><td>Sam Carter</td><td>001 415 555 0100</td><td>Never</td></tr>
  </table>
</main>
<script>
  window.log = [];
  window.loadError = false;
  const { SdkURL, Token, SdkAppId, userId } = __CONFIG__;
  const statusLine = document.getElementById('sdk-status');
  const s = document.createElement('script');
  s.src = SdkURL;
  s.dataset.token = Token;
  s.dataset.sdkAppId = SdkAppId;
  s.dataset.userid = userId;
  s.crossOrigin = 'anonymous';
  s.onload = () => {
    for (const name of Object.values(tccc.events)) {
      tccc.on(name, (data) => window.log.push({ name, data }));
    }
    tccc.on(tccc.events.ready, () => { statusLine.textContent = `Contact center: signed in as ${userId}`; });
    tccc.on(tccc.events.tokenExpired, () => { statusLine.textContent = 'Contact center: sign-in expired'; });
  };
  s.onerror = () => {
    window.loadError = true;
    statusLine.textContent = 'Contact center: unavailable';
  };
  document.body.appendChild(s);
</script>
""")


class HostPageServer:
    """An integration's CRM page on its own port: `/?SdkURL=&Token=&SdkAppId=&userId=` renders it."""

    def __init__(self, tls: ssl.SSLContext | None = None):
        """`tls`: a server context, for a CRM served over https (a secure context, where the SDK gets a microphone)."""
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _HostPageHandler)
        self.port = self.httpd.server_address[1]
        self.scheme = "https" if tls else "http"
        if tls:
            self.httpd.socket = tls.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="host-page", daemon=True)

    def start(self) -> "HostPageServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def origin(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}"

    def url(self, sdk_url: str, token: str, sdk_app_id: str, user_id: str, host: str = "127.0.0.1") -> str:
        query = urlencode({"SdkURL": sdk_url, "Token": token, "SdkAppId": sdk_app_id, "userId": user_id})
        return f"{self.origin(host)}/?{query}"


class PageHandler(BaseHTTPRequestHandler):
    """What the tests' page servers (a CRM, a shop) share: `send_page` answers with HTML, and nothing is logged
    (pytest's output is kept for failures)."""

    def send_page(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class _HostPageHandler(PageHandler):
    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path == "/favicon.ico":
            self.send_response(204)
            self.end_headers()
            return
        if parts.path != "/":
            self.send_error(404)
            return
        query = {name: values[0] for name, values in parse_qs(parts.query).items()}
        config = {name: query.get(name, "") for name in ("SdkURL", "Token", "SdkAppId", "userId")}
        # "<" escaped so that no value can close the inline script.
        self.send_page(HOST_PAGE.replace("__CONFIG__", json.dumps(config).replace("<", "\\u003c")).encode())


@dataclass
class SdkPage:
    """One agent's CRM tab with the SDK loaded: wait for its events, call its methods, look at its UI."""

    page: Page
    user_id: str
    sockets: list = field(default_factory=list)  # Playwright WebSocket objects the page opened
    console: list[str] = field(default_factory=list)

    def events(self, name: str | None = None) -> list[dict]:
        """Payloads of the events fired so far (of one name, or all as {name, data})."""
        log = self.page.evaluate("() => window.log")
        return log if name is None else [entry["data"] for entry in log if entry["name"] == name]

    def event(self, name: str, timeout: float = EVENT_TIMEOUT, **match) -> dict:
        """The payload of the first `name` event whose fields include `match`, waiting up to `timeout` s."""
        try:
            handle = self.page.wait_for_function(
                """([name, match]) => window.log.find((entry) => entry.name === name
                       && Object.entries(match).every(([key, value]) => entry.data && entry.data[key] === value))""",
                arg=[name, match], timeout=timeout * 1000)
        except PlaywrightError:
            raise AssertionError(
                f"{self.user_id}: no {name} event matching {match} within {timeout} s; "
                f"events: {self.events()}; console: {self.console[-5:]}") from None
        return handle.json_value()["data"]

    def call(self, method: str, options=None):
        """`tccc.<Namespace>.<method>(options)` in the page; a Promise's value is awaited (bounded)."""
        return self.page.evaluate(
            """([method, options, timeoutMs]) => {
                 const [namespace, name] = method.split('.');
                 const result = tccc[namespace][name](options === null ? undefined : options);
                 if (!result || typeof result.then !== 'function') return result;
                 const hung = new Promise((resolve) => setTimeout(() => resolve({ hung: method }), timeoutMs));
                 return Promise.race([result.then((value) => value, (error) => ({ rejected: String(error) })), hung]);
               }""",
            [method, options, CALL_TIMEOUT * 1000])

    def ui(self) -> dict:
        """Whether the SDK's floating button and workbench panel are visible (computed, in its shadow root), and
        the panel's text: its own notices plus, when it shows, the workbench page in its iframe."""
        state = self._shadow_ui()
        frame = self.workbench_frame()
        if state["workbench"] and frame is not None:
            state["text"] = "\n".join(part for part in (state["text"], frame.inner_text("body")) if part.strip())
        return state

    def workbench_frame(self) -> Frame | None:
        """The workbench page inside the SDK's panel (an iframe of the server's /workbench/embed/), once loaded."""
        return next((frame for frame in self.page.frames if "/workbench/embed/" in frame.url), None)

    def wait_for_workbench_text(self, text: str, timeout: float = EVENT_TIMEOUT) -> None:
        """Wait until the workbench in the SDK's panel shows `text` (the panel need not be open)."""
        body = self.page.frame_locator("#tccc-sdk-root iframe").locator("body")
        try:
            expect(body).to_contain_text(text, timeout=timeout * 1000)
        except AssertionError:
            raise AssertionError(
                f"{self.user_id}: the workbench never showed {text!r}; console: {self.console[-5:]}") from None

    def visibility(self) -> tuple[bool, bool]:
        """(float button visible, workbench panel visible)."""
        state = self._shadow_ui()
        return state["floatButton"], state["workbench"]

    def _shadow_ui(self) -> dict:
        return self.page.evaluate("""() => {
            const root = document.getElementById('tccc-sdk-root').shadowRoot;
            const visible = (element) => {
              if (!element) return false;
              const style = getComputedStyle(element);
              const box = element.getBoundingClientRect();
              return style.display !== 'none' && style.visibility !== 'hidden' && box.width > 0 && box.height > 0;
            };
            return {
              floatButton: visible(root.querySelector('[data-float-button]')),
              workbench: visible(root.querySelector('[role=dialog]')),
              text: root.querySelector('[role=dialog]').innerText,
            };
          }""")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@dataclass
class WorkbenchTab:
    """An agent's standalone workbench tab (/workbench/ after signing in), with the SDK loaded for them."""

    page: Page
    user_id: str
    console: list[str] = field(default_factory=list)

    def shot(self, name: str) -> Path:
        """Save a screenshot into test-artifacts/ (animations stopped, so states are captured settled)."""
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), animations="disabled")
        return path

    def sdk(self, method: str, options=None):
        """Call `window.tccc` on the workbench page (the SDK the page loads for the signed-in agent)."""
        return SdkPage(self.page, self.user_id).call(method, options)


def sign_in_workbench(browser: Browser, server: LiveServer, user_id: str, *, viewport=(1280, 800),
                      password: str = "demo-password", init_script: str = "") -> WorkbenchTab:
    """A new browser context signed in to /workbench/ as `user_id`, its websocket open and the SDK ready
    (`init_script` runs in the page before its own scripts)."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    context.set_default_timeout(CALL_TIMEOUT * 1000)
    if init_script:
        context.add_init_script(init_script)
    tab = WorkbenchTab(context.new_page(), user_id)
    tab.page.on("console", lambda message: tab.console.append(f"{message.type}: {message.text}"))
    tab.page.goto(server.url + "/workbench/")
    tab.page.fill("#id_username", user_id)
    tab.page.fill("#id_password", password)
    tab.page.click("button[type=submit]")
    tab.page.wait_for_selector("body[data-connected=true]")
    tab.page.wait_for_function("() => window.tccc && tccc.Agent.getStatus().then((r) => r.status === 'success')")
    return tab


class AgentPages:
    """Opens agents' CRM pages against one server, each in its own browser context; `close()` ends them all."""

    def __init__(self, browser: Browser, host: HostPageServer, server: LiveServer, init_script: str = ""):
        self.browser, self.host, self.server = browser, host, server
        self.init_script = init_script  # runs in every page before its own scripts
        self.contexts = []

    def open(self, user_id: str, *, token: str | None = None, host: str = "127.0.0.1",
             ready: bool = True) -> SdkPage:
        """The page of `user_id` with a fresh login token (or `token`); waits for `ready` unless told not to."""
        login = self.server.token(user_id)
        context = self.browser.new_context()
        context.set_default_timeout(CALL_TIMEOUT * 1000)
        if self.init_script:
            context.add_init_script(self.init_script)
        self.contexts.append(context)
        sdk_page = SdkPage(context.new_page(), user_id)
        sdk_page.page.on("websocket", lambda socket: sdk_page.sockets.append(socket))
        sdk_page.page.on("console", lambda message: sdk_page.console.append(f"{message.type}: {message.text}"))
        sdk_page.page.goto(self.host.url(login["SdkURL"], token or login["Token"], self.server.demo["SdkAppId"],
                                         user_id, host=host))
        if ready:
            sdk_page.event("ready")
        return sdk_page

    def close(self) -> None:
        for context in self.contexts:
            context.close()
        self.contexts.clear()


def assert_ui_steps(agent: SdkPage, steps: list[tuple[str, tuple[bool, bool] | None]]) -> None:
    """Call each `tccc.UI` method in turn (each returns nothing, as Tencent's do) and check what then shows:
    `(float button, workbench panel)` visible, or None to go on without looking."""
    for method, shown in steps:
        assert agent.call(f"UI.{method}") is None, method
        if shown is not None:
            assert agent.visibility() == shown, f"after UI.{method}"


def launch_speaking(playwright, folder: Path, hz: int) -> Browser:
    """A Chromium whose fake microphone plays a `hz` tone (a WAV made in `folder`), ready for calls; the fake
    microphone is a browser-wide flag, so each voice needs a browser of its own."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True,
        args=[*CHROMIUM_ARGS, *MEDIA_ARGS, f"--use-file-for-fake-audio-capture={tone_wav(folder, hz)}"])


@contextmanager
def speaking_browsers(tmp_path_factory, voices: Iterable[int]) -> Iterator[list[Browser]]:
    """One Chromium per voice (`launch_speaking`, its tone in Hz), in the order of `voices`; closed on the way out."""
    folder = tmp_path_factory.mktemp("tones")
    with sync_playwright() as playwright:
        browsers = [launch_speaking(playwright, folder, hz) for hz in voices]
        try:
            yield browsers
        finally:
            for browser in browsers:
                browser.close()


def listening_context(browser: Browser, **options) -> BrowserContext:
    """A new context of `browser` (`options` as Playwright's `new_context` takes them) whose pages record their
    peer connections (`TRACK_PEER_CONNECTIONS`), so that `hears` reads them, and wait up to CALL_TIMEOUT."""
    context = browser.new_context(**options)
    context.set_default_timeout(CALL_TIMEOUT * 1000)
    context.add_init_script(TRACK_PEER_CONNECTIONS)
    return context


def accept_offer(page: Page, text: str, timeout_ms: float) -> None:
    """In a workbench page: wait up to `timeout_ms` for the offer card to show `text`, then accept it."""
    offer = page.locator(".offer-card")
    expect(offer).to_contain_text(text, timeout=timeout_ms)
    offer.get_by_role("button", name=re.compile("^Accept")).click()


def live_shell(server: LiveServer, code: str) -> str:
    """Run Python in `manage.py shell` against the live server's database; returns what it printed."""
    return server.manage("shell", "-v", "0", "-c", code)


RESET_CENTER = """
from django.utils import timezone
from sessions_app.models import Agent, ServeParticipant, Session, SkillGroup
now = timezone.now()
Session.objects.exclude(state="ended").update(state="ended", ended_at=now, end_status="testReset",
                                               offer_deadline=None, queue_deadline=None)
ServeParticipant.objects.filter(end_at__isnull=True).update(end_at=now)
ServeParticipant.objects.filter(completed_at__isnull=True).update(completed_at=now)
Agent.objects.update(status="offline", rest_reason="", offline_deadline=None, arrange_deadline=None)
SkillGroup.objects.update(ring_timeout=8, wrap_up_seconds=15)
"""


def reset_center(server: LiveServer) -> None:
    """Every agent offline, no session open, demo skill group timings: an agent who connects is offered
    nothing and starts free. (Pages of earlier tests are closed first; nobody is listening to these rows.)"""
    live_shell(server, RESET_CENTER)


def issue_token(server: LiveServer, user_id: str, ttl: int) -> str:
    """A login token for `user_id` that expires `ttl` seconds from now (negative: already expired)."""
    return live_shell(server, (
        "from sessions_app.models import Agent\n"
        "from sessions_app.services import tokens\n"
        f"print(tokens.issue(Agent.objects.select_related('tenant').get(user_id={user_id!r}), {int(ttl)})[0])"
    )).strip().splitlines()[-1]


def wait_until(read, done, timeout: float, what: str):
    """Read some state until `done(state)` holds (the state is returned) or `timeout` seconds pass, then fail
    showing the last state. For server state no event announces; each read here is a round trip (a
    `live_shell`, an API call), so there is no sleep between reads."""
    deadline = time.monotonic() + timeout
    while True:
        state = read()
        if done(state):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}; last state: {state!r}")


class RestartableLiveServer(LiveServer):
    """A live server whose daphne can be stopped and started again on the same port and database."""

    def stop_daphne(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        self.log.close()

    def start_daphne(self) -> None:
        self.start()  # migrate and seed_demo are idempotent: the database keeps its rows


@pytest.fixture(autouse=True)
def fresh_channel_layer():
    """Replaces tests/conftest.py's async autouse fixture of this name in browser test modules (which import
    it): sync Playwright keeps its event loop running in the test thread, where pytest-asyncio cannot start
    another, and these tests use no in-process channel layer (the live server has its own)."""
    yield


@pytest.fixture(scope="module")
def sdk_server():
    with running(LiveServer()) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def host_page():
    with running(HostPageServer()) as server:
        yield server


@pytest.fixture
def supervisor_page(browser, sdk_server):
    """The demo's superuser signed in to admin, in a browser context of their own."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(CALL_TIMEOUT * 1000)
    page = context.new_page()
    page.goto(sdk_server.url + "/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "demo-password")
    page.click("input[type=submit]")
    page.wait_for_url(sdk_server.url + "/admin/")
    yield page
    context.close()


def agents_fixture(server: str):
    """An `open_agent` fixture whose agents sign in to the live server of the fixture named `server` (a module
    with a server of its own assigns one: `restartable_agents = agents_fixture("restartable_server")`)."""
    @pytest.fixture
    def open_agent(browser, host_page, request):
        """`open_agent(userId, token=None, host='127.0.0.1', ready=True)` → SdkPage, on a freshly reset center."""
        live = request.getfixturevalue(server)
        reset_center(live)
        pages = AgentPages(browser, host_page, live)
        yield pages.open
        pages.close()

    return open_agent


open_agent = agents_fixture("sdk_server")
