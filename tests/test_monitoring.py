"""Supervisors monitoring calls (services/monitoring.py): what each mode puts in the call's media plan, the take-over
(the agent's part ends with `sessionEnded`, the supervisor's leg serves), every refusal's words with nothing left
half done, the audit entries, the permission and the tenant's "agents see when they are monitored" setting.
Media is not started here: the plan the engine would get is read with `media.plan_for` (tests/test_media_mixing.py
and tests/test_monitoring_browser.py hear it)."""
import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from sessions_app.models import (Agent, AuditEntry, Monitoring, ServeParticipant, Session, SkillGroup, Supervisor,
                                 Tenant)
from sessions_app.services import media, monitoring, supervision, workbench
from sessions_app.services.errors import NotFound, ServiceError
from sessions_app.services.events import agent_group, pages_group

from . import factories
from .races import at_once

pytestmark = pytest.mark.service


def admin_id() -> int:
    return get_user_model().objects.get(username="admin").pk


def active_call(kind: str = "voip", user_id: str = "agent1@demo", state: str = "active", tenant=None) -> Session:
    """A call in progress with the agent, as accepting leaves it."""
    agent = Agent.objects.get(user_id=user_id) if tenant is None else factories.agent(tenant)
    group = SkillGroup.objects.filter(tenant=agent.tenant, kind=kind).first() or factories.skill_group(agent.tenant,
                                                                                                        kind)
    now = timezone.now()
    agent.status = "free"  # on a call, an agent's status stays free (routing counts the call)
    agent.save(update_fields=["status"])
    session = Session.objects.create(tenant=agent.tenant, type=kind, state=state, skill_group=group,
                                     agent=agent if state in ("ringing", "active") else None, ring_at=now,
                                     accepted_at=now if state == "active" else None, nickname="Li Wei")
    ServeParticipant.objects.create(session=session, agent=agent, skill_group=group, sequence=1, ring_at=now,
                                    accept_at=now if state == "active" else None,
                                    outcome="accepted" if state == "active" else "ringing")
    return session


def plan(session_id: str) -> dict:
    return media.plan_for(Session.objects.get(pk=session_id))


def trail() -> list[tuple]:
    return list(AuditEntry.objects.order_by("pk").values_list("supervisor_name", "action", "outcome", "message"))


def staff_of(tenant: Tenant, username: str, *, role: str | None = "Supervisor"):
    user = get_user_model().objects.create_user(username, password="x", is_staff=True)
    Supervisor.objects.create(account=user, tenant=tenant)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def sent(monkeypatch):
    """What the services send to agents' groups after commit (`events.group_send`), as (group, message): read
    here rather than through a channel layer, the same on the in-memory one and on Redis."""
    from sessions_app.services import events

    heard = []
    monkeypatch.setattr(events, "group_send", lambda group, message: heard.append((group, message)))
    return heard


def frames_to(sent: list, group: str) -> list[dict]:
    return [message for to, message in sent if to == group]


def test_each_mode_names_the_supervisors_leg_in_the_plan_and_stop_takes_it_out(demo):
    session = active_call()
    me = admin_id()
    leg = f"supervisor:{me}"
    view = monitoring.start(supervisor_id=me, session_id=session.pk, mode="listen")
    assert (view["mode"], view["customer"], view["state"], view["monitors"]) == (
        "listen", "Li Wei", "active", [{"supervisor": "admin", "mode": "listen"}])
    assert view["agent"] in (session.agent.nickname, "agent1@demo")
    assert plan(session.pk)["monitors"] == {leg: "listen"}
    assert plan(session.pk)["b"] == media.agent_leg(session.agent_id)
    for mode in ("whisper", "barge", "listen"):
        assert monitoring.change_mode(supervisor_id=me, session_id=session.pk, mode=mode)["mode"] == mode
        assert plan(session.pk)["monitors"] == {leg: mode}
    rows = list(Monitoring.objects.values_list("leg", "mode", "ended_at"))
    assert [(leg_id, mode) for leg_id, mode, _ in rows] == [(leg, "listen")] and rows[0][2] is None
    monitoring.stop(supervisor_id=me, session_id=session.pk)
    assert "monitors" not in plan(session.pk)
    assert Monitoring.objects.get().ended_at is not None
    assert trail() == [("admin", "monitor_call", "done", ""), ("admin", "monitoring_mode", "done", ""),
                       ("admin", "monitoring_mode", "done", ""), ("admin", "monitoring_mode", "done", ""),
                       ("admin", "stop_monitoring", "done", "")]
    details = list(AuditEntry.objects.order_by("pk").values_list("details", flat=True))
    assert [d.get("mode") for d in details] == ["listen", "whisper", "barge", "listen", "listen"]
    assert details[1]["from"] == "listen"
    assert AuditEntry.objects.filter(target_id=session.pk, tenant=session.tenant).count() == 5


