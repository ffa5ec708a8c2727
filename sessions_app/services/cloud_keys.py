"""The cloud API's key pairs: made (the SecretKey returned to be shown once), revoked, and opened to check a
signature.

A signature check needs the SecretKey itself, so it cannot be stored as a hash; it is sealed with a key derived
from the server's SECRET_KEY (Fernet: AES with an HMAC), so that a copy of the database alone opens nothing.
Keys sealed under a SECRET_KEY since moved to SECRET_KEY_FALLBACKS still open.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import string
from datetime import timedelta

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.utils import timezone

from ..models import CloudKey, Tenant
from .errors import NotFound

SECRET_ID_PREFIX = "AKID"
USED_AT_STEP = timedelta(minutes=1)  # last_used_at is written at most this often per key
_ALPHABET = string.ascii_letters + string.digits


def make(tenant: Tenant, name: str = "", created_by=None, secret_id: str | None = None,
         secret_key: str | None = None) -> tuple[CloudKey, str]:
    """A new key pair of `tenant`, as Tencent's look (`AKID` and 32 characters; a 32-character SecretKey);
    returns it with its SecretKey, which is not shown again. `secret_id`/`secret_key`: given ones (the demo's)."""
    secret_key = secret_key or _random(32)
    key = CloudKey.objects.create(tenant=tenant, name=name, created_by=created_by,
                                  secret_id=secret_id or SECRET_ID_PREFIX + _random(32),
                                  sealed_secret_key=_sealer().encrypt(secret_key.encode()).decode())
    return key, secret_key


def revoke(*, key_id: int) -> None:
    if not CloudKey.objects.filter(pk=key_id, revoked_at__isnull=True).update(revoked_at=timezone.now()):
        raise NotFound(f"no active cloud API key {key_id}")


def active_key(secret_id: str) -> CloudKey | None:
    return CloudKey.objects.select_related("tenant").filter(secret_id=secret_id, revoked_at__isnull=True).first()


def secret_key(key: CloudKey) -> str | None:
    """The SecretKey, or None when no SECRET_KEY (current or fallback) opens it."""
    try:
        return _sealer().decrypt(key.sealed_secret_key.encode()).decode()
    except InvalidToken:
        return None


def used(key: CloudKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= USED_AT_STEP:
        CloudKey.objects.filter(pk=key.pk).update(last_used_at=now)


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _sealer() -> MultiFernet:
    keys = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return MultiFernet([Fernet(base64.urlsafe_b64encode(
        hashlib.sha256(b"tccc cloud API keys\0" + key.encode()).digest())) for key in keys])
