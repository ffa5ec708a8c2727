"""Tencent Cloud's API on our server (sessions_app/cloud/): the key pairs a tenant's back-office code signs its
requests with, and the log of every request made with them."""
from django.conf import settings
from django.db import models
from django.utils import timezone

from .core import Tenant


class CloudKey(models.Model):
    """A SecretId/SecretKey pair of one tenant. The SecretKey is needed in full to check a signature, so it is
    kept encrypted with the server's SECRET_KEY (services/cloud_keys.py), shown once when made, and never again."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="cloud_keys")
    secret_id = models.CharField("SecretId", max_length=64, unique=True)
    sealed_secret_key = models.TextField(editable=False, help_text="The SecretKey, encrypted.")
    name = models.CharField(max_length=100, blank=True, help_text="What uses it, for the people who manage it.")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True, help_text="From then on it signs nothing.")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["tenant", "-created_at"]
        verbose_name = "cloud API key"

    def __str__(self):
        return f"{self.secret_id[:12]}… ({self.name or self.tenant.name})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class CloudApiCall(models.Model):
    """One request to the cloud API: who (the key, never its secret), what, when, from where, and its outcome."""

    at = models.DateTimeField(default=timezone.now)
    key = models.ForeignKey(CloudKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    secret_id = models.CharField("SecretId", max_length=64, blank=True, help_text="As the request named it.")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    action = models.CharField(max_length=64, blank=True)
    request_id = models.CharField("RequestId", max_length=36)
    outcome = models.CharField(max_length=64, help_text="'ok', or the error code answered.")
    address = models.CharField(max_length=45, blank=True)
    milliseconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "cloud API call"
        indexes = [models.Index(fields=["key", "at"]), models.Index(fields=["tenant", "at"])]

    def __str__(self):
        return f"{self.action or '?'} {self.outcome}"


class SpentToken(models.Model):
    """A one-use token that was used: an SDK login token made with OnlyOnce, a sign-in link into admin
    (CreateAdminURL). Its id is the token's own random `o` claim; the row is kept until the token would have
    expired anyway (`expires_at`), then swept (services/tokens.py: forget_spent)."""

    id = models.CharField(primary_key=True, max_length=32)
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self):
        return self.id
