"""Tokens and links: CreateSDKLoginToken (an agent's SDK login) and CreateAdminURL (a one-time sign-in link into
admin)."""
from __future__ import annotations

from django.urls import reverse

from ..services import admin_links, tokens
from .actions import Call, action


@action("CreateSDKLoginToken")
def create_sdk_login_token(call: Call) -> dict:
    user_id = call.params.string("SeatUserId", required=True, max_length=128)
    once = call.params.boolean("OnlyOnce", False)
    return tokens.login_token_response(call.tenant, user_id, call.base_url + reverse("sdk-js"), once=once)


@action("CreateAdminURL")
def create_admin_url(call: Call) -> dict:
    seat_user_id = call.params.string("SeatUserId", required=True, max_length=150)
    return {"URL": call.base_url + reverse("admin-link", args=[admin_links.issue(call.tenant, seat_user_id)])}
