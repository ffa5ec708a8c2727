"""A tenant's secrets made anew: its API key (server API, SDK login tokens) and its CDR signing secret. The old
one stops working at once; the new one is returned to be shown once, since admin shows only its last characters."""
from __future__ import annotations

from ..models import Tenant, new_api_key


def rotate_api_key(*, tenant_id: int) -> str:
    key = new_api_key()
    Tenant.objects.filter(pk=tenant_id).update(api_key=key)
    return key


def rotate_cdr_secret(*, tenant_id: int) -> str:
    secret = new_api_key()
    Tenant.objects.filter(pk=tenant_id).update(cdr_secret=secret)
    return secret
