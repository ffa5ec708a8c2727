"""The recording push: Tencent's `action=record` to the tenant's webhook once a call's file is stored.

It goes to the CDR webhook with `?action=record&version=1` added (as Tencent tells its pushes apart), shaped
like Tencent's (SdkAppId, RecordId, SessionId, Timestamp, EndpointUser, RecordURL, CustomRecordURL) plus ours
(RecordPartial, Duration), and is delivered exactly as the CDR push is (`cdr.deliver`): at least once, the same
`X-Tccc-Push-Id` on every retry, `X-Tccc-Signature` with the tenant's CDR secret, retried with the same backoff
until the receiver answers `{"ErrCode": 0}`. The body is made at each attempt, so its RecordURL is fresh.
"""
from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from django.db import transaction
from django.utils import timezone

from ..models import Recording, Session
from . import cdr, recording_links

LEASE = timedelta(seconds=30)


def schedule(recording: Recording) -> None:
    """The file is stored: push it now if the tenant has a webhook (the caller saves nothing more)."""
    if recording.file and recording.session.tenant.cdr_webhook_url:
        Recording.objects.filter(pk=recording.pk).update(push_next_at=timezone.now())


def webhook_url(url: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=f"{query}action=record&version=1"))


def endpoint_user(session: Session) -> str:
    """Whom the recording is of, as Tencent names it: the customer's number or id (an internal call: the
    calling agent)."""
    if session.type == "internal":
        return session.caller_agent.user_id if session.caller_agent else ""
    return session.caller_phone_number or session.customer_user_id or session.nickname


def payload(recording: Recording) -> dict:
    session = recording.session
    return {"SdkAppId": int(session.tenant.sdk_app_id) if session.tenant.sdk_app_id.isdigit() else 0,
            "RecordId": str(recording.pk), "SessionId": session.pk,
            "Timestamp": int((recording.stored_at or timezone.now()).timestamp()),
            "EndpointUser": endpoint_user(session), "RecordURL": recording_links.record_url(recording),
            "CustomRecordURL": "", "RecordPartial": recording.partial, "Duration": recording.duration or 0}


def claim_due(limit: int = 20) -> list[tuple[int, str, str, bytes, str]]:
    """Claim pushes that are due: (recording id, url, push id, body, signature). Safe across processes."""
    now = timezone.now()
    with transaction.atomic():
        due = list(Recording.objects.select_for_update(skip_locked=True, of=("self",))
                   .select_related("session__tenant", "session__caller_agent")
                   .filter(push_next_at__lte=now).order_by("push_next_at")[:limit])
        claimed = []
        for recording in due:
            tenant = recording.session.tenant
            if not tenant.cdr_webhook_url or not recording.file:
                recording.push_next_at = None
                recording.save(update_fields=["push_next_at"])
                continue
            recording.push_next_at = now + LEASE
            recording.push_attempts += 1
            recording.save(update_fields=["push_next_at", "push_attempts"])
            body = json.dumps(payload(recording), separators=(",", ":"), ensure_ascii=False).encode()
            claimed.append((recording.pk, webhook_url(tenant.cdr_webhook_url), str(recording.push_id), body,
                            cdr.sign(tenant.cdr_secret, body)))
        return claimed


def settle(recording_id: int, error: str) -> None:
    """Record a delivery attempt: delivered, or due again after the CDR push's backoff."""
    with transaction.atomic():
        recording = Recording.objects.select_for_update().get(pk=recording_id)
        if not error:
            recording.pushed_at, recording.push_next_at, recording.push_error = timezone.now(), None, ""
        else:
            recording.push_error = error
            recording.push_next_at = timezone.now() + cdr.retry_delay(recording.push_attempts)
        recording.save(update_fields=["pushed_at", "push_next_at", "push_error"])
