"""The supervisors' audit log: every action a supervisor (or the tenant's back office, with a cloud API key) takes on
an agent or a session (services/supervision.py), done or refused, with who, when, on what and why it was refused.
Written by the services only; read in admin."""
from django.conf import settings
from django.db import models
from django.utils import timezone

from .cloud import CloudKey
from .core import Tenant


class AuditEntry(models.Model):
    ACTIONS = [("set_status", "Set status"), ("force_offline", "Force offline"), ("end_session", "End session"),
               ("transfer_session", "Transfer session"), ("offer_session", "Offer session"),
               ("watch_chat", "Watch chat"), ("write_chat", "Write in chat"), ("take_over_chat", "Take over chat"),
               ("restore_online", "Restore online"), ("monitor_call", "Monitor call"),
               ("monitoring_mode", "Change monitoring"), ("stop_monitoring", "Stop monitoring"),
               ("take_over_call", "Take over call")]
    TARGETS = [("agent", "Agent"), ("session", "Session")]
    OUTCOMES = [("done", "Done"), ("refused", "Refused")]

    at = models.DateTimeField("when", default=timezone.now, db_index=True)
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", verbose_name="supervisor's account")
    supervisor_name = models.CharField("supervisor", max_length=150, blank=True,
                                       help_text="The account's username then (or 'cloud API key <SecretId>'), "
                                                 "kept if the account or the key goes.")
    cloud_key = models.ForeignKey(CloudKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                  verbose_name="cloud API key",
                                  help_text="The key the tenant's back office acted with, instead of an account.")
    action = models.CharField(max_length=16, choices=ACTIONS)
    target_kind = models.CharField(max_length=8, choices=TARGETS)
    target_id = models.CharField(max_length=64, help_text="The agent's or the session's id, as asked for.")
    target_label = models.CharField(max_length=200, blank=True, help_text="The agent's userId, the session's type.")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                               help_text="The target's tenant; for a target the supervisor may not see, their own.")
    details = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=8, choices=OUTCOMES)
    message = models.CharField(max_length=500, blank=True, help_text="Why it was refused.")

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit log"
        indexes = [models.Index(fields=["tenant", "at"])]

    def __str__(self):
        return f"{self.supervisor_name}: {self.get_action_display()} {self.target_label or self.target_id}"
