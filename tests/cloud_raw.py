"""Hand-made requests to the cloud API, signed as Tencent's client signs them (sessions_app/domain/tc3.py), for
what the real client cannot send: a stale clock, another version, a bad scope, a body that is not JSON."""
from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timezone

import httpx

from sessions_app.domain import tc3


def signed(live, action: str, body: bytes | dict, *, secret_id: str | None = None, secret_key: str | None = None,
           timestamp: int | None = None, version: str = "2020-02-10", date: str | None = None,
           service: str = "ccc", unsigned_payload: bool = False, authorization: str | None = None,
           method: str = "POST", host: str | None = None, url: str | None = None) -> dict:
    """POST (or `method`) `body` as `action`, signed over the given (or right) values; the answer's Response."""
    body = json.dumps(body).encode() if isinstance(body, dict) else body
    timestamp = int(time.time()) if timestamp is None else timestamp
    date = date or datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    host = host or f"127.0.0.1:{live.port}"
    headers = {"content-type": "application/json", "host": host}
    payload = hashlib.sha256(b"UNSIGNED-PAYLOAD" if unsigned_payload else body).hexdigest()  # as Tencent's clients
    canonical = tc3.canonical_request(method, "/", "", headers, ("content-type", "host"), payload)
    signature = tc3.signature(secret_key or live.demo["secretKey"], str(timestamp), date, service, canonical)
    authorization = authorization if authorization is not None else (f"TC3-HMAC-SHA256 Credential={secret_id or live.demo['secretId']}/{date}/"
                                      f"{service}/tc3_request, SignedHeaders=content-type;host, Signature={signature}")
    sent = {"Content-Type": "application/json", "Host": host, "X-TC-Action": action, "X-TC-Version": version,
            "X-TC-Timestamp": str(timestamp), "X-TC-Region": "ap-guangzhou", "Authorization": authorization,
            **({"X-TC-Content-SHA256": tc3.UNSIGNED_PAYLOAD} if unsigned_payload else {})}
    response = httpx.request(method, url or live.url + "/", content=body if method == "POST" else None,
                             headers=sent, timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json", response.text
    return response.json()["Response"]


def code(answer: dict) -> str:
    return answer.get("Error", {}).get("Code", "ok")
