"""Tencent's cloud API on our server, through Tencent's own client against a live daphne: the wire protocol
(signature, timestamps, keys, errors) and the tokens and links."""
from __future__ import annotations

import pytest

from testing.serving import running
from .cloud_client import app, call, client, cloud_server, refused

pytestmark = pytest.mark.peer


@pytest.fixture(scope="module")
def live():
    with running(cloud_server()) as server:
        yield server


@pytest.fixture(scope="module")
def cloud(live):
    return client(live)



def test_an_sdk_login_token_is_made_for_an_agent(live, cloud):
    answer = call(cloud, "CreateSDKLoginToken", {"SdkAppId": app(live), "SeatUserId": "agent1@demo"})
    assert answer["Token"] and answer["ExpiredTime"] > 0
    assert answer["SdkURL"] == f"http://127.0.0.1:{live.port}/sdk/tccc.js"


def test_a_wrong_secret_key_is_a_signature_failure(live):
    error = refused(client(live, secret_key="x" * 32), "CreateSDKLoginToken",
                    {"SdkAppId": app(live), "SeatUserId": "agent1@demo"})
    assert error.code == "AuthFailure.SignatureFailure"


def test_an_unknown_secret_id_is_not_found(live):
    error = refused(client(live, secret_id="AKIDnobody"), "CreateSDKLoginToken",
                    {"SdkAppId": app(live), "SeatUserId": "agent1@demo"})
    assert error.code == "AuthFailure.SecretIdNotFound"


def test_another_applications_sdk_app_id_is_unauthorized(cloud):
    error = refused(cloud, "CreateSDKLoginToken", {"SdkAppId": 1400000002, "SeatUserId": "agent1@demo"})
    assert error.code == "UnauthorizedOperation"


@pytest.mark.parametrize("params, code", [
    ({"SeatUserId": "agent1@demo"}, "MissingParameter"),
    ({"SdkAppId": "1400000001", "SeatUserId": "agent1@demo"}, "InvalidParameter"),
    ({"SdkAppId": 1400000001}, "MissingParameter"),
    ({"SdkAppId": 1400000001, "SeatUserId": 7}, "InvalidParameter"),
    ({"SdkAppId": 1400000001, "SeatUserId": "nobody@demo"}, "ResourceNotFound"),
])
def test_bad_parameters_get_tencents_codes(cloud, params, code):
    assert refused(cloud, "CreateSDKLoginToken", params).code == code


def test_an_action_we_do_not_have_is_unsupported_and_named(live, cloud):
    error = refused(cloud, "DescribeAutoCalloutTasks", {"SdkAppId": app(live), "PageSize": 10,
                                                        "PageNumber": 0})
    assert error.code == "UnsupportedOperation" and "DescribeAutoCalloutTasks" in error.message
