"""A supervisor watching a web chat in Chromium: from the session's admin page to the watch page, where they see
the visitor's message and write one that reaches the visitor's widget and the agent's workbench, each marking it
as the supervisor's."""
import pytest

from .browser import (  # noqa: F401 (fixtures)
    ARTIFACTS, EVENT_TIMEOUT, browser, fresh_channel_layer, live_shell, sdk_server, supervisor_page,
)
from .test_chat_browser import accept_offer, people, shop  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser
TIMEOUT_MS = EVENT_TIMEOUT * 1000




def test_a_supervisors_message_from_the_watch_page_reaches_the_visitors_widget_marked_as_theirs(
        people, supervisor_page, sdk_server):
    agent = people.agent("agent1@demo")
    visitor = people.visitor()
    visitor.widget("[data-launcher]").click()
    visitor.widget("input[autocomplete=name]").fill("Ann")
    visitor.widget("button[type=submit]").first.click()
    accept_offer(agent, sdk_server)
    visitor.widget("textarea").fill("Where is my parcel?")
    visitor.widget("textarea").press("Enter")
    agent.locator("#wb-chat-log .msg-visitor").filter(has_text="Where is my parcel?").wait_for(timeout=TIMEOUT_MS)
    agent.locator("#wb-composer-text").fill("Let me check that for you.")
    agent.locator("#wb-composer-text").press("Enter")
    visitor.wait_for_bubbles(2)
    session_id = live_shell(sdk_server, "from sessions_app.models import Session\n"
                                        "print(Session.objects.get(type='im', state='active').pk)").split()[-1]

    page = supervisor_page
    page.goto(f"{sdk_server.url}/admin/sessions_app/session/{session_id}/change/")
    page.get_by_role("link", name="Watch chat").click()
    page.wait_for_url(f"**/admin/chats/{session_id}/")
    page.locator("#cw-root[data-connection=live]").wait_for(timeout=TIMEOUT_MS)
    page.locator("#wb-chat-log .msg-visitor").filter(has_text="Where is my parcel?").wait_for()
    page.locator("#cw-status").filter(has_text="In progress with Alice").wait_for()

    page.locator("#cw-composer-text").fill("Hello Ann, I am the team lead: it ships today.")
    page.locator("#cw-composer-text").press("Enter")
    page.locator("#wb-chat-log .msg-supervisor").filter(has_text="Supervisor · admin").wait_for(timeout=TIMEOUT_MS)

    bubbles = visitor.wait_for_bubbles(3)
    assert (bubbles[2]["mine"], bubbles[2]["text"]) == (False, "Hello Ann, I am the team lead: it ships today.")
    marked = visitor.widget('[data-messages] .msg[data-sender="supervisor"]')
    assert marked.locator(".author").inner_text() == "Supervisor"
    agent.locator("#wb-chat-log .msg-supervisor").filter(has_text="Supervisor · admin").wait_for(
        timeout=TIMEOUT_MS)

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chat-watch.png"), full_page=True)
    visitor.screenshot("chat-widget-supervisor")
    agent.screenshot(path=str(ARTIFACTS / "workbench-supervisor-message.png"))

    # Taking it over: the supervisor serves the chat, the visitor sees who, the agent's list lets it go.
    page.get_by_role("button", name="Take over").click()
    page.locator("#cw-status").filter(has_text="Served by supervisor admin").wait_for(timeout=TIMEOUT_MS)
    visitor.widget("[data-status]").filter(has_text="admin is here to help").wait_for(timeout=TIMEOUT_MS)
    agent.locator("#wb-chat-log").wait_for(state="detached", timeout=TIMEOUT_MS)
    page.screenshot(path=str(ARTIFACTS / "chat-watch-taken-over.png"), full_page=True)
