"""The cloud API's limits against a live daphne of their own (a low CLOUD_API_RATE; a lockout that shuts the
test's address out): a key's request rate answered LimitExceeded, and an address that keeps failing signatures
locked out, its right signatures too."""
from __future__ import annotations

import json

import pytest

from testing.liveserver import LiveServer
from testing.serving import running
from .cloud_client import call, client, refused
from .cloud_raw import code, signed

pytestmark = pytest.mark.peer

RATE = 2  # requests a second, counted over views/cloud_api.py's RATE_WINDOW (5 s): 10 in a burst
FAILURES = 3


@pytest.fixture(scope="module")
def live():
    with running(LiveServer(env={"CLOUD_API_RATE": str(RATE), "AUTH_FAILURE_LIMIT": str(FAILURES)})) as server:
        yield server


def params(live) -> dict:
    return {"SdkAppId": int(live.demo["SdkAppId"]), "SeatUserId": "agent1@demo"}


def test_a_key_past_its_rate_gets_limit_exceeded_and_another_key_does_not(live):
    other = json.loads(live.manage("cloud_key", "make", live.demo["SdkAppId"], "--name", "second").strip())
    cloud = client(live)
    outcomes = []
    while "LimitExceeded" not in outcomes and len(outcomes) < RATE * 5 * 4:  # a slow machine spreads the burst
        try:
            call(cloud, "CreateSDKLoginToken", params(live))
            outcomes.append("ok")
        except Exception as error:  # the client's TencentCloudSDKException
            outcomes.append(error.code)
    assert outcomes[-1] == "LimitExceeded" and outcomes[:RATE * 5] == ["ok"] * (RATE * 5), outcomes
    assert call(client(live, other["secretId"], other["secretKey"]), "CreateSDKLoginToken", params(live))["Token"]


def test_an_address_failing_signatures_is_locked_out_even_with_the_right_one(live):
    for _ in range(FAILURES):
        assert code(signed(live, "CreateSDKLoginToken", params(live), secret_key="z" * 32)) == \
            "AuthFailure.SignatureFailure"
    error = refused(client(live), "CreateSDKLoginToken", params(live))
    assert error.code == "LimitExceeded" and "failed signatures" in error.message
    assert code(signed(live, "CreateSDKLoginToken", params(live), secret_id="AKIDnobody")) == "LimitExceeded"
