"""Shared fixtures: the demo tenant, and SDK clients over a real Channels websocket (no browser)."""
import asyncio
import json
import os
import tempfile
from contextlib import AsyncExitStack

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.contrib.auth import get_user_model
from django.core.management import call_command

from testing.serving import running

from .tiers import pytest_collection_modifyitems  # noqa: F401 (the hook that gives every test one tier)
from .waits import QUIET, assert_nothing_arrives

os.environ.setdefault("TCCC_SWEEPER", "0")  # tests fire deadlines themselves with sweep_once()
# The demo tenant records its calls: tests' recordings (and uploads) go to a directory of this run, for the
# servers the tests start (environment) and this process (`files_of_this_run`).
FILES = os.environ.setdefault("TCCC_TEST_FILES", tempfile.mkdtemp(prefix="tccc-test-files-"))
os.environ.setdefault("MEDIA_ROOT", os.path.join(FILES, "uploads"))
os.environ.setdefault("RECORDING_SPOOL_DIR", os.path.join(FILES, "recording-spool"))

ORIGIN = "http://127.0.0.1:5173"
HOST = "testserver"  # pytest-django adds it to ALLOWED_HOSTS


def socket_headers(origin: str, host: str = HOST) -> list[tuple[bytes, bytes]]:
    """A browser's handshake headers: the page's Origin, and the Host it reached the server at."""
    return [(b"origin", origin.encode()), (b"host", host.encode())]


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the whole run (testing/postgres_server.py); tests create their databases."""
    from testing.postgres_server import PostgresServer, postgres_bin

    if postgres_bin() is None:
        pytest.skip("PostgreSQL is not installed (Debian postgresql; scripts/test.sh installs it)")
    with running(PostgresServer()) as server:
        yield server


@pytest.fixture(scope="module")
def redis():
    """A real Redis for one test module (testing/redis_server.py); a module may restart it."""
    from testing.redis_server import RedisServer

    with running(RedisServer()) as server:
        yield server


@pytest.fixture(autouse=True)
def files_of_this_run(settings):
    settings.MEDIA_ROOT = os.environ["MEDIA_ROOT"]
    settings.RECORDING_SPOOL_DIR = os.environ["RECORDING_SPOOL_DIR"]


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def wallboard_days_counted_afresh():
    """Each test's database is new, but this process's kept sums of today (services/queue_day.py) are not: a
    rolled-back test's tenant and group ids come back in the next test."""
    from sessions_app.services import queue_day

    queue_day.forget()


@pytest.fixture(params=[True, False], ids=["forwarding", "decoding"])
async def engine(request):
    """A media engine on this test's loop, bound to loopback, closed after the test: every test using it runs
    on both paths, forwarding what a leg only relays (the default) and decoding everything (MEDIA_FORWARDING=0)."""
    from sessions_app.media.engine import MediaEngine

    engine = MediaEngine(["127.0.0.1"], forwarding=request.param)
    yield engine
    await engine.close()


@pytest.fixture
def demo(transactional_db):
    from io import StringIO

    out = StringIO()
    call_command("seed_demo", stdout=out)
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture
def tenant(db):
    """The demo tenant, seeded inside the test's transaction (for tests that need no commit)."""
    from io import StringIO

    from sessions_app.models import Tenant

    call_command("seed_demo", stdout=StringIO())
    return Tenant.objects.get()


@pytest.fixture
def supervisor(client, tenant):
    """A test client signed in to admin as the demo's superuser."""
    client.force_login(get_user_model().objects.get(username="admin"))
    return client


@pytest.fixture(autouse=True)
async def fresh_channel_layer():
    yield
    await get_channel_layer().flush()


def login_token(user_id: str, ttl: int | None = None) -> str:
    from sessions_app.models import Agent
    from sessions_app.services import tokens

    return tokens.issue(Agent.objects.select_related("tenant").get(user_id=user_id), ttl)[0]


class SdkClient:
    """One SDK connection as the browser makes it: sends requests, collects replies and events."""

    def __init__(self, communicator: WebsocketCommunicator):
        self.communicator = communicator
        self.events: list[dict] = []
        self.next_id = 0
        self.welcome: dict | None = None

    @classmethod
    async def connect(cls, user_id: str, origin: str = ORIGIN, token: str | None = None, query: str | None = None,
                      host: str = HOST):
        from workbench.asgi import application

        if query is None:
            token = token or await database_sync_to_async(login_token)(user_id)
            query = f"token={token}&sdkAppId=1400000001&userId={user_id}"
        communicator = WebsocketCommunicator(application, f"/ws/sdk/?{query}", headers=socket_headers(origin, host))
        connected, _ = await communicator.connect()
        client = cls(communicator)
        if connected:
            client.welcome = await client.frame()
        return client

    async def frame(self, timeout: float = 3) -> dict:
        """The next frame the server sent. A timeout here leaves the connection open (unlike receive_from)."""
        if self.communicator.future.done():
            self.communicator.future.result()
        message = await asyncio.wait_for(self.communicator.output_queue.get(), timeout)
        if message["type"] == "websocket.close":
            raise ConnectionError(f"the server closed the connection ({message.get('code')})")
        return json.loads(message["text"])

    async def call(self, method: str, **params) -> dict:
        self.next_id += 1
        await self.communicator.send_to(text_data=json.dumps({"id": self.next_id, "method": method, "params": params}))
        return await self.reply(self.next_id)

    async def reply(self, request_id, timeout: float = 3) -> dict:
        while True:
            frame = await self.frame(timeout)
            if frame.get("type") == "reply" and frame.get("id") == request_id:
                return frame
            self.events.append(frame)

    async def event(self, name: str, timeout: float = 3) -> dict:
        """The next event of that name (earlier frames of other names are kept for later)."""
        for frame in self.events:
            if frame.get("event") == name:
                self.events.remove(frame)
                return frame["data"]
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            frame = await self.frame(max(0.01, deadline - asyncio.get_running_loop().time()))
            if frame.get("event") == name:
                return frame["data"]
            self.events.append(frame)

    async def no_event(self, name: str, wait: float = QUIET) -> bool:
        """Whether no `name` event comes within `wait` seconds (for `assert await client.no_event(...)`)."""
        try:
            await assert_nothing_arrives(lambda: self.event(name, timeout=wait + 1), within=wait, what=name)
        except AssertionError:
            return False
        return True

    async def close(self):
        await self.communicator.disconnect()


@pytest.fixture
async def closed_after_test():
    """`closed_after_test(connection)` hands the connection back and closes it (`await .close()`) after the test,
    newest first, each even when closing another failed: what every factory of test connections shares."""
    async with AsyncExitStack() as stack:
        def register(connection):
            stack.push_async_callback(connection.close)
            return connection

        yield register


@pytest.fixture
async def sdk(demo, closed_after_test):
    """Factory of connected SDK clients; all are closed at the end of the test."""
    async def connect(user_id="agent1@demo", **kwargs):
        return closed_after_test(await SdkClient.connect(user_id, **kwargs))

    return connect


async def api_session(demo, session_type="phone", **fields) -> str:
    """Create an inbound session through the service the HTTP API uses."""
    from sessions_app.models import Tenant
    from sessions_app.services import sessions

    def create():
        tenant = Tenant.objects.get(sdk_app_id=demo["SdkAppId"])
        return sessions.create_inbound(tenant, session_type, str(demo["skillGroups"][session_type]), fields)

    return await database_sync_to_async(create)()


async def sweep():
    from sessions_app.services.deadlines import sweep_once

    return await database_sync_to_async(sweep_once)()
