"""A consultation during a call: the serving agent holds the customer and talks privately with a colleague (or a
phone number), then completes the transfer, makes it a conference or goes back (services/consult.py)."""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from .core import Agent, Session, SkillGroup


class Consult(models.Model):
    """One consultation of a session. At most one is open (`ended_at` empty) per session; the ended ones stay as
    its history, the latest telling the consulting agent how it ended (declined, not answered, left)."""

    STAGES = [("ringing", "Ringing"), ("talking", "Talking")]
    OUTCOMES = [("", "In progress"), ("transferred", "Transfer completed"), ("cancelled", "Cancelled"),
                ("declined", "Declined"), ("timeout", "Not answered in time"), ("left", "Hung up"),
                ("ended", "The call ended"), ("offline", "Went offline"), ("busy", "Busy"),
                ("unreachable", "Could not be reached")]

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="consults")
    by_agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="+",
                                 help_text="The serving agent who consults.")
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.CASCADE, related_name="consults",
                              help_text="The agent consulted (empty for a phone number).")
    skill_group = models.ForeignKey(SkillGroup, null=True, blank=True, on_delete=models.SET_NULL,
                                    help_text="The group asked, when the agent was picked from one.")
    phone_number = models.CharField(max_length=64, blank=True, help_text="The number consulted, dialled out.")
    stage = models.CharField(max_length=8, choices=STAGES, default="ringing")
    conference = models.BooleanField(default=False, help_text="All three hear each other.")
    muted = models.BooleanField(default=False, help_text="The consulted agent muted their microphone.")
    ring_at = models.DateTimeField(default=timezone.now)
    accept_at = models.DateTimeField(null=True, blank=True)
    offer_deadline = models.DateTimeField(null=True, blank=True, help_text="Unanswered by then: it ends (timeout).")
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=12, choices=OUTCOMES, blank=True)
    seen = models.BooleanField(default=False, help_text="The consulting agent dismissed how it ended.")

    class Meta:
        ordering = ["-ring_at"]
        constraints = [models.UniqueConstraint(fields=["session"], condition=models.Q(ended_at__isnull=True),
                                               name="one_open_consult")]
        indexes = [models.Index(fields=["offer_deadline"], name="consult_offer_deadline"),
                   models.Index(fields=["agent"], condition=models.Q(ended_at__isnull=True), name="consult_open_agent")]

    def __str__(self):
        return f"consult of {self.session_id} with {self.target}"

    @property
    def target(self) -> str:
        return self.agent.user_id if self.agent_id else self.phone_number