def test_taking_over_makes_the_supervisors_leg_serve_and_the_agent_hears_session_ended(demo, sent):
    session = active_call()
    agent = session.agent
    me = admin_id()
    monitoring.start(supervisor_id=me, session_id=session.pk, mode="listen")
    view = monitoring.take_over(supervisor_id=me, session_id=session.pk)
    assert (view["mode"], view["takenOverBy"], view["state"]) == ("takeover", "admin", "active")
    now = plan(session.pk)
    assert (now["a"], now["b"], now.get("monitors")) == ("customer", f"supervisor:{me}", None)
    ended = [m["frame"] for m in frames_to(sent, agent_group(agent.pk)) if m["frame"].get("event") == "sessionEnded"]
    assert len(ended) == 1
    assert ended[0]["data"]["sessionId"] == session.pk
    assert (ended[0]["data"]["type"], ended[0]["data"]["closeBy"]) == ("voip", "admin")
    assert isinstance(ended[0]["data"]["duration"], float)
    session.refresh_from_db()
    agent.refresh_from_db()
    assert (session.state, session.agent_id, session.taken_over_by_id) == ("active", None, me)
    assert agent.status == "arrange"  # after-call work, as after any call
    assert ServeParticipant.objects.get(session=session, agent=agent).outcome == "transferred"
    assert trail()[-1] == ("admin", "take_over_call", "done", "")
    assert AuditEntry.objects.latest("pk").details["fromAgent"] == "agent1@demo"
    # Served by the supervisor now: no mode change, no stop (they hang up), and ending it closes their row.
    with pytest.raises(ServiceError, match="you serve call"):
        monitoring.change_mode(supervisor_id=me, session_id=session.pk, mode="listen")
    with pytest.raises(ServiceError, match="you serve call"):
        monitoring.stop(supervisor_id=me, session_id=session.pk)
    supervision.end_session(supervisor_id=me, session_id=session.pk)
    assert Monitoring.objects.get().ended_at is not None
    assert Session.objects.get(pk=session.pk).state == "ended"


def test_an_agent_supervisor_who_takes_over_gets_the_call_in_their_workbench(demo, sent):
    session = active_call()
    tenant = session.tenant
    lead = staff_of(tenant, "lead@demo")
    own = Agent.objects.create(tenant=tenant, account=lead, user_id="lead@demo", status="free")
    monitoring.start(supervisor_id=lead.pk, session_id=session.pk, mode="whisper")
    monitoring.take_over(supervisor_id=lead.pk, session_id=session.pk)
    session.refresh_from_db()
    assert (session.agent_id, session.taken_over_by_id) == (own.pk, lead.pk)
    assert plan(session.pk)["b"] == f"supervisor:{lead.pk}"  # the leg they already have carries it
    assert [m["frame"]["event"] for m in frames_to(sent, agent_group(own.pk))] == ["userAccessed"]
    cards = workbench.session_cards(own.pk, workbench.open_sessions(own.pk))
    assert [(card["id"], card["phase"]) for card in cards] == [(session.pk, "serving")]


