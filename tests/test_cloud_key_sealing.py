"""Cloud API key pairs (services/cloud_keys.py): the SecretKey is sealed with SECRET_KEY, opens with it or a
fallback, and is nowhere in the database in the clear."""
import pytest
from django.db import connection

from sessions_app.services import cloud_keys
from sessions_app.services.errors import NotFound

from . import factories

pytestmark = pytest.mark.service


def test_a_pair_looks_like_tencents_and_its_secret_is_sealed(db):
    key, secret = cloud_keys.make(factories.tenant(), "CRM")
    assert key.secret_id.startswith("AKID") and len(key.secret_id) == 36 and len(secret) == 32
    with connection.cursor() as cursor:
        cursor.execute("SELECT sealed_secret_key FROM sessions_app_cloudkey WHERE id = %s", [key.pk])
        stored, = cursor.fetchone()
    assert secret not in stored
    assert cloud_keys.secret_key(cloud_keys.active_key(key.secret_id)) == secret


def test_a_new_secret_key_opens_old_seals_only_with_the_old_one_as_a_fallback(db, settings):
    key, secret = cloud_keys.make(factories.tenant())
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "another-long-random-secret-key-0123456789-abcdefghijklmnop"
    assert cloud_keys.secret_key(key) is None
    settings.SECRET_KEY_FALLBACKS = [old]
    assert cloud_keys.secret_key(key) == secret


def test_a_revoked_pair_is_no_longer_active_and_cannot_be_revoked_twice(db):
    key, _ = cloud_keys.make(factories.tenant())
    cloud_keys.revoke(key_id=key.pk)
    assert cloud_keys.active_key(key.secret_id) is None
    with pytest.raises(NotFound):
        cloud_keys.revoke(key_id=key.pk)
