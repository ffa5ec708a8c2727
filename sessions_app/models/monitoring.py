"""A supervisor monitoring a call: one row from Listen to Stop (or to the call's end), its mode as it is now.

The supervisor's browser carries its own WebRTC leg to the call (`leg`, `supervisor:{user id}`); while a row is
open, `services/media.plan_for` names that leg in the plan's `monitors` (listen, whisper, barge) or, once the
supervisor took the call over, as the serving side `b`. Every start, change and stop is also in the audit log."""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from .core import Session


class Monitoring(models.Model):
    MODES = [("listen", "Listen"), ("whisper", "Whisper"), ("barge", "Barge"), ("takeover", "Took over")]

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="monitorings")
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                                   verbose_name="supervisor's account")
    supervisor_name = models.CharField("supervisor", max_length=150, help_text="The account's username then.")
    leg = models.CharField(max_length=64, help_text="The supervisor's media leg, e.g. supervisor:7.")
    mode = models.CharField(max_length=8, choices=MODES)
    page = models.CharField(max_length=100, blank=True,
                            help_text="The monitor page (its socket) that holds the leg: a reloaded page takes it over.")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("monitor_calls", "Can listen to, whisper in, barge into and take over calls")]
        constraints = [
            # One open monitoring per supervisor and call; their leg is one leg.
            models.UniqueConstraint(fields=["session", "supervisor"], condition=models.Q(ended_at__isnull=True),
                                    name="monitoring_one_open_per_supervisor"),
        ]
        indexes = [models.Index(fields=["session", "ended_at"], name="monitoring_open")]

    def __str__(self):
        return f"{self.supervisor_name}: {self.get_mode_display()} {self.session_id[:8]}"