def test_each_unhappy_path_is_refused_in_words_audited_and_leaves_nothing_behind(demo):
    call = active_call()
    me = staff_of(call.tenant, "lead@demo").pk  # a tenant's supervisor (the superuser sees every tenant)
    ended = active_call(user_id="agent2@demo")
    Session.objects.filter(pk=ended.pk).update(state="ended", ended_at=timezone.now())
    chat = active_call(kind="im", user_id="agent3@demo") if Agent.objects.filter(user_id="agent3@demo").exists() \
        else active_call(kind="im", tenant=factories.tenant())
    Session.objects.filter(pk=chat.pk).update(tenant=call.tenant)
    queued = active_call(kind="phone", state="queued")
    elsewhere = active_call(tenant=factories.tenant(name="Elsewhere"))
    refusals = [
        (monitoring.start, {"session_id": ended.pk, "mode": "listen"}, ServiceError, "has ended"),
        (monitoring.start, {"session_id": chat.pk, "mode": "listen"}, ServiceError, "is a web chat, not a call"),
        (monitoring.start, {"session_id": elsewhere.pk, "mode": "listen"}, NotFound, f"no session {elsewhere.pk!r}"),
        (monitoring.start, {"session_id": queued.pk, "mode": "listen"}, ServiceError,
         "it is monitored once an agent serves it"),
        (monitoring.start, {"session_id": "no-such-call", "mode": "listen"}, NotFound, "no session 'no-such-call'"),
        (monitoring.start, {"session_id": ["crafted"], "mode": "listen"}, NotFound, "no session"),
        (monitoring.start, {"session_id": call.pk, "mode": "shout"}, ServiceError,
         "'shout' is no monitoring mode (listen, whisper or barge)"),
        (monitoring.start, {"session_id": call.pk, "mode": "takeover"}, ServiceError, "is no monitoring mode"),
        (monitoring.stop, {"session_id": call.pk}, ServiceError, "you are not monitoring call"),
        (monitoring.change_mode, {"session_id": call.pk, "mode": "barge"}, ServiceError, "you are not monitoring"),
        (monitoring.take_over, {"session_id": call.pk}, ServiceError, "you are not monitoring"),
    ]
    for function, fields, kind, words in refusals:
        with pytest.raises(kind, match=re.escape(words)):
            function(supervisor_id=me, **fields)
    assert [(action, outcome) for _, action, outcome, _ in trail()] == [
        *[("monitor_call", "refused")] * 8, ("stop_monitoring", "refused"), ("monitoring_mode", "refused"),
        ("take_over_call", "refused")]
    assert not Monitoring.objects.exists()
    assert all("monitors" not in plan(s.pk) for s in (call, queued))
    assert AuditEntry.objects.filter(target_id=elsewhere.pk).get().tenant_id == call.tenant_id  # their own tenant


def test_one_supervisor_barges_at_a_time_and_the_second_is_refused_without_a_change(demo):
    call = active_call()
    me, other = admin_id(), staff_of(call.tenant, "lead@demo").pk
    monitoring.start(supervisor_id=me, session_id=call.pk, mode="barge")
    with pytest.raises(ServiceError, match="admin is already barging into call .*: one supervisor barges at a time"):
        monitoring.start(supervisor_id=other, session_id=call.pk, mode="barge")
    monitoring.start(supervisor_id=other, session_id=call.pk, mode="listen")  # listening beside is fine
    with pytest.raises(ServiceError, match="one supervisor barges at a time"):
        monitoring.change_mode(supervisor_id=other, session_id=call.pk, mode="barge")
    with pytest.raises(ServiceError, match="already barging"):
        monitoring.take_over(supervisor_id=other, session_id=call.pk)
    with pytest.raises(ServiceError, match="you are already monitoring call"):
        monitoring.start(supervisor_id=me, session_id=call.pk, mode="listen")
    assert plan(call.pk)["monitors"] == {f"supervisor:{me}": "barge", f"supervisor:{other}": "listen"}
    assert Session.objects.get(pk=call.pk).taken_over_by_id is None
    monitoring.stop(supervisor_id=me, session_id=call.pk)
    monitoring.change_mode(supervisor_id=other, session_id=call.pk, mode="barge")  # now the only one
    assert plan(call.pk)["monitors"] == {f"supervisor:{other}": "barge"}


def test_monitoring_needs_the_permission_that_the_supervisor_role_gives(demo):
    call = active_call()
    tenant = call.tenant
    nobody = staff_of(tenant, "clerk@demo", role=None)
    with pytest.raises(monitoring.NotAllowed, match="clerk@demo may not monitor calls"):
        monitoring.start(supervisor_id=nobody.pk, session_id=call.pk, mode="listen")
    assert trail() == [("clerk@demo", "monitor_call", "refused",
                        "clerk@demo may not monitor calls: an administrator can give the account the Supervisor role")]
    assert not Monitoring.objects.exists()
    for role in ("Supervisor", "Administrator"):
        assert Group.objects.get(name=role).permissions.filter(codename="monitor_calls").exists()
        assert Group.objects.get(name=role).permissions.filter(codename="view_monitoring").exists()
    lead = staff_of(tenant, "lead@demo")
    assert monitoring.start(supervisor_id=lead.pk, session_id=call.pk, mode="listen")["mode"] == "listen"
    # The page: 404 without the permission or for another tenant's call; the buttons only for those allowed.
    page = f"/admin/calls/{call.pk}/monitor/"
    clerk, supervisor = Client(), Client()
    clerk.force_login(nobody)
    supervisor.force_login(lead)
    assert clerk.get(page).status_code == 404
    assert supervisor.get(page).status_code == 200
    elsewhere = active_call(tenant=factories.tenant(name="Elsewhere"))
    assert supervisor.get(f"/admin/calls/{elsewhere.pk}/monitor/").status_code == 404
    menu = supervisor.get(f"/admin/wallboard/session/{call.pk}/menu/").content.decode()
    for label in ("Listen", "Whisper", "Barge", "Take over", "Stop"):
        assert f">{label}</" in menu, label
    admin_page = supervisor.get(f"/admin/sessions_app/session/{call.pk}/change/").content.decode()
    assert all(f">{label}</" in admin_page for label in ("Listen", "Whisper", "Barge", "Take over", "Stop"))
    assert supervisor.post(f"/admin/wallboard/session/{call.pk}/stop_monitoring/").json() == {
        "ok": True, "message": "You stopped monitoring the call."}
    assert ">Stop</" not in supervisor.get(f"/admin/wallboard/session/{call.pk}/menu/").content.decode()
    history = supervisor.get(f"/admin/sessions_app/session/{call.pk}/change/").content.decode()
    assert "Monitored by" in history and "lead@demo" in history  # the session's page lists who monitored it


