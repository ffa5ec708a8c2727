"""The contact center as deployed (docs/deploy.md): two web processes on PostgreSQL and Redis, a media worker,
and Debian's nginx in front with the shipped deploy/nginx.conf and TLS. Pages, the SDK on an https CRM page,
both widgets on an https shop and every websocket go through nginx over https/wss, in Chromium.

One nginx, one cluster and one Chromium per voice serve the whole module. Chromium trusts the test's
certificate by its key (--ignore-certificate-errors-spki-list) and no other.
"""
from __future__ import annotations

import re
import threading
from http.server import ThreadingHTTPServer

import httpx
import pytest
from playwright.sync_api import sync_playwright

from .browser import (  # noqa: F401 (fixtures)
    CALL_TIMEOUT, CHROMIUM, CHROMIUM_ARGS, AgentPages, HostPageServer, PageHandler, fresh_channel_layer, reset_center,
    sign_in_workbench, wait_until,
)
from testing.cluster import Cluster, phone_session
from testing.media_worker import Worker
from .media_ears import TRACK_PEER_CONNECTIONS, tone_wav, wait_to_hear
from testing.nginx import Certificate, Nginx, backend_holding

pytestmark = pytest.mark.peer

CUSTOMER_HZ, AGENT_HZ = 440, 1000
MEDIA_ARGS = ["--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required"]

SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Acme Shop</title></head>
<body><h1>Acme Shop</h1><p>Questions? Chat with us or call us from this page.</p>
<script src="__SERVER__/widget/chat.js" data-sdk-app-id="1400000001" data-headless="true" crossorigin="anonymous"></script>
<script src="__SERVER__/widget/call.js" data-sdk-app-id="1400000001" data-headless="true" crossorigin="anonymous"></script>
<script>
  window.shopEvents = [];
  for (const name of ['queued', 'ringing', 'accepted', 'ended']) {
    tcccCall.on(name, (data) => window.shopEvents.push({ widget: 'call', name, data }));
    tcccChat.on(name, (data) => window.shopEvents.push({ widget: 'chat', name, data }));
  }
