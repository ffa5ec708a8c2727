"""The pure domain: routing order, agent status rules, protocol validation. No database, milliseconds."""
from datetime import datetime, timedelta
from datetime import time as clock

import pytest

from sessions_app.domain import agent_state, ivr, phone, protocol, session_state
from sessions_app.domain.routing import Candidate, rank

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 1, 9, 0)


def candidate(agent_id, idle_minutes=0, offered_minutes=0, served=0, priority=1):
    return Candidate(agent_id, T0 - timedelta(minutes=idle_minutes), T0 - timedelta(minutes=offered_minutes),
                     served, priority)


def test_longest_idle_offers_the_agent_free_the_longest_first():
    assert rank("longest_idle", [candidate(1, 5), candidate(2, 30), candidate(3, 10)]) == [2, 3, 1]


def test_round_robin_offers_the_agent_offered_least_recently_first():
    assert rank("round_robin", [candidate(1, offered_minutes=1), candidate(2, offered_minutes=9),
                                candidate(3, offered_minutes=4)]) == [2, 3, 1]


def test_fewest_served_today_offers_the_least_busy_agent_first():
    assert rank("fewest_served", [candidate(1, served=4), candidate(2, served=0), candidate(3, served=2)]) == [2, 3, 1]


def test_skill_priority_offers_priority_one_first_then_longest_idle():
    ranked = rank("skill_priority", [candidate(1, 50, priority=2), candidate(2, 1, priority=1),
                                     candidate(3, 20, priority=1)])
    assert ranked == [3, 2, 1]


def test_agents_who_let_the_session_ring_out_go_last():
    tried = {2: T0}
    assert rank("longest_idle", [candidate(1, 5), candidate(2, 30)], tried) == [1, 2]


def test_never_offered_agent_has_no_idle_time_and_goes_first_in_longest_idle():
    fresh = Candidate(9, None, None, 0, 1)
    assert rank("longest_idle", [candidate(1, 60), fresh])[0] == 9


def test_unknown_strategy_is_refused():
    with pytest.raises(ValueError):
        rank("random", [])


@pytest.mark.parametrize("current,requested,expected", [
    ("free", "rest", "rest"), ("rest", "free", "free"), ("notReady", "stopNotReady", "free"),
    ("free", "notReady", "notReady"), ("arrange", "free", "free"), ("free", "arrange", "arrange"),
])
def test_allowed_status_changes(current, requested, expected):
    assert agent_state.next_status(current, requested, None)[0] == expected


@pytest.mark.parametrize("current,requested,reason,message", [
    ("offline", "free", None, "offline"),
    ("free", "stopNotReady", None, "stopNotReady ends notReady"),
    ("free", "free", "lunch", "restReason goes only with status rest"),
])
def test_refused_status_changes(current, requested, reason, message):
    with pytest.raises(agent_state.StatusChangeRefused, match=message):
        agent_state.next_status(current, requested, reason)


def test_rest_keeps_its_reason():
    assert agent_state.next_status("free", "rest", "lunch") == ("rest", "lunch")


def test_free_agent_on_a_call_is_reported_busy():
    assert agent_state.reported_status("free", on_call=True) == "busy"
    assert agent_state.reported_status("rest", on_call=True) == "rest"


def test_a_session_moves_only_along_its_lifecycle():
    allowed = {(old, new) for old, targets in session_state.MOVES.items() for new in targets}
    assert allowed == {
        ("new", "ivr"), ("new", "queued"), ("new", "ringing"), ("ivr", "queued"), ("queued", "ringing"),
        ("queued", "queued"),
        ("ringing", "active"), ("ringing", "queued"), ("active", "queued"), ("active", "ringing"),
        ("ivr", "ended"), ("queued", "ended"), ("ringing", "ended"), ("active", "ended")}
    for old, new in allowed:
        session_state.check_move(old, new)
    for old, new in [("ended", "queued"), ("ended", "ended"), ("active", "active"), ("queued", "active"),
                     ("new", "active"), ("new", "ended"), ("ivr", "ringing")]:
        with pytest.raises(session_state.MoveRefused, match=f"from {old} to {new}"):
            session_state.check_move(old, new)


@pytest.mark.parametrize("accepted,ringing_for_agent,expected", [
    (True, False, "ok"), (True, True, "ok"), (False, True, "ringingGiveUp"), (False, False, "waitingGiveUp")])
def test_an_ending_without_a_reason_counts_as_served_or_given_up(accepted, ringing_for_agent, expected):
    assert session_state.end_status(accepted, ringing_for_agent) == expected


