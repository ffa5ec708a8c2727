"""CDRs: one record per ended session, shaped like Tencent's CDR push, and its delivery to the webhook.

Delivery is at least once: a push is claimed by moving its `next_attempt_at` a lease ahead (so another process
skips it), POSTed with a dedupe id (`X-Tccc-Push-Id`) and an HMAC-SHA256 signature of the body
(`X-Tccc-Signature: sha256=<hex>`), and retried with exponential backoff until the receiver answers
HTTP 2xx with JSON `ErrCode: 0`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..domain.end_status import code
from ..models import Cdr, Recording, Session, found
from . import recording_links

CALL_TYPES = {("phone", "out"): 1, ("phone", "in"): 2, ("voip", "in"): 3, ("video", "in"): 3, ("im", "in"): 2,
              ("internal", "in"): 6}
LEASE = timedelta(seconds=30)


def _ts(moment) -> int:
    return int(moment.timestamp()) if moment else 0


def ivr_seconds(session: Session) -> int:
    """A phone caller's time in the IVR: from the call's start until it was queued (or ended there)."""
    if session.type != "phone" or session.direction != "in":
        return 0
    left_ivr = session.queued_at or session.ended_at
    return int(round((left_ivr - session.created_at).total_seconds())) if left_ivr else 0


def build(session: Session) -> dict:
    participants = list(session.participants.order_by("sequence").values(
        "sequence", "agent__user_id", "skill_group_id", "skill_group__name", "outcome", "ring_at", "accept_at",
        "end_at", "transfer_from", "transfer_to"))
    serving = [p["agent__user_id"] for p in participants if p["accept_at"]]
    outbound_caller = session.caller_agent if session.direction == "out" else None
    seat = serving[-1] if serving else (outbound_caller.user_id if outbound_caller else "")
    caller = session.caller_phone_number or session.customer_user_id or session.nickname
    callee = session.callee_phone_number or session.callee
    if session.type == "internal":
        caller = session.caller_agent.user_id if session.caller_agent else ""
        callee = session.agent.user_id if session.agent else ""
    hung_up_side = {"seat": "seat", "client": "user", "admin": "system"}.get(session.close_by, "")
    return {
        "SessionId": session.id,
        "SessionType": session.type,
        "Caller": caller,
        "Callee": callee,
        "Direction": 1 if session.direction == "out" else 0,
        "CallType": CALL_TYPES.get((session.type, session.direction), 2),
        "Duration": int(round(session.duration or 0)),
        "SeatUser": seat,
        "CallerLocation": session.caller_location,
        "IVRDuration": ivr_seconds(session),
        "StartTimestamp": _ts(session.created_at),
        "QueuedTimestamp": _ts(session.queued_at),
        "RingTimestamp": _ts(session.ring_at),
        "AcceptTimestamp": _ts(session.accepted_at),
        "EndedTimestamp": _ts(session.ended_at),
        "IVRKeyPressed": [step.get("key", "") for step in session.ivr_path],
        "IVRKeyPressedEx": session.ivr_path,
        "HungUpSide": hung_up_side,
        "EndStatus": code(session.end_status) if session.end_status else 0,  # 0 while in progress
        "EndStatusString": session.end_status,
        "QueuedSkillGroupId": session.skill_group_id or 0,
        "QueuedSkillGroupName": session.skill_group.name if session.skill_group else "",
        "Uui": session.uui,
        "ServeParticipants": [{
            "Sequence": p["sequence"],
            "SeatUser": p["agent__user_id"],
            "SkillGroupId": p["skill_group_id"] or 0,
            "SkillGroupName": p["skill_group__name"] or "",
            "Outcome": p["outcome"],
            "RingTimestamp": _ts(p["ring_at"]),
            "AcceptTimestamp": _ts(p["accept_at"]),
            "EndedTimestamp": _ts(p["end_at"]),
            "TransferFrom": p["transfer_from"],
            "TransferTo": p["transfer_to"],
        } for p in participants],
        **_recording_fields(session),
    }


def _recording_fields(session: Session) -> dict:
    """Tencent's recording fields: a link valid for RECORD_URL_TTL that serves the file once it is stored, a
    moment after the end ("" for a call not recorded). A call whose media was lost (its media process died) can
    only have been recorded in part, so its CDR says so at once, before the part is stored."""
    shown = recording_links.fields(found(Recording.objects.filter(session=session)))
    if shown["RecordId"] and session.end_status == "mediaError":
        shown["RecordPartial"] = True
    return shown


def record(session: Session) -> Cdr:
    """Store the CDR in the session's ending transaction; schedule its push if the tenant has a webhook."""
    has_webhook = bool(session.tenant.cdr_webhook_url)
    return Cdr.objects.create(session=session, payload=build(session),
                              next_attempt_at=timezone.now() if has_webhook else None)


