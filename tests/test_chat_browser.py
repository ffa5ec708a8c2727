"""The web chat in Chromium: a visitor on a company's shop page (its own origin) with the one-tag widget, and an
agent in the standalone workbench, as the two people use them."""
from __future__ import annotations

import re
import threading
import urllib.request
from http.server import ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError

from .browser import (  # noqa: F401 (fixtures)
    ARTIFACTS, CALL_TIMEOUT, EVENT_TIMEOUT, FOREIGN_HOST, PageHandler, browser, fresh_channel_layer, html_page,
    live_shell, reset_center, sdk_server,
)

pytestmark = pytest.mark.browser

XSS = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = EVENT_TIMEOUT * 1000

SHOP_PAGE = html_page("Acme Outdoor", style="""\
  body { margin: 0; font: 16px/1.5 Georgia, serif; color: #2d2a26; background: #faf7f2; }
  header { padding: 18px 32px; background: #2d4a3e; color: #fff; font-size: 20px; letter-spacing: .02em; }
  main { display: grid; grid-template-columns: repeat(3, 1fr); gap: 24px; max-width: 960px; margin: 32px auto; padding: 0 32px; }
  .card { padding: 20px; background: #fff; border: 1px solid #e8e1d6; border-radius: 6px; }
  .card b { display: block; margin-bottom: 6px; }
  /* A host page's CSS must not reach the widget. */
  button, li, p, div { font-family: "Comic Sans MS", cursive !important; }
""", body="""\
<header>Acme Outdoor · Tents and trail gear</header>
<main>
  <div class="card"><b>Trail tent 2P</b>Light, sturdy, three seasons. €249</div>
  <div class="card"><b>Down sleeping bag</b>Comfort to -5 °C. €189</div>
  <div class="card"><b>Camp stove</b>Boils a litre in 3 minutes. €59</div>
</main>
<script src="__WIDGET__" data-sdk-app-id="__APP__" __EXTRA__ crossorigin="anonymous"></script>
""")


class ShopPageServer:
    """A company's site on its own port: `/?server=URL[&headless=1]` is a page with the widget's one script tag."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ShopHandler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, name="shop-page", daemon=True).start()

    def url(self, server_url: str, headless: bool = False, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}/?server={server_url}" + ("&headless=1" if headless else "")

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _ShopHandler(PageHandler):
    def do_GET(self):
        parts = urlsplit(self.path)
        if parts.path != "/":
            self.send_error(404)
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        body = (SHOP_PAGE.replace("__WIDGET__", query["server"] + "/widget/chat.js").replace("__APP__", "1400000001")
                .replace("__EXTRA__", 'data-headless="true"' if query.get("headless") else "")).encode()
        self.send_page(body)


@pytest.fixture(scope="module")
def shop():
    server = ShopPageServer()
    yield server
    server.stop()


class Visitor:
    """The shop page in its own browser context, with the widget's shadow root at hand."""

    def __init__(self, page, dialogs):
        self.page, self.dialogs = page, dialogs

    def widget(self, selector: str):
        return self.page.locator("#tccc-chat-root").locator(selector)  # Playwright pierces open shadow roots

    def bubbles(self) -> list[dict]:
        return self.page.evaluate("""() => [...document.getElementById('tccc-chat-root').shadowRoot
            .querySelectorAll('[data-messages] .msg[data-seq]')].map((li) => ({
              mine: li.classList.contains('mine'), text: li.querySelector('.bubble').textContent,
              tick: (li.querySelector('[data-tick]') || {}).dataset?.tick || null }))""")

    def wait_for_bubbles(self, count: int):
        self.page.wait_for_function(
            """(count) => document.getElementById('tccc-chat-root').shadowRoot
                 .querySelectorAll('[data-messages] .msg[data-seq]').length >= count""", arg=count, timeout=TIMEOUT_MS)
        return self.bubbles()

    def screenshot(self, name: str):
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


