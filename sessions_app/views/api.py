"""The server-to-server HTTP API (Bearer API key): login tokens and sessions from other systems."""
from __future__ import annotations

import json

from django.http import JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from ..models import Tenant
from ..services import sessions, tokens
from ..services.errors import ServiceError

MAX_BODY = 64 * 1024


def error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _tenant(request) -> Tenant | None:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        return None
    return Tenant.objects.filter(api_key=key.strip()).first()


def _body(request) -> dict:
    if len(request.body) > MAX_BODY:
        raise ServiceError(f"the body is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        raise ServiceError("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ServiceError("the body must be a JSON object")
    return body


def api_view(handler):
    """Authenticate by API key, parse the JSON body, map ServiceError to 400 (404 for unknown sessions)."""
    @csrf_exempt
    def view(request, *args, **kwargs):
        tenant = _tenant(request)
        if tenant is None:
            return error("missing or unknown API key (Authorization: Bearer <apiKey>)", 401)
        try:
            body = _body(request) if request.method == "POST" else {}
            return JsonResponse(handler(request, tenant, body, *args, **kwargs))
        except ServiceError as refused:
            return error(str(refused), 404 if str(refused).startswith("no session") else 400)
    view.__name__ = handler.__name__
    return view


def sdk_url(request) -> str:
    return request.build_absolute_uri(reverse("sdk-js"))


@require_POST
@api_view
def sdk_login_token(request, tenant, body):
    if str(body.get("SdkAppId", "")) != tenant.sdk_app_id:
        raise ServiceError("SdkAppId does not match the API key")
    user_id = body.get("SeatUserId")
    if not isinstance(user_id, str) or not user_id:
        raise ServiceError("SeatUserId is required")
    return tokens.login_token_response(tenant, user_id, sdk_url(request))


@require_POST
@api_view
def create_session(request, tenant, body):
    fields = {k: v for k, v in body.items() if k not in ("type", "skillGroupId", "uui")}
    session_id = sessions.create_inbound(tenant, body.get("type"), body.get("skillGroupId", ""), fields,
                                         body.get("uui", ""))
    return {"sessionId": session_id}


@require_POST
@api_view
def end_session(request, tenant, body, session_id):
    sessions.end_by_customer(tenant, session_id)
    return {"sessionId": session_id, "state": "ended"}


@require_GET
@api_view
def read_session(request, tenant, body, session_id):
    return sessions.describe(tenant, session_id)
