"""The server-to-server HTTP API (Bearer API key): login tokens and sessions from other systems."""
from __future__ import annotations

from asgiref.sync import AsyncToSync, SyncToAsync
from channels.db import database_sync_to_async
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from ..domain.protocol import ProtocolError, decode_json
from ..models import Tenant
from ..services import sessions, tokens
from ..services.errors import NotFound, ServiceError
from . import credential_throttle

MAX_BODY = 64 * 1024


def error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _tenant(request) -> Tenant | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        return None
    return Tenant.objects.filter(api_key=key.strip()).first()


def _body(request) -> dict:
    try:
        too_big = int(request.headers.get("Content-Length") or 0) > MAX_BODY or len(request.body) > MAX_BODY
    except (ValueError, RequestDataTooBig):
        too_big = True
    if too_big:
        raise ServiceError(f"the body is larger than {MAX_BODY} bytes")
    try:
        body = decode_json(request.body or b"{}")
    except ProtocolError as refused:
        raise ServiceError(str(refused).replace("request", "body")) from None
    if not isinstance(body, dict):
        raise ServiceError("the body must be a JSON object")
    return body


def api_view(method: str):
    """Check the HTTP method, authenticate by API key (an address that sent too many wrong keys gets 429 with
    Retry-After: views/credential_throttle.py), parse the JSON body, answer JSON. A refusal is a 400, except a
    NotFound where the URL names a resource (`/api/sessions/{id}`): that resource is not there, a 404. A missing
    thing named in the body (a skill group, a SeatUserId) makes the request itself wrong: a 400."""
    return lambda handler: _api_view(handler, method)


def _api_view(handler, method: str):
    def serve(request, *args, **kwargs):
        if request.method != method:
            response = error(f"use {method}", 405)
            response["Allow"] = method
            return response
        locked = credential_throttle.api_key_lockout(request)
        if locked:
            response = error(f"too many wrong API keys from this address: try again in {locked} s", 429)
            response["Retry-After"] = str(locked)
            return response
        tenant = _tenant(request)
        if tenant is None:
            credential_throttle.api_key_failed(request)
            return error("missing or unknown API key (Authorization: Bearer <apiKey>)", 401)
        try:
            body = _body(request) if request.method == "POST" else {}
            return JsonResponse(handler(request, tenant, body, *args, **kwargs))
        except NotFound as missing:
            return error(str(missing), 404 if kwargs else 400)  # kwargs: what the URL's path names
        except ServiceError as refused:
            return error(str(refused), 400)

    @csrf_exempt
    async def view(request, *args, **kwargs):
        return await on_database_thread(serve)(request, *args, **kwargs)

    view.__name__ = handler.__name__
    return view


def on_database_thread(function):
    """`function` made awaitable on the one thread the websockets and the sweeper use for the database.

    Django gives each request a context of its own, and `sync_to_async` a new thread (so a new database
    connection) per such context: under load that is a connection per request in flight (PostgreSQL refuses
    past max_connections) and writers polling SQLite's lock instead of queueing in order (bench/README.md).
    Under Django's test client the test's thread waits for the view and holds the test's transaction, so the
    work stays on it, as Django would do.
    """
    if getattr(AsyncToSync.executors, "current", None) is not None:
        return database_sync_to_async(function)
    return database_sync_to_async(function, thread_sensitive=False, executor=SyncToAsync.single_thread_executor)


def sdk_url(request) -> str:
    return request.build_absolute_uri(reverse("sdk-js"))


@api_view("POST")
def sdk_login_token(request, tenant, body):
    if str(body.get("SdkAppId", "")) != tenant.sdk_app_id:
        raise ServiceError("SdkAppId does not match the API key")
    user_id = body.get("SeatUserId")
    if not isinstance(user_id, str) or not user_id:
        raise ServiceError("SeatUserId is required")
    return tokens.login_token_response(tenant, user_id, sdk_url(request))


@api_view("POST")
def create_session(request, tenant, body):
    fields = {k: v for k, v in body.items() if k not in ("type", "skillGroupId", "uui")}
    session_id = sessions.create_inbound(tenant, body.get("type"), body.get("skillGroupId", ""), fields,
                                         body.get("uui", ""))
    return {"sessionId": session_id}


@api_view("POST")
def end_session(request, tenant, body, session_id):
    sessions.end_by_customer(tenant, session_id)
    return {"sessionId": session_id, "state": "ended"}


@api_view("GET")
def read_session(request, tenant, body, session_id):
    return sessions.describe(tenant, session_id, base_url=request.build_absolute_uri("/"))
