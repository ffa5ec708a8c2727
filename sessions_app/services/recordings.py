"""Calls' recordings: whether a call is recorded, its pauses, and moving each finished file into storage.

A call is recorded when its tenant says so, or its skill group (whose setting, when it has one, overrides the
tenant's). The `Recording` row is made when the call is first accepted (`lifecycle`), and from then until the
call ends its plan asks the engine to record (`plan_entry`, in `media.plan_for`): the engine writes
`<spool>/<session id>.ogg.part`, renamed without `.part` when it finishes the file in order
(media/recorder.py). The spool (`RECORDING_SPOOL_DIR`) is a directory the web processes and the media workers
of one machine share.

After the call ends, the sweeper moves the file into Django's default storage (`store_finished`): a finished
file at once; a `.part` file as it is, marked partial, once the engine that wrote it is gone or has had
`FINISH_WITHIN` to finish it; the session's CDR, if not delivered yet, then says whether it is partial
(`cdr.recording_settled`), and the recording push is due (`recording_push`). Recordings older than their
tenant's retention period are deleted (`delete_expired`; a row's file goes with it however the row is deleted:
receivers.py). The links to a file (RecordURL) are `recording_links`'.
"""
from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timedelta

import av
from django.conf import settings
from django.core.files import File
from django.utils import timezone

from ..models import Recording, Session, Tenant, found
from . import cdr, media_workers, recording_push, timeline
from .errors import ServiceError

log = logging.getLogger(__name__)

FINISH_WITHIN = timedelta(seconds=15)  # an engine still alive gets this long after the end to finish the file
RETENTION_EVERY = 60.0  # seconds between retention sweeps in one process
RECORDED_TYPES = ("voip", "video", "internal", "phone")
_last_retention_sweep = 0.0


def recording_on(session: Session) -> bool:
    """Whether the session's calls are recorded: its skill group's setting, else its tenant's."""
    group = session.skill_group
    if group is not None and group.record_calls is not None:
        return group.record_calls
    return session.tenant.record_calls


def start_if_on(session: Session) -> None:
    """The call was accepted (or answered): record it from now if recording is on, once per session."""
    if session.type in RECORDED_TYPES and recording_on(session):
        _, made = Recording.objects.get_or_create(session=session)
        if made:
            timeline.log(session, "recording started")


def spool_path(session_id: str) -> str:
    return os.path.join(settings.RECORDING_SPOOL_DIR, f"{session_id}.ogg")


def plan_entry(session: Session) -> dict | None:
    """The plan's `record` for the session as its rows say now (media/call.py's `Recording`), or None."""
    if session.state == "ended":
        return None
    recording = found(Recording.objects.filter(session_id=session.pk, stored_at__isnull=True))
    if recording is None:
        return None
    return {"id": str(recording.pk), "path": spool_path(session.pk), "paused": recording.paused_since is not None}


def pause(session: Session, paused: bool, by: str) -> None:
    """Pause (silence in the file) or resume the recording of `session` (locked by the caller, in progress):
    marked in the session's timeline and the recording's pauses. The caller sends the plan (`media.sync`)."""
    recording = found(Recording.objects.select_for_update().filter(session=session, stored_at__isnull=True))
    if recording is None:
        raise ServiceError(f"session {session.pk} is not being recorded")
    if (recording.paused_since is not None) == paused:
        raise ServiceError(f"the recording is {'already' if paused else 'not'} paused")
    now = timezone.now()
    if paused:
        recording.paused_since = now
    else:
        recording.paused_spans = [*recording.paused_spans, _span(recording, recording.paused_since, now)]
        recording.paused_since = None
    recording.save(update_fields=["paused_since", "paused_spans"])
    timeline.log(session, f"{by}: recording {'paused' if paused else 'resumed'}")


def _span(recording: Recording, start: datetime, end: datetime) -> list[float]:
    offset = lambda moment: round(max(0.0, (moment - recording.started_at).total_seconds()), 2)  # noqa: E731
    return [offset(start), offset(end)]


