"""Every websocket checks the handshake's Host against ALLOWED_HOSTS, as Django does for HTTP: a page on a name
that resolves to this server (DNS rebinding) gets HTTP 403, even with an Origin that matches its Host."""
import socket

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from .conftest import ORIGIN, login_token, socket_headers
from testing.liveserver import LiveServer

pytestmark = pytest.mark.peer

PATHS = ["/ws/sdk/?token=TOKEN&sdkAppId=1400000001&userId=agent1@demo", "/ws/sdk/?resume=RESUME",
         "/ws/visitor/?sdkAppId=1400000001", "/ws/call/?sdkAppId=1400000001", "/ws/workbench/?resume=RESUME"]
PATH_IDS = ["sdk", "sdk-resume", "visitor", "call", "workbench"]


def tokens_for(user_id: str) -> dict:
    from sessions_app.models import Agent
    from sessions_app.services import tokens

    return {"TOKEN": login_token(user_id),
            "RESUME": tokens.issue_resume(Agent.objects.select_related("tenant").get(user_id=user_id))}


async def handshake(path: str, headers) -> bool:
    """Whether the socket was accepted."""
    from workbench.asgi import application

    for name, value in (await database_sync_to_async(tokens_for)("agent1@demo")).items():
        path = path.replace(name, value)
    communicator = WebsocketCommunicator(application, path, headers=headers)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS)
@pytest.mark.parametrize(("host", "origin"), [
    ("evil.com", "http://evil.com"),  # the Origin matches the Host: passed the own-origin check
    ("evil.com", ORIGIN),  # an Origin the tenant allows, on a name we do not answer to
    ("evil.com:80", "http://evil.com:80"),
    ("127.0.0.1.evil.com", ORIGIN),
], ids=["own-origin", "allowed-origin", "with-port", "suffix"])
async def test_a_host_not_in_allowed_hosts_is_refused_at_the_handshake(demo, path, host, origin):
    assert not await handshake(path, socket_headers(origin, host))  # closed before accept: daphne answers 403


@pytest.mark.service
@pytest.mark.parametrize("path", PATHS, ids=PATH_IDS)
async def test_a_handshake_without_a_host_is_refused(demo, path):
    assert not await handshake(path, [(b"origin", ORIGIN.encode())])


@pytest.mark.service
@pytest.mark.parametrize("path", PATHS[:4], ids=PATH_IDS[:4])
@pytest.mark.parametrize("host", ["127.0.0.1:8000", "localhost", "[::1]:8000", "testserver"])
async def test_a_host_in_allowed_hosts_with_or_without_a_port_connects(demo, path, host):
    assert await handshake(path, socket_headers(ORIGIN, host))


@pytest.fixture(scope="module")
def daphne():
    server = LiveServer().start()
    yield server
    server.stop()


def handshake_status(server: LiveServer, path: str, host: str, origin: str) -> int:
    """The HTTP status daphne answers a websocket handshake with (101: accepted), from a hand-written request:
    a client library sets Host from the URL."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        return int(connection.recv(1024).split(b" ")[1])


@pytest.mark.parametrize("path", ["/ws/sdk/?token=x", "/ws/visitor/?sdkAppId=1400000001",
                                  "/ws/call/?sdkAppId=1400000001", "/ws/workbench/"])
def test_daphne_answers_a_handshake_for_another_host_with_403(daphne, path):
    for origin in ("http://evil.com", "http://127.0.0.1:9"):  # its own origin, or one the demo tenant allows
        assert handshake_status(daphne, path, "evil.com", origin) == 403
    assert handshake_status(daphne, path, f"127.0.0.1:{daphne.port}", "http://127.0.0.1:9") == 101
