"""Consulting a phone number (services/consult.py), service tier: the number is dialled as the consult's own call
through the trunk (a fake media backend records the dial), the SIP gateway's reports (answered, failed, hung up)
end only the consult, a completed transfer leaves the number serving the call, and every refusal says why and
changes nothing. The real SIP call is tests/test_consult_number_sipp.py's."""
import pytest
from channels.db import database_sync_to_async

from sessions_app.models import Consult, Session, Tenant, Trunk
from sessions_app.services import consult, media, telephony
from sessions_app.services.errors import ServiceError

from .conftest import api_session
from .test_consult import act, last_consult, participants, plan, refused, row
from .test_media_backend import FakeMedia

pytestmark = pytest.mark.service

NUMBER = "13800138000"
LEG = "phone:consult"


class DialRecorder(FakeMedia):
    """Records each media command, a dial with its arguments."""

    def dial(self, call_id, **call):
        self.commands.append(("dial", call_id, call))


recorder = DialRecorder()


def recording_backend(start=True):
    return recorder


@pytest.fixture
def media_calls(settings):
    """A gateway said to run (no trunk yet: `serving` adds one); the media commands services send."""
    settings.MEDIA_BACKEND = "tests.test_consult_number.recording_backend"
    settings.MEDIA_IN_WORKERS = False
    settings.SIP_PORT = 5999
    settings.SIP_TRUNK = {"host": ""}
    recorder.commands = []
    return recorder.commands


@database_sync_to_async
def add_trunk():
    Trunk.objects.create(tenant=Tenant.objects.get(sdk_app_id="1400000001"), name="carrier", host="127.0.0.1",
                         port=5070)


@database_sync_to_async
def limit_calls_per_number(per_5_minutes: int):
    Tenant.objects.filter(sdk_app_id="1400000001").update(outbound_per_5_minutes=per_5_minutes, outbound_per_day=100)


async def serving(sdk, demo, session_type="voip", **fields):
    """agent1 serves a call (a trunk configured): their SDK client and the session."""
    await add_trunk()
    await limit_calls_per_number(100)  # the tests call one number often
    agent = await sdk("agent1@demo")
    session_id = await api_session(demo, session_type, **fields)
    assert (await agent.event("callIn"))["sessionId"] == session_id
    assert (await agent.call("Call.accept", sessionId=session_id))["status"] == "success"
    await agent.event("userAccessed")
    return agent, session_id


def dials(commands) -> list[tuple[str, dict]]:
    return [(command[1], command[2]) for command in commands if command[0] == "dial"]


def report(function, *args):
    return database_sync_to_async(function)(*args)


async def test_a_number_is_dialled_as_the_consults_own_call_then_handed_the_customer(sdk, demo, media_calls):
    agent, session_id = await serving(sdk, demo)
    started = await act(consult.start, "agent1@demo", session_id, phone_number="138-0013-8000")
    item = await last_consult(session_id)
    assert started == {"consultId": item.pk, "userId": "", "phoneNumber": "138-0013-8000"}
    assert (item.phone_number, item.agent_id, item.stage) == (NUMBER, None, "ringing")
    [(call_id, call)] = dials(media_calls)
    assert (call_id, call["number"], call["consult_id"], call["ring_seconds"], call["trunk_port"]) == (
        session_id, NUMBER, item.pk, consult.RING_TIMEOUT, 5070)
    assert call["caller"] == "008675586013388"  # the agent's default outbound number (their phone group's)
    ringing = await plan(session_id)
    assert (ringing["a"], ringing["consult"], ringing["ringing"], ringing["conference"]) == (
        "customer", LEG, "", False)  # the agent hears the number's ringback; the customer hears music

    await report(consult.phone_answered, session_id, item.pk)
    assert (await last_consult(session_id)).stage == "talking"
    await act(consult.complete, "agent1@demo", session_id)
    assert await agent.event("transfer") == {"sessionId": session_id, "skillGroupId": "", "userId": ""}
    session = await row(session_id)
    assert (session.state, session.agent_id, session.on_hold) == ("active", None, False)
    handed = await plan(session_id)
    assert (handed["a"], handed["b"], "consult" in handed) == ("customer", LEG, False)
    assert await participants(session_id) == [("agent1@demo", "transferred", "", NUMBER)]
    assert (await agent.call("Agent.getStatus"))["data"]["status"] == "arrange"

    await report(telephony.consult_call_ended, session_id, item.pk, "remote")  # the number hangs up: the call is over
    cdr = await database_sync_to_async(lambda: Session.objects.get(pk=session_id).cdr.payload)()
    assert (cdr["EndStatusString"], cdr["HungUpSide"], cdr["SeatUser"]) == ("ok", "seat", "agent1@demo")
    assert [(p["SeatUser"], p["Outcome"], p["TransferTo"]) for p in cdr["ServeParticipants"]] == [
        ("agent1@demo", "transferred", NUMBER)]


