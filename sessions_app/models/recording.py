"""A call's recording: one file per session (media/recorder.py says which), stored through Django's storage."""
from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from .core import Session


class Recording(models.Model):
    """Made when a recorded call is accepted; while the call lasts the engine writes the file in the spool
    (`services/recordings.py`), and after it ends the file is moved into storage: `file` names it there.
    `partial`: the media process died (or the file never finished), so what was written so far is kept."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="recording")
    file = models.FileField(max_length=255, blank=True, help_text="Its name in the storage (empty until stored).")
    started_at = models.DateTimeField(default=timezone.now)
    stored_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                     help_text="When the file was stored (or found lost); empty while recording.")
    duration = models.FloatField(null=True, blank=True, help_text="Seconds of audio in the stored file.")
    partial = models.BooleanField(default=False, help_text="Only the part written before its media process died.")
    paused_since = models.DateTimeField(null=True, blank=True, help_text="Paused now, since then.")
    paused_spans = models.JSONField(default=list, blank=True,
                                    help_text="[start, end] seconds into the file of each pause (silence in it).")
    # The recording push (action=record) to the tenant's webhook, at least once, like the CDR's.
    push_id = models.UUIDField(default=uuid.uuid4, unique=True)
    push_attempts = models.PositiveIntegerField(default=0)
    push_next_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                        help_text="When its push is due; empty once delivered or if none.")
    pushed_at = models.DateTimeField(null=True, blank=True)
    push_error = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"recording of {self.session_id}"
