"""The demo tenant's published secrets, and whether a database still uses them.

`seed_demo` creates the demo tenant with an API key and passwords that the README prints for everyone to read;
production mode (workbench/settings.py) refuses to serve a database where they still work.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model

from ..models import CloudKey, Tenant

DEMO_SDK_APP_ID = "1400000001"
DEFAULT_API_KEY = "demo-api-key-change-me"
DEFAULT_SECRET_ID = "AKIDdemoSecretIdChangeMe000000000000"  # the demo's cloud API key pair
DEFAULT_SECRET_KEY = "demoSecretKeyChangeMe00000000000"
DEFAULT_PASSWORD = "demo-password"
DEMO_AGENTS = [("agent1@demo", "Alice", "1001"), ("agent2@demo", "Bob", "1002"), ("agent3@demo", "Chen", "1003")]
DEMO_SUPERVISOR = "admin"
DEMO_TENANT_SUPERVISOR = "supervisor@demo"
DEMO_ACCOUNTS = [DEMO_SUPERVISOR, DEMO_TENANT_SUPERVISOR, *(user_id for user_id, _, _ in DEMO_AGENTS)]


def demo_secrets_in_use() -> list[str]:
    """What still opens the door with the published defaults: tenants that have the demo API key, and the demo
    accounts whose password is still the demo password (only those accounts are tried: checking a password costs
    a hash, and seed_demo gives the demo password to no one else)."""
    found = [f"tenant {sdk_app_id} still has the demo API key {DEFAULT_API_KEY!r}: manage.py rotate_api_key {sdk_app_id}"
             for sdk_app_id in Tenant.objects.filter(api_key=DEFAULT_API_KEY).values_list("sdk_app_id", flat=True)]
    found += [f"tenant {sdk_app_id} still has the demo cloud API key {DEFAULT_SECRET_ID!r}: "
              f"manage.py cloud_key revoke {DEFAULT_SECRET_ID}"
              for sdk_app_id in CloudKey.objects.filter(secret_id=DEFAULT_SECRET_ID, revoked_at__isnull=True)
              .values_list("tenant__sdk_app_id", flat=True)]
    for user in get_user_model().objects.filter(username__in=DEMO_ACCOUNTS, is_active=True).order_by("username"):
        if user.check_password(DEFAULT_PASSWORD):
            found.append(f"user {user.username!r} still has the demo password {DEFAULT_PASSWORD!r}: "
                         f"manage.py changepassword {user.username}")
    return found
