"""Who hears whom, from the plan alone (media/hearing.py): every case of a call's audio, in milliseconds.

Legs: C the customer (side a), A the serving agent (b), S a supervisor (monitor), K the consulted agent,
R an agent still ringing.
"""
import pytest

from sessions_app.media.call import Plan
from sessions_app.media.commands import LegError
from sessions_app.media.hearing import filler, hearing, seeing

pytestmark = pytest.mark.unit

C, A, S, K, R = "customer", "agent:1", "agent:9", "agent:2", "agent:3"


def plan(**fields) -> Plan:
    return Plan.from_dict({"a": C, "b": A, **fields})


def heard(**fields) -> dict[str, set[str]]:
    return {leg: set(sources) for leg, sources in hearing(plan(**fields)).items()}


def test_two_parties_hear_each_other():
    assert heard() == {C: {A}, A: {C}}


def test_a_customer_waiting_hears_no_one_and_music():
    p = Plan.from_dict({"a": C})
    assert hearing(p) == {C: frozenset()}
    assert filler(p, C) == "music"
    assert filler(Plan.from_dict({"a": C, "quiet": True}), C) == "silence"


def test_hold_gives_the_customer_music_and_the_agent_nothing_of_the_customer():
    assert heard(hold=True) == {C: set(), A: set()}
    assert filler(plan(hold=True), C) == "music"
    assert filler(plan(hold=True), A) == "silence"
    assert filler(plan(), C) == "silence"


def test_a_muted_leg_is_heard_by_no_one_and_still_hears():
    assert heard(muted=[A]) == {C: set(), A: {C}}
    assert heard(muted=[C, A]) == {C: set(), A: set()}


def test_a_ringing_leg_hears_nothing_and_is_heard_by_no_one():
    assert heard(ringing=R) == {C: {A}, A: {C}, R: set()}
    # an agent consulted but still ringing is not in the conversation yet
    assert heard(ringing=K, consult=K) == {C: set(), A: set(), K: set()}
    assert heard(ringing=R, monitors={S: "barge"}) == {C: {A, S}, A: {C, S}, S: {C, A}, R: set()}


def test_consult_holds_the_customer_and_the_two_agents_talk_privately():
    p = plan(consult=K)
    assert heard(consult=K) == {C: set(), A: {K}, K: {A}}
    assert filler(p, C) == "music"


def test_conference_has_all_three_hear_the_two_others():
    assert heard(consult=K, conference=True) == {C: {A, K}, A: {C, K}, K: {C, A}}
    assert filler(plan(consult=K, conference=True), C) == "silence"


def test_hold_during_a_conference_leaves_the_two_agents_talking():
    assert heard(consult=K, conference=True, hold=True) == {C: set(), A: {K}, K: {A}}


def test_listen_hears_both_and_is_heard_by_no_one():
    assert heard(monitors={S: "listen"}) == {C: {A}, A: {C}, S: {C, A}}


def test_whisper_is_heard_by_the_agent_only():
    assert heard(monitors={S: "whisper"}) == {C: {A}, A: {C, S}, S: {C, A}}


def test_barge_has_everyone_hear_everyone():
    assert heard(monitors={S: "barge"}) == {C: {A, S}, A: {C, S}, S: {C, A}}


def test_a_muted_monitor_still_hears_and_is_heard_by_no_one():
    for mode in ("whisper", "barge"):
        assert heard(monitors={S: mode}, muted=[S]) == {C: {A}, A: {C}, S: {C, A}}


def test_monitor_during_a_consult_hears_the_two_agents_not_the_held_customer():
    assert heard(consult=K, monitors={S: "listen"}) == {C: set(), A: {K}, K: {A}, S: {A, K}}
    assert heard(consult=K, monitors={S: "whisper"}) == {C: set(), A: {K, S}, K: {A}, S: {A, K}}
    assert heard(consult=K, monitors={S: "barge"}) == {C: set(), A: {K, S}, K: {A, S}, S: {A, K}}


def test_monitor_during_a_conference_hears_all_three():
    assert heard(consult=K, conference=True, monitors={S: "listen"}) == {
        C: {A, K}, A: {C, K}, K: {C, A}, S: {C, A, K}}
    assert heard(consult=K, conference=True, monitors={S: "whisper"}) == {
        C: {A, K}, A: {C, K, S}, K: {C, A}, S: {C, A, K}}
    assert heard(consult=K, conference=True, monitors={S: "barge"}) == {
        C: {A, K, S}, A: {C, K, S}, K: {C, A, S}, S: {C, A, K}}


def test_monitor_of_a_held_call_hears_the_agent_only():
    assert heard(hold=True, monitors={S: "listen"}) == {C: set(), A: set(), S: {A}}


def test_a_party_named_as_monitor_stays_a_party():
    assert heard(monitors={A: "listen", C: "barge"}) == {C: {A}, A: {C}}


def test_every_member_is_a_leg_of_the_call():
    assert plan(consult=K, ringing=R, monitors={S: "listen"}).members == {C, A, K, R, S}


def test_an_unknown_monitoring_mode_is_refused():
    with pytest.raises(LegError, match="'shout' is no monitoring mode for agent:9"):
        Plan.from_dict({"a": C, "b": A, "monitors": {S: "shout"}})


def test_the_plan_without_the_new_fields_reads_as_before():
    p = Plan.from_dict({"a": C, "b": A, "ringing": R, "hold": True, "muted": [A], "videoMuted": [A]})
    assert (p.consult, p.conference, p.monitors) == ("", False, {})
    assert p.members == {C, A, R}


def test_each_sees_its_partner_if_it_hears_them_and_their_camera_is_on():
    assert seeing(plan()) == {C: A, A: C}
    assert seeing(plan(muted=[A])) == {C: A, A: C}  # a muted microphone keeps the picture
    assert seeing(plan(videoMuted=[A])) == {C: "", A: C}
    assert seeing(plan(hold=True)) == {C: "", A: ""}
    assert seeing(plan(consult=K)) == {C: "", A: K, K: A}
    assert seeing(plan(consult=K, conference=True)) == {C: A, A: C, K: A}
    assert seeing(plan(monitors={S: "listen"}, ringing=R)) == {C: A, A: C, S: C, R: ""}
