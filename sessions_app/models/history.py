"""What happened to agents over time, kept for reports: every status change, written by the one place statuses
change (`services.agents.change_status`) in the same transaction, so reports can tell how long each agent spent
in each status on any day."""
from django.conf import settings
from django.db import models
from django.utils import timezone

from .core import Agent, Tenant


class AgentStatusChange(models.Model):
    """One status change of an agent: from what, to what, when, and who made it. `until` is filled when the next
    change of the same agent is written, so each row is the interval the agent spent in `to_status` (open while
    null): reports sum intervals without a window over the whole history."""

    BY = [("agent", "The agent"), ("supervisor", "A supervisor"), ("system", "The system")]

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="status_changes")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    until = models.DateTimeField(null=True, blank=True, help_text="When the next change ended this status.")
    from_status = models.CharField(max_length=10, choices=Agent.STATUSES)
    to_status = models.CharField(max_length=10, choices=Agent.STATUSES)
    rest_reason = models.CharField(max_length=128, blank=True)
    by = models.CharField(max_length=10, choices=BY, default="system")
    by_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", help_text="The supervisor who made it.")

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            # The agent's open interval, closed by its next change: one row per agent.
            models.Index(fields=["agent"], condition=models.Q(until__isnull=True), name="status_change_open"),
            # Reports: the intervals of a tenant that begin within a period, and each agent's interval running
            # when a period begins (its latest change before then).
            models.Index(fields=["tenant", "at"], name="status_change_at"),
            models.Index(fields=["agent", "at"], name="status_change_agent_at"),
        ]

    def __str__(self):
        return f"{self.agent}: {self.from_status} → {self.to_status}"


class ReportDay(models.Model):
    """One settled local day of a tenant's report figures, summed once and kept (`services/reports.py`): a report
    over a year then reads 365 rows instead of summing two million sessions again. Keyed by the time zone the day
    was counted in, so changing the tenant's zone counts its days anew."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    time_zone = models.CharField(max_length=64)
    day = models.DateField()
    figures = models.JSONField(help_text="Each skill group's and each agent's sums of the day.")
    made_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "time_zone", "day"], name="report_day_once")]

    def __str__(self):
        return f"{self.day} ({self.time_zone})"
