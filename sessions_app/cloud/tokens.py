"""Tokens and links: CreateSDKLoginToken (an agent's SDK login) and CreateAdminURL (a one-time sign-in link into
admin)."""
from __future__ import annotations

from django.urls import reverse

from ..services import tokens
from .actions import Call, action


@action("CreateSDKLoginToken")
def create_sdk_login_token(call: Call) -> dict:
    user_id = call.params.string("SeatUserId", required=True, max_length=128)
    call.params.boolean("OnlyOnce", False)
    return tokens.login_token_response(call.tenant, user_id, call.base_url + reverse("sdk-js"))