def test_only_a_session_in_progress_is_taken_over_and_a_call_only_by_a_supervisors_leg():
    session_state.check_take_over("active", "im")
    session_state.check_take_over("active", "phone", with_leg=True)
    session_state.check_take_over("active", "voip", with_leg=True)
    for state, kind, with_leg in [("ringing", "im", False), ("queued", "im", False), ("ended", "im", False),
                                  ("active", "phone", False), ("active", "video", False), ("ringing", "voip", True),
                                  ("ended", "phone", True)]:
        with pytest.raises(session_state.MoveRefused):
            session_state.check_take_over(state, kind, with_leg=with_leg)


def test_request_validation_names_the_problem():
    with pytest.raises(protocol.ProtocolError, match="sessionId is required"):
        protocol.validate_request({"method": "Call.accept", "params": {}})
    with pytest.raises(protocol.ProtocolError, match="unknown parameter 'foo'"):
        protocol.validate_request({"method": "Call.accept", "params": {"sessionId": "x", "foo": 1}})
    with pytest.raises(protocol.ProtocolError, match="unknown method"):
        protocol.validate_request({"method": "Call.dance"})
    with pytest.raises(protocol.ProtocolError, match="dtmfText"):
        protocol.validate_request({"method": "Call.sendDigits", "params": {"sessionId": "x", "dtmfText": "12x"}})
    with pytest.raises(protocol.ProtocolError, match="useMobile must be a boolean"):
        protocol.validate_request({"method": "Call.startInternalCall", "params": {"calleeUserId": "a", "useMobile": 1}})


def test_valid_request_gets_python_names():
    method, params = protocol.validate_request(
        {"method": "Call.transfer", "params": {"sessionId": "s1", "skillGroupId": "3"}})
    assert method.name == "Call.transfer" and params == {"session_id": "s1", "skill_group_id": "3"}


def test_event_payload_fields_are_checked_against_the_spec():
    with pytest.raises(KeyError):
        protocol.event("userAccessed", sessionId="s", extra=1)
    frame = protocol.event("callIn", sessionId="s", type="internal", timeout=30, peerUserId="a")
    assert frame == {"type": "event", "event": "callIn",
                     "data": {"sessionId": "s", "type": "internal", "timeout": 30, "peerUserId": "a"}}


# IVR and phone rules.

SALES = ivr.Choice("1", "Sales", skill_group=7)
SUPPORT = ivr.Choice("2", "Support", next_menu=2)
MAIN = ivr.Menu(1, "For sales press 1, for support press 2", {"1": SALES, "2": SUPPORT}, max_retries=1)
SUPPORT_MENU = ivr.Menu(2, "For billing press 9", {"9": ivr.Choice("9", "Billing", skill_group=8)})


def test_ivr_keys_lead_through_menus_to_a_queue_and_make_the_ivr_path():
    run = ivr.IvrRun({1: MAIN, 2: SUPPORT_MENU}, start=1)
    assert run.begin() == ivr.Play(MAIN)
    assert run.press("2") == ivr.Play(SUPPORT_MENU)
    assert run.press("9") == ivr.Route(8)
    assert run.path == [{"key": "2", "label": "Support"}, {"key": "9", "label": "Billing"}]


def test_ivr_invalid_or_missing_keys_retry_then_say_goodbye():
    run = ivr.IvrRun({1: MAIN}, start=1)
    run.begin()
    assert run.press("7") == ivr.Play(MAIN, say=MAIN.invalid_text)
    assert run.timed_out() == ivr.GiveUp(MAIN.goodbye_text)
    assert run.path == []


def test_ivr_key_to_a_menu_that_no_longer_exists_counts_as_invalid():
    run = ivr.IvrRun({1: MAIN}, start=1)
    run.begin()
    assert run.press("2") == ivr.Play(MAIN, say=MAIN.invalid_text)


def test_caller_location_takes_the_longest_matching_prefix():
    table = {"0086": "China", "0086755": "Shenzhen, Guangdong", "001": "USA"}
    assert phone.location("+86 755 8601 3388", table) == "Shenzhen, Guangdong"
    assert phone.location("008610123", table) == "China"
    assert phone.location("0044", table) == ""


def test_outbound_calls_respect_calling_hours_and_per_number_limits():
    hours = dict(start=clock(9), end=clock(21), per_5_minutes=3, per_day=5)
    assert phone.outbound_refusal("13800", clock(10), last_5_minutes=2, last_day=4, **hours) is None
    assert "calling hours" in phone.outbound_refusal("13800", clock(22), last_5_minutes=0, last_day=0, **hours)
    assert "5 minutes" in phone.outbound_refusal("13800", clock(10), last_5_minutes=3, last_day=3, **hours)
    assert "24 hours" in phone.outbound_refusal("13800", clock(10), last_5_minutes=0, last_day=5, **hours)
    assert phone.within_hours(clock(23), clock(22), clock(6)) and not phone.within_hours(clock(12), clock(22), clock(6))
    assert phone.within_hours(clock(3), clock(0), clock(0))  # the same start and end: all day
