"""One contact center over two web processes on a real PostgreSQL and Redis, and no loss when a process is
killed with kill -9, when every process restarts at once, or when Redis restarts.

Everything here is real: Debian's postgresql and redis-server on free ports (testing/postgres_server.py,
testing/redis_server.py), two `daphne workbench.asgi:application` processes (testing/cluster.py), agents and web
chat visitors over real websockets, the HTTP API, a real webhook receiver. Rows are counted in PostgreSQL
before and after each crash.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
from websockets.asyncio.client import connect as websockets_connect

from .browser import reset_center
from testing.cluster import Cluster, phone_session
from .webhook_receiver import OK, Receiver
from .ws_clients import open_agent, open_visitor, until

pytestmark = pytest.mark.peer

PROCESS_DEAD_AFTER, OFFLINE_GRACE = 2, 8
TABLES = ("session", "serveparticipant", "chatmessage", "cdr", "sessionevent")


@pytest.fixture(scope="module")
def cluster(postgres, redis):
    started = Cluster(postgres, redis, env={
        "PROCESS_DEAD_AFTER": str(PROCESS_DEAD_AFTER), "OFFLINE_GRACE": str(OFFLINE_GRACE),
        "CDR_RETRY_BASE": "0.3", "CDR_RETRY_MAX": "1", "MEDIA_IN_WORKERS": "0"}).start()
    yield started
    started.stop()


@pytest.fixture
def center(cluster):
    """Both processes up, every agent offline, nothing open, no webhook, no push pending."""
    for server in cluster.servers:
        if server.process.poll() is not None:
            server.launch()
    reset_center(cluster[0])
    cluster.sql("UPDATE sessions_app_tenant SET cdr_webhook_url = ''")
    cluster.sql("UPDATE sessions_app_cdr SET next_attempt_at = NULL")
    marks = cluster.log_marks()
    yield cluster
    cluster.print_logs_since(marks)


def set_phone_group(cluster: Cluster, **columns) -> None:
    assignments = ", ".join(f"{name} = %s" for name in columns)
    cluster.sql(f"UPDATE sessions_app_skillgroup SET {assignments} WHERE kind = 'phone'", *columns.values())


def counts(cluster: Cluster) -> dict[str, int]:
    return {table: cluster.count(table) for table in TABLES}


async def free_agent(server, user_id: str):
    agent = await open_agent(server, user_id)
    assert (await agent.request(method="Agent.setStatus", params={"status": "free"}))["status"] == "success"
    return agent


async def call(agent, method: str, **params) -> dict:
    reply = await agent.request(method=method, params=params)
    assert reply["status"] == "success", reply
    return reply.get("data") or {}


def participants(cluster: Cluster, session_id: str) -> list[tuple[str, str]]:
    return cluster.sql("SELECT a.user_id, p.outcome FROM sessions_app_serveparticipant p JOIN sessions_app_agent a "
                       "ON a.id = p.agent_id WHERE p.session_id = %s ORDER BY p.sequence", session_id)


def overlapping_offers(cluster: Cluster) -> list[tuple]:
    """Pairs of offers that rang one agent at the same time, or one session at two agents at once."""
    return cluster.sql(
        "SELECT p.id, q.id FROM sessions_app_serveparticipant p JOIN sessions_app_serveparticipant q "
        "ON p.id < q.id AND (p.agent_id = q.agent_id OR p.session_id = q.session_id) "
        "JOIN sessions_app_session s ON s.id = p.session_id JOIN sessions_app_session t ON t.id = q.session_id "
        "WHERE s.type <> 'im' AND t.type <> 'im' "
        "AND p.ring_at < coalesce(q.end_at, q.accept_at, now()) AND q.ring_at < coalesce(p.end_at, p.accept_at, now()) "
        "AND p.ring_at > now() - interval '5 minutes'")


def test_an_agent_on_one_process_serves_a_session_created_and_ended_on_the_other(center):
    a, b = center[0], center[1]

    async def scenario():
        first = await free_agent(a, "agent1@demo")
        second = await open_agent(b, "agent2@demo")
        await call(second, "Agent.setStatus", status="rest")
        session_id = phone_session(b)
        assert (await first.event("callIn"))["sessionId"] == session_id
        await call(first, "Call.accept", sessionId=session_id)
        assert (await first.event("userAccessed"))["sessionId"] == session_id
        await call(second, "Agent.setStatus", status="free")
        await call(first, "Call.transfer", sessionId=session_id, userId="agent2@demo")
        assert (await second.event("callIn"))["sessionId"] == session_id
        assert (await first.event("transfer"))["userId"] == "agent2@demo"
        await call(second, "Call.accept", sessionId=session_id)
        a.api("POST", f"/api/sessions/{session_id}/end")
        assert (await second.event("sessionEnded"))["closeBy"] == "client"
        # The agent's state is one, whichever process is asked.
        again = await open_agent(b, "agent1@demo")
        assert await call(again, "Agent.getStatus") == await call(first, "Agent.getStatus")
        for socket in (first, second, again):
            await socket.ws.close()
        return session_id

    session_id = asyncio.run(scenario())
    assert [user for user, _ in participants(center, session_id)] == ["agent1@demo", "agent2@demo"]
    assert center.count("cdr", "session_id = %s", session_id) == 1
    assert overlapping_offers(center) == []


def sign_in_and_out(server, user_id: str) -> float:
    """An agent signs in to the workbench on `server` and logs out, as its browser would (CSRF and all);
    returns when the logout was answered (time.monotonic())."""
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        browser.get("/workbench/login/")
        signed_in = browser.post("/workbench/login/", data={
            "username": user_id, "password": "demo-password", "csrfmiddlewaretoken": browser.cookies["csrftoken"]})
        assert signed_in.status_code == 302, signed_in.text
        signed_out = browser.post("/workbench/logout/", data={"csrfmiddlewaretoken": browser.cookies["csrftoken"]})
        assert signed_out.status_code == 302
        return time.monotonic()


def test_logging_out_on_one_process_closes_the_agents_socket_on_the_other_within_a_second(center):
    a, b = center[0], center[1]

    async def scenario():
        from websockets.exceptions import ConnectionClosed

        sdk = await open_agent(a, "agent1@demo")
        signed_out = await asyncio.to_thread(sign_in_and_out, b, "agent1@demo")
        frames = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frames.append(json.loads(await asyncio.wait_for(sdk.ws.recv(), 1)))
        assert time.monotonic() - signed_out < 1
        assert closed.value.rcvd.code == 4001
        assert frames[-1] == {"type": "tokenExpired", "errorMsg": "the login is no longer valid: the agent signed out"}
        # Its resume token opens no socket on either process.
        for server in (a, b):
            url = server.url.replace("http", "ws") + f"/ws/sdk/?resume={sdk.welcome['resumeToken']}"
            async with websockets_connect(url, origin=server.url) as again:
                assert json.loads(await asyncio.wait_for(again.recv(), 5))["type"] == "tokenExpired"

    asyncio.run(scenario())
    assert center.sql("SELECT status FROM sessions_app_agent WHERE user_id = 'agent1@demo'") == [("offline",)]


def test_every_deadline_fires_once_with_two_processes_sweeping(center):
    a, b = center[0], center[1]
    set_phone_group(center, ring_timeout=1, wrap_up_seconds=1, max_queue_wait=2)

    async def scenario():
        with Receiver((500, {"ErrCode": 1}), (500, {"ErrCode": 1}), OK) as receiver:
            center.sql("UPDATE sessions_app_tenant SET cdr_webhook_url = %s", receiver.url)
            # Ring timeouts: two agents on two processes let two calls ring out, round after round.
            agents = {"agent1@demo": await free_agent(a, "agent1@demo"),
                      "agent2@demo": await free_agent(b, "agent2@demo")}
            rung = [phone_session(a), phone_session(b)]
            await asyncio.sleep(4.5)
            for session_id in rung:
                a.api("POST", f"/api/sessions/{session_id}/end")
            transfers = {user: [] for user in agents}  # events of offers that rang out, read after the last one
            for user, agent in agents.items():
                while True:
                    try:
                        transfers[user].append((await agent.event("autoTransfer", timeout=0.5))["sessionId"])
                    except AssertionError:
                        break
            # Queue waits: nobody free, the calls wait 2 s and give up.
            for agent in agents.values():
                await call(agent, "Agent.setStatus", status="rest")
            waited = [phone_session(a), phone_session(b), phone_session(a)]
            await until(lambda: center.count("session", "id = ANY(%s) AND state = 'ended'", waited) == 3,
                        "the queue waits ran out", timeout=10)
            # Wrap-up: an answered call ends; its agent is in arrange for 1 s, then free.
            await call(agents["agent1@demo"], "Agent.setStatus", status="free")
            answered = phone_session(b)
            await call(agents["agent1@demo"], "Call.accept", sessionId=answered)
            await call(agents["agent1@demo"], "Call.hungUp", sessionId=answered)
            assert (await call(agents["agent1@demo"], "Agent.getStatus"))["status"] == "arrange"
            await until(lambda: center.sql("SELECT status FROM sessions_app_agent WHERE user_id = 'agent1@demo'")
                        == [("free",)], "wrap-up ended", timeout=5)
            # Offline grace: agent2 closes its page and does not come back.
            await agents["agent2@demo"].ws.close()
            await until(lambda: center.sql("SELECT status FROM sessions_app_agent WHERE user_id = 'agent2@demo'")
                        == [("offline",)], "agent2 offline after the grace", timeout=OFFLINE_GRACE + 5)
            # CDR retries: every CDR pushed until the receiver says ErrCode 0.
            ended = rung + waited + [answered]
            await until(lambda: center.count("cdr", "session_id = ANY(%s) AND delivered_at IS NOT NULL", ended)
                        == len(ended), "every CDR delivered", timeout=15)
            await asyncio.sleep(1)  # a second firing of any push would arrive now
            await agents["agent1@demo"].ws.close()
            return transfers, rung, waited, ended, list(receiver.requests)

    transfers, rung, waited, ended, requests = asyncio.run(scenario())
    timeouts = center.sql("SELECT a.user_id, count(*) FROM sessions_app_serveparticipant p JOIN sessions_app_agent a "
                          "ON a.id = p.agent_id WHERE p.session_id = ANY(%s) AND p.outcome = 'timeout' GROUP BY 1",
                          rung)
    assert sum(n for _, n in timeouts) >= 4  # each call rang out at least twice in 4.5 s
    assert dict(timeouts) == {user: len(ids) for user, ids in transfers.items() if ids}  # one autoTransfer each
    assert center.sql("SELECT end_status, count(*) FROM sessions_app_session WHERE id = ANY(%s) GROUP BY 1",
                      waited) == [("waitingGiveUp", 3)]
    assert center.count("sessionevent", "session_id = ANY(%s) AND what LIKE 'ended%%'", waited) == 3
    assert overlapping_offers(center) == []
    delivered = [json.loads(r["body"])["SessionId"] for r in requests[2:]]
    assert sorted(delivered) == sorted(ended)  # after the receiver's two refusals, each CDR arrived once


def test_kill_9_of_a_web_process_loses_no_session_and_its_offers_move_on(center):
    a, b = center[0], center[1]
    set_phone_group(center, ring_timeout=4, wrap_up_seconds=1)

    async def scenario():
        serving = await free_agent(a, "agent1@demo")
        active = phone_session(b)
        assert (await serving.event("callIn"))["sessionId"] == active
        await call(serving, "Call.accept", sessionId=active)
        await call(serving, "Call.hold", sessionId=active)
        ringing = await free_agent(a, "agent2@demo")
        offered = phone_session(b)
        assert (await ringing.event("callIn"))["sessionId"] == offered
        standby = await free_agent(b, "agent3@demo")
        status = await call(serving, "Agent.getStatus")
        before = counts(center)
        a.kill()
        # agent1's page reconnects to the other process within the grace period: its status and call are kept.
        back = await open_agent(b, "agent1@demo")
        assert await call(back, "Agent.getStatus") == status
        # agent2's page does not come back: its offer rings on until its deadline, then moves to agent3, once.
        assert (await standby.event("callIn", timeout=8))["sessionId"] == offered
        assert center.sql("SELECT state, on_hold FROM sessions_app_session WHERE id = %s", active) == [("active", True)]
        after = counts(center)
        await call(back, "Call.unHold", sessionId=active)
        await call(back, "Call.hungUp", sessionId=active)
        await call(standby, "Call.accept", sessionId=offered)
        await call(standby, "Call.hungUp", sessionId=offered)
        await until(lambda: center.sql("SELECT status FROM sessions_app_agent WHERE user_id = 'agent2@demo'")
                    == [("offline",)], "agent2 offline after the grace", timeout=PROCESS_DEAD_AFTER + OFFLINE_GRACE + 5)
        agent1 = center.sql("SELECT status FROM sessions_app_agent WHERE user_id = 'agent1@demo'")
        for socket in (back, standby):
            await socket.ws.close()
        return active, offered, before, after, agent1

    active, offered, before, after, agent1 = asyncio.run(scenario())
    assert {k: after[k] - before[k] for k in ("session", "chatmessage", "cdr")} == {"session": 0, "chatmessage": 0,
                                                                                    "cdr": 0}
    assert after["serveparticipant"] == before["serveparticipant"] + 1  # agent3's offer, nothing else
    assert agent1 != [("offline",)]
    assert participants(center, offered) == [("agent2@demo", "timeout"), ("agent3@demo", "ended")]
    assert participants(center, active) == [("agent1@demo", "ended")]
    assert center.count("cdr", "session_id IN (%s, %s)", active, offered) == 2
    assert overlapping_offers(center) == []


def test_restarting_every_process_at_once_loses_no_session_message_deadline_or_push(center):
    a, b = center[0], center[1]
    set_phone_group(center, max_queue_wait=6)

    async def scenario():
        agent = await free_agent(b, "agent1@demo")
        visitor = await open_visitor(a)
        started = await visitor.request(action="start", nickname="Li")
        chat_id, visitor_token = started["data"]["sessionId"], started["data"]["visitorToken"]
        assert (await agent.event("callIn"))["sessionId"] == chat_id
        await call(agent, "Chat.accept", sessionId=chat_id)
        for text in ("hello", "my order", "is late"):
            assert (await visitor.request(action="send", text=text))["status"] == "success"
        await call(agent, "Agent.setStatus", status="rest")
        waiting = phone_session(a)  # nobody free: it waits, 6 s at most
        unpushed = phone_session(b)
        center.sql("UPDATE sessions_app_tenant SET cdr_webhook_url = 'http://127.0.0.1:9/down'")
        b.api("POST", f"/api/sessions/{unpushed}/end")
        await until(lambda: center.count("cdr", "session_id = %s AND attempts > 0", unpushed) == 1,
                    "a failed push attempt", timeout=5)
        before = counts(center)
        a.kill()
        b.kill()
        a.launch()
        b.launch()
        after_restart = counts(center)
        with Receiver(OK) as receiver:
            center.sql("UPDATE sessions_app_tenant SET cdr_webhook_url = %s", receiver.url)
            visitor = await open_visitor(b, visitor_token)
            agent = await open_agent(a, "agent1@demo")
            status = await call(agent, "Agent.getStatus")
            await until(lambda: center.count("session", "id = %s AND state = 'ended'", waiting) == 1,
                        "the queue wait fired after the restart", timeout=10)
            await until(lambda: any(json.loads(r["body"])["SessionId"] == unpushed for r in receiver.requests),
                        "the pending push delivered after the restart", timeout=10)
            await asyncio.sleep(1)
            pushed = [json.loads(r["body"])["SessionId"] for r in receiver.requests]
        await visitor.ws.close()
        await agent.ws.close()
        return chat_id, visitor.welcome, status, waiting, unpushed, before, after_restart, pushed

    chat_id, welcome, status, waiting, unpushed, before, after_restart, pushed = asyncio.run(scenario())
    assert after_restart == before
    assert welcome["chat"]["sessionId"] == chat_id
    assert [m["text"] for m in welcome["chat"]["messages"] if m["sender"] == "visitor"] == ["hello", "my order",
                                                                                         "is late"]
    assert status["status"] == "rest"
    assert center.sql("SELECT state FROM sessions_app_session WHERE id = %s", chat_id) == [("active",)]
    assert center.sql("SELECT end_status FROM sessions_app_session WHERE id = %s", waiting) == [("waitingGiveUp",)]
    assert center.count("sessionevent", "session_id = %s AND what LIKE 'ended%%'", waiting) == 1
    assert pushed.count(unpushed) == 1 and pushed.count(waiting) == 1


def test_after_redis_restarts_events_flow_again_without_restarting_a_process(center, redis):
    a, b = center[0], center[1]
    set_phone_group(center, wrap_up_seconds=0)

    async def scenario():
        agent = await free_agent(a, "agent1@demo")
        first = phone_session(b)
        assert (await agent.event("callIn"))["sessionId"] == first
        b.api("POST", f"/api/sessions/{first}/end")
        redis.halt()
        during = phone_session(b)  # stored and offered; its callIn is lost with Redis
        redis.start()  # empty: the processes' group memberships are gone with the old one
        assert (await call(agent, "Agent.getStatus"))["status"] == "free"  # the same socket: it never closed
        latest, deadline = during, time.monotonic() + 10
        while True:  # each process re-joins its groups within about a second of Redis coming back
            b.api("POST", f"/api/sessions/{latest}/end")  # frees the agent for the next one
            latest = phone_session(b)
            try:
                # Events sent while the outbox waited on the new Redis may come late, after later ones were
                # asked for: read past them to the latest's (one read a round fell behind for good).
                while (offered := (await agent.event("callIn", timeout=1))["sessionId"]) != latest:
                    pass
                break
            except AssertionError:
                pass
            assert time.monotonic() < deadline, "no callIn within 10 s of Redis coming back"
        a.api("POST", f"/api/sessions/{latest}/end")  # and an end from the other process reaches the agent
        while (ended := await agent.event("sessionEnded"))["sessionId"] != latest:
            pass
        await agent.ws.close()
        return during, latest, offered, ended

    during, latest, offered, ended = asyncio.run(scenario())
    assert offered == latest
    assert ended["closeBy"] == "client"
    assert center.sql("SELECT state FROM sessions_app_session WHERE id = %s", during) == [("ended",)]


def test_a_burst_of_api_requests_does_not_open_a_database_connection_per_request(center):
    """Each process does its database work on one thread, so 60 POSTs at once to one process queue there
    instead of opening 60 PostgreSQL connections (past max_connections PostgreSQL refuses them)."""
    a = center[0]
    group = str(a.demo["skillGroups"]["phone"])
    connections = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    peak, bursting = 0, threading.Event()

    def watch():
        nonlocal peak
        while bursting.is_set():
            peak = max(peak, center.sql(connections)[0][0])

    async def burst():
        async with httpx.AsyncClient(base_url=a.url, timeout=30, trust_env=False,
                                     headers={"Authorization": f"Bearer {a.demo['apiKey']}"}) as client:
            return await asyncio.gather(*(client.post("/api/sessions", json={
                "type": "phone", "skillGroupId": group, "callerPhoneNumber": f"1390009{n:04d}"}) for n in range(60)))

    bursting.set()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        replies = asyncio.run(burst())
    finally:
        bursting.clear()
        watcher.join()
    assert [reply.status_code for reply in replies] == [200] * 60
    # Nobody is online: each ended as noSeatOnline, and each was stored.
    assert center.count("session", "end_status = 'noSeatOnline' AND caller_phone_number LIKE '1390009%%'") == 60
    assert peak <= 8, f"{peak} connections to PostgreSQL during the burst"