@pytest.fixture
def people(browser, shop, sdk_server):
    """`visitor()` opens the shop page; `agent(userId)` signs into the standalone workbench. Center reset first."""
    reset_center(sdk_server)
    contexts = []

    def new_page():
        context = browser.new_context(viewport={"width": 1200, "height": 760})
        context.set_default_timeout(CALL_TIMEOUT * 1000)
        contexts.append(context)
        return context.new_page()

    def visitor(headless=False, host="127.0.0.1", url=None):
        page = new_page()
        dialogs = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        page.goto(url or shop.url(sdk_server.url, headless=headless, host=host))
        return Visitor(page, dialogs)

    def agent(user_id):
        page = new_page()
        page.goto(sdk_server.url + "/workbench/login/")
        page.fill("#id_username", user_id)
        page.fill("#id_password", "demo-password")
        page.click("button[type=submit]")
        page.wait_for_url("**/workbench/")
        wait_until_online(sdk_server, user_id)
        return page

    yield SimpleNamespace(visitor=visitor, agent=agent)
    for context in contexts:
        context.close()


def wait_until_online(server, user_id):
    status = live_shell(server, (
        "import time\nfrom sessions_app.models import Agent\n"
        f"deadline = time.monotonic() + {EVENT_TIMEOUT}\n"
        f"while Agent.objects.get(user_id={user_id!r}).status == 'offline' and time.monotonic() < deadline:\n"
        "    time.sleep(0.05)\n"
        f"print(Agent.objects.get(user_id={user_id!r}).status)")).strip()
    assert status == "free", f"{user_id} did not come online: {status}"


def accept_offer(agent, server):
    """Click Accept on the offer ringing in the workbench; on a timeout, fail showing the server's sessions."""
    try:
        agent.locator("[data-accept]").click(timeout=TIMEOUT_MS)
    except PlaywrightError:
        sessions = live_shell(server, (
            "from sessions_app.models import Agent, Session\n"
            "print([(s.type, s.state, str(s.agent), s.end_status) for s in Session.objects.all()[:5]])\n"
            "print(list(Agent.objects.values_list('user_id', 'status')))"))
        raise AssertionError(f"no offer to accept in the workbench; sessions and agents: {sessions}") from None


def test_a_newcomer_goes_from_the_home_page_to_try_it_and_chats_with_themselves(people, sdk_server):
    agent = people.agent("agent1@demo")
    visitor = people.visitor(url=sdk_server.url + "/")
    visitor.page.get_by_role("link", name=re.compile("^Try it")).click()
    visitor.page.wait_for_url("**/try/")
    visitor.page.locator("#tccc-call-root").locator("button").first.wait_for(timeout=TIMEOUT_MS)  # the call widget
    visitor.widget("[data-launcher]").click()
    visitor.widget("button[type=submit]").first.click()
    visitor.widget("textarea").fill("Hello, is anyone there?")
    visitor.widget("textarea").press("Enter")
    accept_offer(agent, sdk_server)
    agent.locator("#wb-chat-log .msg-visitor .bubble").filter(has_text="Hello, is anyone there?").wait_for(
        timeout=TIMEOUT_MS)
    agent.locator("#wb-composer-text").fill("Yes: you, as Alice.")
    agent.locator("#wb-composer-text").press("Enter")
    assert visitor.wait_for_bubbles(2)[1]["text"] == "Yes: you, as Alice."
    visitor.screenshot("try-it")