def recording_settled(session: Session, partial: bool) -> None:
    """The session's recording was stored: a CDR not yet delivered says whether the file is partial (its
    media process died); one delivered already is left as it is."""
    with transaction.atomic():
        for item in Cdr.objects.select_for_update().filter(session=session, delivered_at__isnull=True):
            item.payload = {**item.payload, "RecordPartial": partial}
            item.save(update_fields=["payload"])


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def claim_due(limit: int = 20) -> list[tuple[int, str, str, bytes, str]]:
    """Claim pushes that are due: (cdr id, url, push id, body, signature). Safe across processes."""
    now = timezone.now()
    with transaction.atomic():
        due = list(Cdr.objects.select_for_update(skip_locked=True, of=("self",)).select_related("session__tenant")
                   .filter(next_attempt_at__lte=now).order_by("next_attempt_at")[:limit])
        claimed = []
        for item in due:
            tenant = item.session.tenant
            if not tenant.cdr_webhook_url:
                item.next_attempt_at = None
                item.save(update_fields=["next_attempt_at"])
                continue
            item.next_attempt_at = now + LEASE
            item.attempts += 1
            item.save(update_fields=["next_attempt_at", "attempts"])
            body = json.dumps(item.payload, separators=(",", ":"), ensure_ascii=False).encode()
            claimed.append((item.pk, tenant.cdr_webhook_url, str(item.push_id), body, sign(tenant.cdr_secret, body)))
        return claimed


async def deliver(client: httpx.AsyncClient, url: str, push_id: str, body: bytes, signature: str) -> str:
    """POST one push; return '' when the receiver took it, else what went wrong."""
    headers = {"Content-Type": "application/json", "X-Tccc-Push-Id": push_id, "X-Tccc-Signature": signature}
    try:
        response = await client.post(url, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"[:500]
    if response.status_code // 100 != 2:
        return f"HTTP {response.status_code}"
    try:
        answer = response.json()
    except ValueError:
        return "answer is not JSON"
    if not isinstance(answer, dict) or answer.get("ErrCode") != 0:
        return f"answer without ErrCode 0: {response.text[:200]}"
    return ""


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed delivery a push is tried again: doubling from CDR_RETRY_BASE,
    at most CDR_RETRY_MAX."""
    return timedelta(seconds=min(settings.CDR_RETRY_BASE * 2 ** max(attempts - 1, 0), settings.CDR_RETRY_MAX))


def settle(cdr_id: int, error: str) -> None:
    """Record a delivery attempt: delivered, or due again after an exponential backoff."""
    with transaction.atomic():
        item = Cdr.objects.select_for_update().get(pk=cdr_id)
        if not error:
            item.delivered_at, item.next_attempt_at, item.last_error = timezone.now(), None, ""
        else:
            item.next_attempt_at, item.last_error = timezone.now() + retry_delay(item.attempts), error
        item.save(update_fields=["delivered_at", "next_attempt_at", "last_error"])