def store_finished() -> int:
    """Move the files of recorded calls that ended into storage; returns how many were settled."""
    now = timezone.now()
    waiting = Recording.objects.filter(stored_at__isnull=True, session__state="ended").select_related("session")
    settled = 0
    for recording in waiting[:20]:
        path = spool_path(recording.session_id)
        finished = os.path.exists(path)
        if not finished:
            session = recording.session
            # a session no engine is known to carry (a phone call on the trunk's gateway) may still be finishing
            gone = bool(session.media_worker) and not media_workers.live_workers().filter(
                pk=session.media_worker).exists()
            if not gone and now - (session.ended_at or now) < FINISH_WITHIN:
                continue  # its engine is finishing it
            path = path + ".part"
        if _claim(recording, now):
            try:
                _store(recording, path if os.path.exists(path) else "", partial=not finished)
            except Exception:  # the storage failed (full, unreachable): tried again at the next sweep, and the
                # sweep's other deadlines (ring timeouts ...) go on meanwhile
                Recording.objects.filter(pk=recording.pk).update(stored_at=None)
                log.exception("storing the recording of session %s failed", recording.session_id)
                continue
            settled += 1
    return settled


def _claim(recording: Recording, now: datetime) -> bool:
    """Only one process stores a file: the one whose conditional update marks it first."""
    return bool(Recording.objects.filter(pk=recording.pk, stored_at__isnull=True).update(stored_at=now))


def _store(recording: Recording, path: str, partial: bool) -> None:
    session = recording.session
    if recording.paused_since is not None:  # paused until the end
        recording.paused_spans = [*recording.paused_spans, _span(recording, recording.paused_since,
                                                                 session.ended_at or timezone.now())]
        recording.paused_since = None
    recording.partial = partial
    if path:
        day = (session.accepted_at or session.created_at).date()
        with open(path, "rb") as spooled:
            recording.file.save(f"recordings/{session.tenant_id}/{day:%Y/%m/%d}/{session.pk}.ogg", File(spooled),
                                save=False)
        recording.duration = _seconds(recording.file.path if _local(recording) else path)
        os.remove(path)
    else:
        log.warning("the recording of session %s was never written", session.pk)
    recording.save(update_fields=["file", "duration", "partial", "paused_since", "paused_spans"])
    timeline.log(session, "recording stored" + (" (partial: its media process stopped)" if partial else ""))
    cdr.recording_settled(session, partial)
    recording_push.schedule(recording)


def _local(recording: Recording) -> bool:
    try:
        recording.file.path
    except NotImplementedError:  # a remote storage (S3 ...): measured from the spooled copy instead
        return False
    return True


def _seconds(path: str) -> float | None:
    """The audio's length; a cut file is read to its last whole page."""
    try:
        with av.open(path) as container:
            stream = container.streams.audio[0]
            last = None
            for packet in container.demux(stream):
                if packet.pts is not None:
                    last = packet.pts + (packet.duration or 0)
            return round(float(last * stream.time_base), 2) if last is not None else 0.0
    except (av.FFmpegError, IndexError):
        return None


def delete_expired(force: bool = False) -> int:
    """Delete the stored recordings of calls older than their tenant's retention period (at most every
    RETENTION_EVERY seconds per process, and a bounded number at a time); returns how many."""
    global _last_retention_sweep
    if not force and time.monotonic() - _last_retention_sweep < RETENTION_EVERY:
        return 0
    _last_retention_sweep = time.monotonic()
    deleted = 0
    for tenant in Tenant.objects.filter(recording_retention_days__gt=0):
        cutoff = timezone.now() - timedelta(days=tenant.recording_retention_days)
        for recording in Recording.objects.filter(session__tenant=tenant, started_at__lt=cutoff,
                                                  stored_at__isnull=False)[:200]:
            recording.delete()  # its file goes with it (receivers.py)
            deleted += 1
    return deleted