def test_visitor_and_agent_chat_live_text_stays_text_and_a_reload_brings_the_conversation_back(people, sdk_server):
    agent = people.agent("agent1@demo")
    visitor = people.visitor()
    visitor.widget("[data-launcher]").click()
    visitor.widget("input[autocomplete=name]").fill("Ann")
    visitor.screenshot("chat-widget-start")
    visitor.widget("button[type=submit]").first.click()

    accept_offer(agent, sdk_server)
    visitor.widget("[data-status]").filter(has_text="Alice is here to help").wait_for(timeout=TIMEOUT_MS)

    # The visitor sends an XSS payload: it shows as text on both sides, and no script runs anywhere.
    visitor.widget("textarea").fill(XSS)
    visitor.widget("textarea").press("Enter")
    mine = visitor.wait_for_bubbles(1)[0]
    assert (mine["mine"], mine["text"], mine["tick"] in ("sent", "read")) == (True, XSS, True)
    agent.locator("#wb-chat-log .msg-visitor .bubble").filter(has_text=XSS).wait_for(timeout=TIMEOUT_MS)
    assert agent.locator("#wb-chat-log img").count() == 0
    assert visitor.widget("[data-messages] img").count() == 0

    # The agent types (the visitor sees it) and answers, also with markup.
    agent.locator("#wb-composer-text").press_sequentially("Hello Ann! <b>Happy</b> to help", delay=5)
    visitor.widget("[data-typing]").filter(has_text="Alice is typing").wait_for(timeout=TIMEOUT_MS)
    agent.locator("#wb-composer-text").press("Enter")
    bubbles = visitor.wait_for_bubbles(2)
    assert bubbles[1] == {"mine": False, "text": "Hello Ann! <b>Happy</b> to help", "tick": None}
    # The widget is open and visible, so the agent's message is read; the agent's read mark ticks the visitor's.
    agent.locator("#wb-chat-log .msg-agent .tick-read").wait_for(timeout=TIMEOUT_MS)
    visitor.page.wait_for_function("""() => document.getElementById('tccc-chat-root').shadowRoot
        .querySelector('[data-tick]').dataset.tick === 'read'""", timeout=TIMEOUT_MS)
    visitor.screenshot("chat-widget-conversation")
    agent.screenshot(path=str(ARTIFACTS / "chat-workbench-conversation.png"))

    visitor.page.reload()
    visitor.widget("[data-panel]").wait_for(timeout=TIMEOUT_MS)
    restored = visitor.wait_for_bubbles(2)
    assert [(b["mine"], b["text"]) for b in restored] == [(True, XSS), (False, "Hello Ann! <b>Happy</b> to help")]
    assert visitor.widget("[data-status]").inner_text() == "Alice is here to help"
    visitor.screenshot("chat-widget-after-reload")

    # A flooding visitor is told to slow down (at most 5 messages in 5 s); a refused text goes back to the input.
    for i in range(6):  # typed and sent in one step each: a refusal putting its text back cannot land mid-typing
        visitor.widget("textarea").evaluate("(input, text) => { input.value = text; input.form.requestSubmit(); }",
                                            f"hello? {i}")
    notice = visitor.widget("[data-notice]")
    notice.filter(has_text="You are sending messages too fast: wait a few seconds").wait_for(timeout=TIMEOUT_MS)
    visitor.page.wait_for_function("""() => !document.getElementById('tccc-chat-root').shadowRoot
        .querySelector('[data-outgoing]')""", timeout=TIMEOUT_MS)
    assert visitor.widget("textarea").input_value() in ("hello? 4", "hello? 5")
    sent = [b["text"] for b in visitor.bubbles()[2:]]
    # Five in 5 s pass (four if the XSS message was sent within those 5 s); the rest are refused, not stored.
    assert sent in (["hello? 0", "hello? 1", "hello? 2", "hello? 3"], ["hello? 0", "hello? 1", "hello? 2", "hello? 3",
                                                                      "hello? 4"])
    visitor.screenshot("chat-widget-rate-limited")

    # Minimised, the widget counts the agent's new messages on its button; opening it reads them.
    visitor.widget("[aria-label='Minimise the chat']").click()
    agent.locator("#wb-composer-text").fill("Take your time.")
    agent.locator("#wb-composer-text").press("Enter")
    badge = visitor.widget(".unread")
    badge.filter(has_text="1").wait_for(timeout=TIMEOUT_MS)
    visitor.screenshot("chat-widget-minimised-unread")
    visitor.widget("[data-launcher]").click()
    badge.wait_for(state="hidden", timeout=TIMEOUT_MS)
    assert visitor.bubbles()[-1] == {"mine": False, "text": "Take your time.", "tick": None}

    visitor.widget("button").filter(has_text="End chat").click()
    visitor.widget("[data-messages] .system").filter(has_text="You ended the chat.").wait_for(timeout=TIMEOUT_MS)
    visitor.widget("button").filter(has_text="Start a new chat").wait_for(timeout=TIMEOUT_MS)
    visitor.screenshot("chat-widget-ended")
    assert visitor.dialogs == []


def test_a_chat_waiting_for_a_free_agent_shows_its_place_in_the_queue(people, sdk_server):
    live_shell(sdk_server, "from sessions_app.models import Agent\n"
                           "Agent.objects.filter(user_id='agent1@demo').update(chat_capacity=1)")
    try:
        people.agent("agent1@demo")
        first, second = people.visitor(), people.visitor()
        for visitor in (first, second):
            visitor.widget("[data-launcher]").click()
            visitor.widget("input[autocomplete=name]").fill("Sam")
            visitor.widget("button[type=submit]").first.click()
        first.widget("[data-status]").filter(has_text="Connecting you").wait_for(timeout=TIMEOUT_MS)
        second.widget("[data-status]").filter(has_text="You are number 1 in the queue").wait_for(timeout=TIMEOUT_MS)
        second.widget("textarea").fill("I'll wait, thanks")
        second.widget("textarea").press("Enter")
        second.wait_for_bubbles(1)
        second.screenshot("chat-widget-queued")
    finally:
        live_shell(sdk_server, "from sessions_app.models import Agent\nAgent.objects.update(chat_capacity=5)")