async def test_busy_declined_unanswered_or_unreachable_end_only_the_consult(sdk, demo, media_calls):
    agent, session_id = await serving(sdk, demo)
    for end_status, outcome in (("busy", "busy"), ("userReject", "declined"), ("notAnswer", "timeout"),
                                ("unconnected", "unreachable")):
        await act(consult.start, "agent1@demo", session_id, phone_number=NUMBER)
        item = await last_consult(session_id)
        await report(consult.phone_failed, session_id, item.pk, end_status)
        ended = await last_consult(session_id)
        assert ended.outcome == outcome and ended.ended_at is not None
        session = await row(session_id)
        assert (session.state, session.on_hold, session.agent.user_id) == ("active", True, "agent1@demo")
        assert "consult" not in await plan(session_id)
        assert consult.ending(ended)["outcome"] == outcome  # the workbench says so
        await report(consult.phone_failed, session_id, item.pk, "busy")  # a late report changes nothing
    assert len(dials(media_calls)) == 4
    # A report for a consult that ended does not end the next one.
    await act(consult.start, "agent1@demo", session_id, phone_number=NUMBER)
    await report(telephony.consult_call_ended, session_id, item.pk, "remote")
    assert (await last_consult(session_id)).ended_at is None


async def test_the_number_hanging_up_or_a_cancel_ends_only_the_consult(sdk, demo, media_calls):
    agent, session_id = await serving(sdk, demo, "phone", callerPhoneNumber="0086075512345678")
    await act(consult.start, "agent1@demo", session_id, phone_number=NUMBER)
    item = await last_consult(session_id)
    assert (await plan(session_id))["a"] == "phone"  # a caller on the trunk, and the number on a second leg
    await report(consult.phone_answered, session_id, item.pk)
    assert (await agent.call("Call.sendDigits", sessionId=session_id, dtmfText="12#"))["status"] == "success"
    assert ("send_digits", session_id, LEG, "12#") in media_calls  # keys for the number, not the held caller
    await report(telephony.consult_call_ended, session_id, item.pk, "remote")
    assert ((await last_consult(session_id)).outcome, (await row(session_id)).on_hold) == ("left", True)

    await agent.call("Call.unhold", sessionId=session_id)
    await act(consult.start, "agent1@demo", session_id, phone_number=NUMBER)
    item = await last_consult(session_id)
    await report(consult.phone_answered, session_id, item.pk)
    await act(consult.conference, "agent1@demo", session_id)
    await report(telephony.consult_call_ended, session_id, item.pk, "operatorError")  # lost in conference: the call goes on
    session = await row(session_id)
    assert ((await last_consult(session_id)).outcome, session.on_hold, session.state) == (
        "unreachable", False, "active")

    await act(consult.start, "agent1@demo", session_id, phone_number=NUMBER)
    media_calls.clear()
    await act(consult.cancel, "agent1@demo", session_id)
    assert (await last_consult(session_id)).outcome == "cancelled"
    [applied] = [command[2] for command in media_calls if command[0] == "apply_plan"]
    assert LEG not in (applied["a"], applied["b"], applied.get("consult"))  # the gateway hangs it up alone

    await act(consult.start, "agent1@demo", session_id, phone_number=NUMBER)
    item = await last_consult(session_id)
    media_calls.clear()
    await database_sync_to_async(_customer_hangs_up)(session_id)
    assert (await last_consult(session_id)).outcome == "ended"
    assert ("end_call", session_id) in media_calls  # with the customer's leg goes the number's call


def _customer_hangs_up(session_id):
    from sessions_app.services import telephony

    telephony.caller_hung_up(session_id)


async def test_every_refusal_to_dial_a_number_says_why_and_changes_nothing(sdk, demo, media_calls, settings):
    agent, session_id = await serving(sdk, demo)

    async def refusal(number=NUMBER):
        said = await refused(consult.start, "agent1@demo", session_id, phone_number=number)
        assert await last_consult(session_id) is None and not dials(media_calls)
        assert not (await row(session_id)).on_hold
        return said

    assert "neither a phone number nor a protected id" in await refusal("call me maybe")
    settings.SIP_PORT = None
    assert "SIP gateway is not running" in await refusal()
    settings.SIP_PORT = 5999
    await database_sync_to_async(Trunk.objects.all().delete)()
    assert "no SIP trunk is configured" in await refusal()
    await add_trunk()
    await limit_calls_per_number(1)
    await act(consult.start, "agent1@demo", session_id, phone_number=NUMBER)  # the first counts toward the limit
    await act(consult.cancel, "agent1@demo", session_id)
    media_calls.clear()
    said = await refused(consult.start, "agent1@demo", session_id, phone_number=NUMBER)
    assert NUMBER in said and not dials(media_calls)
    assert await database_sync_to_async(Consult.objects.filter(session_id=session_id).count)() == 1
    with pytest.raises(ServiceError, match="already in progress"):
        await database_sync_to_async(_twice)(session_id)


def _twice(session_id):
    from .test_consult import agent_pk

    Tenant.objects.filter(sdk_app_id="1400000001").update(outbound_per_5_minutes=100)
    consult.start(agent_pk("agent1@demo"), session_id, phone_number="13900139000")
    consult.start(agent_pk("agent1@demo"), session_id, phone_number="13900139001")


assert media.CONSULT_PHONE_LEG == LEG
