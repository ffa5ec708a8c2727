"""Throttling of password and API-key guessing, with django-axes.

Axes counts failed sign-ins (admin and workbench) in the database, so every process sharing it sees the same
count: `AUTH_FAILURE_LIMIT` failures for one account (from any address) or from one address (for any account)
lock that account or address out for `AUTH_LOCKOUT_SECONDS` after the last counted failure. The server API (`/api/`)
runs without the pages' middleware (workbench/api_handler.py), so its views record a wrong API key here themselves,
as a failure of the address alone (an API key names no account), in the same table: an address guessing keys and
passwords is one guesser. While locked, every attempt is refused, the right password or key too, so that a guess
cannot be told right from wrong; a refused attempt does not lengthen the lockout.
"""
from __future__ import annotations

import ipaddress
import math

from axes.backends import AxesStandaloneBackend
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.conf import settings
from django.db.models import Max
from django.http import QueryDict
from django.shortcuts import render
from django.utils import timezone

API_PREFIX = "/api/"
CLOUD_API_PATH = "/"  # Tencent's cloud API (views/cloud_api.py): a SecretId and signature, no account either
API_KEY_GUESS = {"username": None}  # the credentials axes records for a wrong API key: an address, no account


def client_address(request) -> str | None:
    """The address a request came from. Behind the TLS proxy (BEHIND_TLS_PROXY) that is the last X-Forwarded-For
    entry, the one the proxy itself appended or wrote (entries before it are the client's word); otherwise the
    connection's peer. Anything that is not an IP address counts as absent."""
    address = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_TLS_PROXY:
        address = request.META.get("HTTP_X_FORWARDED_FOR", "").rpartition(",")[2].strip() or address
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def lockout_parameters(request_or_attempt, credentials=None) -> list[str]:
    """Sign-ins lock per address and per account; API keys and cloud API signatures per address (axes'
    AXES_LOCKOUT_PARAMETERS)."""
    path = getattr(request_or_attempt, "path_info", "")
    if path.startswith(API_PREFIX) or path == CLOUD_API_PATH:
        return ["ip_address"]
    return ["ip_address", "username"]


def seconds_locked(request) -> int:
    """How long this request's address (or the account its form names) stays locked out: 0 when it is not."""
    if not AxesProxyHandler.is_locked(request):
        return 0
    attempts = AxesProxyHandler.get_implementation().get_user_attempts(request)
    times = [queryset.aggregate(last=Max("attempt_time"))["last"] for queryset in attempts]
    last = max((t for t in times if t), default=timezone.now())
    return max(1, math.ceil((last + get_cool_off(request) - timezone.now()).total_seconds()))


def api_key_lockout(request) -> int:
    """seconds_locked for a server API request."""
    _without_form(request)
    return seconds_locked(request)


def api_key_failed(request) -> None:
    _without_form(request)
    AxesProxyHandler.user_login_failed(sender=api_key_failed, credentials=API_KEY_GUESS, request=request)


def _without_form(request) -> None:
    """An API body is JSON, never a form; but axes reads (and records) a request's form fields, and Django would
    parse the body as one for it, answering a malformed multipart body with an HTML 400 instead of the API's JSON."""
    request.POST = QueryDict()


def lockout_response(request, *unused):
    """The page a locked-out sign-in gets (axes' AXES_LOCKOUT_CALLABLE): 429, saying for how long. The account is
    read from the form again (axes' async middleware passes its other arguments out of order)."""
    seconds = seconds_locked(request) or int(get_cool_off(request).total_seconds())
    response = render(request, "login_locked.html", {"minutes": math.ceil(seconds / 60)}, status=429)
    response["Retry-After"] = str(seconds)
    return response


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check before the password is: refuses a locked-out account or address. A sign-in without a request
    (`authenticate()` from code, the test client's `login`) comes from no address and is not throttled."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