def test_the_headless_widget_draws_nothing_and_its_api_answers(people):
    visitor = people.visitor(headless=True)
    visitor.page.wait_for_function("() => window.tcccChat !== undefined")
    assert visitor.page.evaluate("() => document.getElementById('tccc-chat-root')") is None
    assert visitor.page.evaluate("() => Object.keys(window.tcccChat).sort()") == sorted(
        ["events", "start", "send", "end", "typing", "read", "on", "off", "messages", "chat", "open", "close"])
    # Nobody is online: the chat starts and ends at once, and every promise resolves.
    outcome = visitor.page.evaluate("""async () => {
        const events = [];
        tcccChat.on('ended', (data) => events.push(['ended', data.endStatus]));
        const early = await tcccChat.send('too early');
        const started = await tcccChat.start({ nickname: 'Headless' });
        return { early, status: started.status, hasId: Boolean(started.data && started.data.sessionId),
                 events, late: await tcccChat.send('hello') };
      }""")
    assert outcome == {"early": {"status": "error", "errorMsg": "there is no open chat: start one first"},
                       "status": "success", "hasId": True, "events": [["ended", "noSeatOnline"]],
                       "late": {"status": "error", "errorMsg": "there is no open chat: start one first"}}


def test_a_lost_connection_comes_back_with_the_visitor_token_and_sends_what_waited(people, sdk_server):
    """The widget's socket closes under it: it reconnects (the client the SDK shares, static/common/rpc.js) with its
    visitor token, the chat goes on, and a message sent while it was away goes once, after the new welcome."""
    agent = people.agent("agent1@demo")
    visitor = people.visitor(headless=True)
    visitor.page.wait_for_function("() => window.tcccChat !== undefined")
    assert visitor.page.evaluate("() => tcccChat.start({ nickname: 'Ann' })")["status"] == "success"
    accept_offer(agent, sdk_server)
    # From a reload on (the token brings the chat back), the page keeps the widget's sockets at hand.
    visitor.page.add_init_script("""window.sockets = [];
        window.WebSocket = class extends window.WebSocket {
          constructor(...args) { super(...args); window.sockets.push(this); }
        };""")
    visitor.page.reload()
    visitor.page.wait_for_function("""() => window.tcccChat && tcccChat.chat() && tcccChat.chat().state === 'active'
        && window.sockets.length === 1 && window.sockets[0].readyState === WebSocket.OPEN""", timeout=TIMEOUT_MS)

    outcome = visitor.page.evaluate("""async () => {
        const sessionId = tcccChat.chat().sessionId;
        window.sockets[0].close();
        const sent = await tcccChat.send('while away');
        return { sent: sent.status, sockets: window.sockets.length,
                 open: window.sockets.at(-1).readyState === WebSocket.OPEN,
                 sameChat: tcccChat.chat().sessionId === sessionId,
                 texts: tcccChat.messages().map((message) => message.text) };
      }""")
    assert outcome == {"sent": "success", "sockets": 2, "open": True, "sameChat": True, "texts": ["while away"]}
    agent.locator("#wb-chat-log .msg-visitor .bubble").filter(has_text="while away").wait_for(timeout=TIMEOUT_MS)
    assert agent.locator("#wb-chat-log .msg-visitor .bubble").filter(has_text="while away").count() == 1


def test_a_site_off_the_allow_list_cannot_load_the_widget(people, sdk_server, shop):
    def cors_header(origin):
        request = urllib.request.Request(sdk_server.url + "/widget/chat.js", headers={"Origin": origin})
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.headers.get("Access-Control-Allow-Origin")

    assert cors_header(f"http://{FOREIGN_HOST}:{shop.port}") is None
    assert cors_header(f"http://127.0.0.1:{shop.port}") == f"http://127.0.0.1:{shop.port}"
    visitor = people.visitor(host=FOREIGN_HOST)
    visitor.page.wait_for_load_state("load")
    assert visitor.page.evaluate("() => typeof window.tcccChat") == "undefined"
    assert visitor.dialogs == []