</script></body></html>
"""


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return Certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def cluster(postgres, redis):
    # A media worker beats every 2 s: PROCESS_DEAD_AFTER leaves it room for a late beat on a busy machine.
    started = Cluster(postgres, redis, behind_proxy=True, env={
        "PROCESS_DEAD_AFTER": "6", "MEDIA_HOST_ADDRESSES": "127.0.0.1"}).start()
    # The CRM and the shop are served over https: the tenant allows those origins, as an operator sets in admin.
    started.sql("UPDATE sessions_app_tenant SET allowed_origins = allowed_origins || %s", "\nhttps://127.0.0.1:*")
    worker = Worker(started[0])
    yield started
    worker.stop()
    started.stop()


@pytest.fixture(scope="module")
def balancer(cluster, certificate):
    nginx = Nginx(cluster.servers, certificate).start()
    yield nginx
    nginx.stop()


@pytest.fixture(scope="module")
def browsers(tmp_path_factory, certificate):
    """One Chromium per voice (the fake microphone is a browser-wide flag), each trusting the test certificate."""
    folder = tmp_path_factory.mktemp("tones")
    trust = f"--ignore-certificate-errors-spki-list={certificate.spki_sha256()}"
    with sync_playwright() as playwright:
        launched = {who: playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, *MEDIA_ARGS, trust, f"--use-file-for-fake-audio-capture={tone_wav(folder, hz)}"])
            for who, hz in (("agent", AGENT_HZ), ("customer", CUSTOMER_HZ))}
        yield launched
        for browser in launched.values():
            browser.close()


@pytest.fixture(scope="module")
def crm(certificate):
    server = HostPageServer(tls=certificate.server_context()).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shop(balancer, certificate):
    body = SHOP_PAGE.replace("__SERVER__", balancer.url).encode()

    class Shop(PageHandler):
        def do_GET(self):
            self.send_page(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    httpd.socket = certificate.server_context().wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, name="shop", daemon=True).start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def agents(browsers, crm, cluster, balancer):
    """`agents.open(userId)`: an agent's https CRM page with the SDK loaded from nginx; the cluster's logs of the
    test are printed when it fails."""
    reset_center(cluster[0])
    pages = AgentPages(browsers["agent"], crm, balancer, init_script=TRACK_PEER_CONNECTIONS)
    marks = cluster.log_marks()
    yield pages
    pages.close()
    cluster.print_logs_since(marks)


@pytest.fixture
def client(balancer):
    with httpx.Client(verify=balancer.ssl_context, timeout=10) as http:
        yield http


def ok(result):
    assert result["status"] == "success", result
    return result


def upstreams(balancer: Nginx, path: str) -> list[str]:
    """The backend nginx sent each logged request for `path` to, in order."""
    return re.findall(rf'"\w+ {re.escape(path)} HTTP/1.1" \d+ \d+ \S+ upstream=(\S+)', balancer.access_log())


def test_http_redirects_to_https_and_the_server_builds_https_urls(balancer, client):
    redirect = client.get(f"{balancer.http_url}/workbench/?next=%2F")
    assert redirect.status_code == 301
    assert redirect.headers["location"] == f"{balancer.url}/workbench/?next=%2F"
    login = client.post(f"{balancer.url}/api/sdk-login-token", json={"SdkAppId": balancer.demo["SdkAppId"],
                                                                      "SeatUserId": "agent1@demo"},
                        headers={"Authorization": f"Bearer {balancer.demo['apiKey']}"})
    assert login.status_code == 200 and login.json()["SdkURL"] == f"{balancer.url}/sdk/tccc.js"


def test_requests_go_round_robin_over_the_processes(balancer, cluster, client):
    for _ in range(4):
        assert client.get(f"{balancer.url}/api/openapi.yaml").status_code == 200
    taken = upstreams(balancer, "/api/openapi.yaml")[-4:]
    assert set(taken) == {f"127.0.0.1:{server.port}" for server in cluster.servers}
    assert all(first != second for first, second in zip(taken, taken[1:]))


def test_a_body_over_the_limit_is_refused_by_nginx_before_any_process_reads_it(balancer):
    with httpx.Client(verify=balancer.ssl_context, timeout=10) as http:
        response = http.post(f"{balancer.url}/api/sessions", content=b"x" * (11 * 1024 * 1024),
                             headers={"Authorization": f"Bearer {balancer.demo['apiKey']}"})
    assert response.status_code == 413
    # nginx logs the request once the connection has closed (it drains what the client still sends).
    assert wait_until(lambda: upstreams(balancer, "/api/sessions"), bool, 5, "the refusal logged") == ["-"]


def test_the_processes_see_the_clients_address_and_not_a_forged_one(balancer, cluster):
    marks = cluster.log_marks()
    transport = httpx.HTTPTransport(local_address="127.0.0.2", verify=balancer.ssl_context)
    with httpx.Client(transport=transport) as http:
        response = http.get(f"{balancer.url}/api/openapi.yaml?from=elsewhere",
                            headers={"X-Forwarded-For": "203.0.113.7"})
    assert response.status_code == 200
    # daphne's access log names each request's client; it may write the line just after the reply is sent.
    logged = wait_until(
        lambda: "".join(server.log_path.read_text()[mark:] for server, mark in zip(cluster.servers, marks)),
        lambda text: "GET /api/openapi.yaml" in text, 5, "daphne logged the request")
    assert re.search(r'^127\.0\.0\.2:\d+ .*"GET /api/openapi.yaml', logged, re.M), logged
    assert "203.0.113.7" not in logged


@pytest.mark.browser
def test_the_sdk_reconnects_through_nginx_to_the_other_process_after_a_kill_9_and_no_token_is_logged(
        cluster, balancer, agents):
    marks = cluster.log_marks()
    agent = agents.open("agent1@demo")
    ok(agent.call("Agent.setStatus", {"status": "free"}))
    holder = backend_holding(cluster.servers, "/ws/sdk/", marks)
    other = next(server for server in cluster.servers if server is not holder)
    session_id = phone_session(other)  # created on the process the agent is not connected to
    agent.event("callIn", sessionId=session_id)
    ok(agent.call("Call.accept", {"sessionId": session_id}))
    agent.event("userAccessed", sessionId=session_id)
    before = agent.call("Agent.getStatus")

    # A request sent before the SDK notices the drop fails (it may or may not have been acted on): the tab asks
    # once its SDK is connecting again, through nginx.
    marks = cluster.log_marks()
    with agent.page.expect_websocket():
        holder.kill()
    after = agent.call("Agent.getStatus")
    assert after == before and after["status"] == "success"
    assert backend_holding(cluster.servers, "/ws/sdk/", marks) is other and len(agent.sockets) >= 2
    ok(agent.call("Call.hungUp", {"sessionId": session_id}))
    agent.event("sessionEnded", sessionId=session_id)
    assert len(agent.events("ready")) == 1
    holder.launch()

    wss = f"wss://127.0.0.1:{balancer.https_port}"
    assert {socket.url.split("?")[0] for socket in agent.sockets} <= {f"{wss}/ws/sdk/", f"{wss}/ws/workbench/"}
    # The first websocket closed with the killed process: nginx has logged it, by its path alone.
    logs = balancer.access_log() + balancer.error_log()
    assert not re.search(r"token=|resume=|visitorToken=", logs), logs[-3000:]
    assert '"GET /ws/sdk/ HTTP/1.1" 101' in balancer.access_log()


@pytest.mark.browser
def test_an_agent_on_an_https_crm_page_takes_a_web_call_and_a_chat_from_the_shop_through_nginx(
        balancer, agents, browsers, shop):
    agent = agents.open("agent1@demo")
    ok(agent.call("Agent.setStatus", {"status": "free"}))
    context = browsers["customer"].new_context()
    context.set_default_timeout(CALL_TIMEOUT * 1000)
    context.add_init_script(TRACK_PEER_CONNECTIONS)
    customer = context.new_page()
    sockets = []
    customer.on("websocket", lambda socket: sockets.append(socket.url.split("?")[0]))
    try:
        customer.goto(shop)
        customer.wait_for_function("() => window.tcccCall && window.tcccChat")

        started = customer.evaluate("() => tcccCall.startAudio({ nickname: 'Li Wei' })")
        session_id = ok(started)["data"]["sessionId"]
        agent.event("callIn", sessionId=session_id)
        ok(agent.call("Call.accept", {"sessionId": session_id}))
        wait_to_hear(agent, CUSTOMER_HZ, "the agent hears the customer through the media worker")
        wait_to_hear(customer, AGENT_HZ, "the customer hears the agent's microphone")
        ok(agent.call("Call.hungUp", {"sessionId": session_id}))
        customer.wait_for_function("() => window.shopEvents.some((e) => e.widget === 'call' && e.name === 'ended')")

        ok(agent.call("Agent.setStatus", {"status": "free"}))
        chat_id = ok(customer.evaluate("() => tcccChat.start({ nickname: 'Li Wei' })"))["data"]["sessionId"]
        agent.event("callIn", sessionId=chat_id)
        ok(agent.call("Chat.accept", {"sessionId": chat_id}))
        customer.wait_for_function("() => window.shopEvents.some((e) => e.widget === 'chat' && e.name === 'accepted')")
        ok(customer.evaluate("() => tcccChat.end()"))
        agent.event("sessionEnded", sessionId=chat_id)
    finally:
        context.close()
    wss = f"wss://127.0.0.1:{balancer.https_port}"
    assert set(sockets) == {f"{wss}/ws/call/", f"{wss}/ws/visitor/"}
    assert {socket.url.split("?")[0] for socket in agent.sockets} == {f"{wss}/ws/sdk/", f"{wss}/ws/workbench/"}


@pytest.mark.browser
def test_an_agent_signs_in_to_the_workbench_page_through_nginx(balancer, browsers, cluster):
    reset_center(cluster[0])
    tab = sign_in_workbench(browsers["agent"], balancer, "agent2@demo")
    try:
        assert tab.page.url == f"{balancer.url}/workbench/"
        assert tab.sdk("Agent.getStatus")["status"] == "success"
    finally:
        tab.page.context.close()
