"""`/`: the home page to a browser (GET), Tencent Cloud's contact-center API to back-office code (POST).

A request is checked as Tencent's servers check it, in this order, each failure answered with Tencent's code:
a JSON POST; X-TC-Action, X-TC-Version 2020-02-10 and an X-TC-Timestamp within five minutes of our clock; a
TC3-HMAC-SHA256 Authorization naming an active SecretId; the signature, worked out again from the request as
received with that key's SecretKey; then the key's request rate; then the action (sessions_app/cloud/). Every
answer is HTTP 200 with `application/json`, as the client expects (it raises on anything else), and every
request is logged (`CloudApiCall`: the SecretId, never the secret). An address that keeps sending unknown
SecretIds or wrong signatures is locked out like one guessing API keys (views/credential_throttle.py).
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from datetime import datetime, timedelta, timezone as dt_timezone

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.generic import TemplateView

from .. import cloud  # noqa: F401  (importing the package registers every action)
from ..cloud import protocol
from ..cloud.actions import SLOW, Call, run
from ..cloud.protocol import CloudError
from ..domain import tc3
from ..models import CloudApiCall
from ..services import cloud_keys
from . import credential_throttle
from .api import on_database_thread

log = logging.getLogger(__name__)
VERSION = "2020-02-10"
MAX_SKEW = 300  # seconds between X-TC-Timestamp and our clock, either way
MAX_BODY = 1024 * 1024
RATE_WINDOW = 5.0  # seconds over which a key's request rate (settings.CLOUD_API_RATE per second) is counted
home = TemplateView.as_view(template_name="home.html")


@csrf_exempt
async def root(request):
    if request.method == "POST" or "X-TC-Action" in request.headers:
        if request.headers.get("X-TC-Action") in SLOW:  # a thread (and connection) of its own, off the shared one
            return await database_sync_to_async(serve, thread_sensitive=False)(request)
        return await on_database_thread(serve)(request)
    return await sync_to_async(home)(request)


def serve(request) -> JsonResponse:
    started = time.perf_counter()
    entry = CloudApiCall(request_id=str(uuid.uuid4()), address=credential_throttle.client_address(request) or "",
                         action=request.headers.get("X-TC-Action", "")[:64])
    try:
        body = protocol.answer_body(_answer(request, entry), entry.request_id)
        entry.outcome = "ok"
    except CloudError as refused:
        body = protocol.error_body(refused.code, refused.message, entry.request_id)
        entry.outcome = refused.code
    except Exception:
        log.exception("cloud API action %s failed", entry.action)
        body = protocol.error_body(protocol.INTERNAL_ERROR, "The server failed to carry out the request.",
                                   entry.request_id)
        entry.outcome = protocol.INTERNAL_ERROR
    entry.milliseconds = round((time.perf_counter() - started) * 1000, 3)
    entry.save()
    return JsonResponse(body)


def _answer(request, entry: CloudApiCall) -> dict:
    if request.method != "POST":
        raise CloudError(protocol.UNSUPPORTED_PROTOCOL, "Send the request as a POST with a JSON body.")
    locked = credential_throttle.api_key_lockout(request)
    if locked:
        raise CloudError(protocol.LIMIT_EXCEEDED, f"Too many failed signatures from this address: try again in "
                                                  f"{locked} s.")
    if not entry.action:
        raise CloudError(protocol.MISSING_PARAMETER, "The request is missing the header X-TC-Action.")
    version = request.headers.get("X-TC-Version", "")
    if version != VERSION:
        raise CloudError(protocol.NO_SUCH_VERSION, f"The version {version[:32]!r} does not exist: use {VERSION}.")
    timestamp = _timestamp(request)
    try:
        authorization = tc3.parse_authorization(request.headers.get("Authorization", ""))
    except tc3.Malformed as malformed:
        raise CloudError(protocol.INVALID_AUTHORIZATION, str(malformed)) from None
    entry.secret_id = authorization.secret_id[:64]
    key = cloud_keys.active_key(authorization.secret_id)
    secret_key = cloud_keys.secret_key(key) if key else None
    if secret_key is None:
        credential_throttle.api_key_failed(request)
        raise CloudError(protocol.SECRET_ID_NOT_FOUND, "The SecretId is not found, or it has been revoked.")
    entry.key, entry.tenant = key, key.tenant
    body = _body(request)
    _check_signature(request, authorization, timestamp, secret_key, body)
    cloud_keys.used(key)
    _check_rate(key)
    params = protocol.Params(_parameters(body))
    return run(entry.action, Call(key.tenant, key, params, f"{request.scheme}://{request.get_host()}"))


def _timestamp(request) -> int:
    value = request.headers.get("X-TC-Timestamp", "")
    if not value.isdigit() or len(value) > 12:
        raise CloudError(protocol.MISSING_PARAMETER if not value else protocol.INVALID_PARAMETER,
                         "The header X-TC-Timestamp must be the request's Unix time in seconds.")
    if abs(int(value) - time.time()) > MAX_SKEW:
        raise CloudError(protocol.SIGNATURE_EXPIRE, f"The request's timestamp is more than {MAX_SKEW // 60} minutes "
                                                    "from the server's clock: check the client's clock.")
    return int(value)


def _body(request) -> bytes:
    try:
        if int(request.headers.get("Content-Length") or 0) > MAX_BODY or len(request.body) > MAX_BODY:
            raise RequestDataTooBig
        return request.body
    except (ValueError, RequestDataTooBig):
        raise CloudError(protocol.INVALID_PARAMETER, f"The request body is larger than {MAX_BODY} bytes.") from None


def _check_signature(request, authorization: tc3.Authorization, timestamp: int, secret_key: str,
                     body: bytes) -> None:
    day = datetime.fromtimestamp(timestamp, dt_timezone.utc).strftime("%Y-%m-%d")
    if authorization.service != tc3.SERVICE or authorization.date != day:
        credential_throttle.api_key_failed(request)
        raise CloudError(protocol.SIGNATURE_FAILURE, f"The credential scope must be {day}/{tc3.SERVICE}/tc3_request "
                                                     "(the timestamp's UTC date and this service).")
    headers = {name: request.headers.get(name, "") for name in authorization.signed_headers}
    canonical = tc3.canonical_request(
        request.method, request.path, request.META.get("QUERY_STRING", ""), headers, authorization.signed_headers,
        tc3.payload_hash(body, request.headers.get("X-TC-Content-SHA256")))
    expected = tc3.signature(secret_key, str(timestamp), authorization.date, authorization.service, canonical)
    if not tc3.matches(expected, authorization.signature):
        credential_throttle.api_key_failed(request)
        raise CloudError(protocol.SIGNATURE_FAILURE, "The signature does not match the request: check the SecretKey "
                                                     "and how the request was signed.")


def _check_rate(key) -> None:
    allowed = int(settings.CLOUD_API_RATE * RATE_WINDOW)
    since = timezone.now() - timedelta(seconds=RATE_WINDOW)
    if CloudApiCall.objects.filter(key=key, at__gte=since).count() >= allowed:
        raise CloudError(protocol.LIMIT_EXCEEDED, f"This SecretId sent more than {settings.CLOUD_API_RATE} requests "
                                                  "a second: slow down and try again.")


def _parameters(body: bytes) -> dict:
    try:
        parameters = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise CloudError(protocol.INVALID_PARAMETER, "The request body is not JSON.") from None
    if not isinstance(parameters, dict):
        raise CloudError(protocol.INVALID_PARAMETER, "The request body must be a JSON object.")
    return parameters