def test_agents_see_being_monitored_only_when_their_tenant_shows_it_and_hear_each_change(demo, sent):
    call = active_call()
    agent_id = call.agent_id
    me = admin_id()

    def flags() -> list[str]:
        cards = workbench.session_cards(agent_id, workbench.open_sessions(agent_id))
        return [flag for card in cards if card["id"] == call.pk for flag in card["flags"]]

    assert Tenant.objects.get(pk=call.tenant_id).show_monitoring is False  # off by default
    monitoring.start(supervisor_id=me, session_id=call.pk, mode="listen")
    assert "Being monitored" not in flags()
    assert [m["type"] for m in frames_to(sent, pages_group(agent_id))] == ["agent.changed"]
    Tenant.objects.filter(pk=call.tenant_id).update(show_monitoring=True)
    assert "Being monitored" in flags()
    monitoring.stop(supervisor_id=me, session_id=call.pk)
    assert [m["type"] for m in frames_to(sent, pages_group(agent_id))] == ["agent.changed"] * 2
    assert "Being monitored" not in flags()


def test_a_call_that_ends_closes_its_monitoring(demo):
    call = active_call()
    me = admin_id()
    monitoring.start(supervisor_id=me, session_id=call.pk, mode="whisper")
    supervision.end_session(supervisor_id=me, session_id=call.pk)
    assert Monitoring.objects.get().ended_at is not None
    with pytest.raises(ServiceError, match="has ended"):
        monitoring.change_mode(supervisor_id=me, session_id=call.pk, mode="listen")


# The monitor page's socket (consumers/call_monitor.py).

class MonitorSocket:
    """The call monitor page's socket, signed in as `user` (None: anonymous)."""

    def __init__(self, communicator):
        self.communicator = communicator

    @classmethod
    async def open(cls, session_id: str, user=None) -> "MonitorSocket":
        from channels.testing import WebsocketCommunicator

        from workbench.asgi import application

        headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
        if user is not None:
            def cookie():
                client = Client()
                client.force_login(user)
                return client.cookies["sessionid"].value
            headers.append((b"cookie", f"sessionid={await database_sync_to_async(cookie)()}".encode()))
        socket = cls(WebsocketCommunicator(application, f"/ws/supervise/call/?sessionId={session_id}",
                                           headers=headers))
        await socket.communicator.connect()
        return socket

    async def frame(self) -> dict:
        message = await asyncio.wait_for(self.communicator.output_queue.get(), 3)
        if message["type"] == "websocket.close":
            return {"closed": message.get("code")}
        return json.loads(message["text"])

    async def ask(self, **frame) -> dict:
        await self.communicator.send_to(text_data=json.dumps(frame))
        while True:
            answer = await self.frame()
            if "reply" in answer or "closed" in answer:
                return answer


def _socket_case() -> dict:
    call = active_call()
    return {"call": call.pk, "lead": staff_of(call.tenant, "lead@demo"),
            "clerk": staff_of(call.tenant, "clerk@demo", role=None),
            "chat": active_call(kind="im", tenant=call.tenant).pk}


async def test_the_monitor_socket_refuses_who_may_not_and_stops_monitoring_when_the_page_goes(demo):
    case = await database_sync_to_async(_socket_case)()
    for session_id, user in ((case["call"], None), (case["call"], case["clerk"]), (case["chat"], case["lead"])):
        socket = await MonitorSocket.open(session_id, user)
        refused = await socket.frame()
        assert refused["event"] == "refused" and "monitor" in refused["data"]["message"]
        assert await socket.frame() == {"closed": 4003}

    socket = await MonitorSocket.open(case["call"], case["lead"])
    assert (await socket.frame())["event"] == "welcome"
    shown = await socket.frame()
    assert (shown["event"], shown["data"]["state"], shown["data"]["mode"]) == ("call", "active", "")
    assert await socket.ask(id=1, action="mode", mode="barge") == {
        "reply": 1, "ok": False, "message": f"you are not monitoring call {case['call'][:8]}"}
    assert await socket.ask(id=2, action="start", mode="listen", sdp="not an offer") == {
        "reply": 2, "ok": False, "message": "sdp must be the page's WebRTC offer (an SDP text starting with v=0)"}
    assert (await socket.ask(id=3, action="shout"))["message"] == "unknown action 'shout'"
    # Monitoring (started as the page would, leg aside), then the page goes: the monitoring stops with it.
    await database_sync_to_async(monitoring.start)(supervisor_id=case["lead"].pk, session_id=case["call"],
                                                   mode="listen")
    assert (await socket.frame())["data"]["mode"] == "listen"  # the change reaches the page
    await socket.communicator.disconnect()
    assert await database_sync_to_async(
        lambda: list(Monitoring.objects.values_list("ended_at", flat=True)))() != [None]
    assert (await database_sync_to_async(trail)())[-1] == ("lead@demo", "stop_monitoring", "done", "")


def test_two_supervisors_barging_at_once_barge_once(demo):
    call = active_call()
    leads = [staff_of(call.tenant, name).pk for name in ("lead-a@demo", "lead-b@demo")]
    results = at_once(*(lambda lead=lead: monitoring.start(supervisor_id=lead, session_id=call.pk, mode="barge")
                        for lead in leads))
    refused = [result for result in results if isinstance(result, Exception)]
    assert len(refused) == 1 and "one supervisor barges at a time" in str(refused[0]), results
    assert list(plan(call.pk)["monitors"].values()) == ["barge"]
    assert sorted(AuditEntry.objects.values_list("outcome", flat=True)) == ["done", "refused"]


def test_a_reloaded_monitor_page_keeps_the_monitoring_and_the_old_pages_closing_changes_nothing(demo):
    call = active_call()
    lead = staff_of(call.tenant, "lead@demo").pk
    monitoring.start(supervisor_id=lead, session_id=call.pk, mode="listen", page="page-1")
    with pytest.raises(ServiceError, match="you are already monitoring call"):
        monitoring.start(supervisor_id=lead, session_id=call.pk, mode="barge", page="page-1")

    # The page reloads: the new one starts (in the mode its address says) before the old one's socket is gone.
    monitoring.start(supervisor_id=lead, session_id=call.pk, mode="whisper", page="page-2")
    row = Monitoring.objects.get()
    assert (row.page, row.mode, row.ended_at) == ("page-2", "whisper", None)
    assert monitoring.page_closed(supervisor_id=lead, session_id=call.pk, page="page-1") is False
    assert list(plan(call.pk)["monitors"].values()) == ["whisper"]

    assert monitoring.page_closed(supervisor_id=lead, session_id=call.pk, page="page-2") is True
    assert Monitoring.objects.get().ended_at is not None and "monitors" not in plan(call.pk)
    assert [action for _, action, _, _ in trail()] == ["monitor_call", "monitor_call", "monitor_call",
                                                       "stop_monitoring"]


def test_a_supervisor_who_took_the_call_over_keeps_it_through_a_reload(demo):
    call = active_call()
    lead = staff_of(call.tenant, "lead@demo").pk
    monitoring.start(supervisor_id=lead, session_id=call.pk, mode="barge", page="page-1")
    monitoring.take_over(supervisor_id=lead, session_id=call.pk)
    monitoring.start(supervisor_id=lead, session_id=call.pk, mode="listen", page="page-2")
    assert Monitoring.objects.get().mode == "takeover" and plan(call.pk)["b"] == media.supervisor_leg(lead)
    assert monitoring.page_closed(supervisor_id=lead, session_id=call.pk, page="page-1") is False
    assert Session.objects.get(pk=call.pk).state == "active"
    assert monitoring.page_closed(supervisor_id=lead, session_id=call.pk, page="page-2") is True
    assert Session.objects.get(pk=call.pk).state == "ended"  # the page serving the call closed: it hangs up
