"""Recording, the services' side: which calls are recorded (tenant, skill group), the plan that asks the engine
to record, pause and resume, and each finished file moved into Django's storage (whole, or partial when its
media process died), then deleted past the tenant's retention period.

The engine is the fake backend of test_media_backend.py (the plans it is sent are what is checked); the files
are real Ogg Opus written by the recorder's own writer (`OggFile`), with tones in them. What the engine records
from real peers is test_recording_engine.py's.
"""
from __future__ import annotations

import os
from datetime import timedelta

import numpy as np
import pytest
from django.db import transaction
from django.utils import timezone

from sessions_app.media.recorder import FRAME, RATE, OggFile
from sessions_app.models import MediaWorker, Recording, Session, SkillGroup, Tenant, found
from sessions_app.services import lifecycle, recordings, sessions
from sessions_app.services.endings import end_session
from sessions_app.services.errors import ServiceError

from . import factories
from .recordings import Decoded
from . import test_media_backend

pytestmark = pytest.mark.service


@pytest.fixture
def engine_commands(settings):
    """The fake media backend of test_media_backend.py in place of the engine: its `commands` are what was sent."""
    settings.MEDIA_BACKEND = "tests.test_media_backend.fake_backend"
    settings.MEDIA_IN_WORKERS = False
    test_media_backend.fake.commands, test_media_backend.fake.refusal = [], ""
    return test_media_backend.fake


@pytest.mark.unit
@pytest.mark.parametrize("tenant_on, group_on, recorded", [
    (True, None, True), (False, None, False), (True, False, False), (False, True, True)])
def test_a_call_is_recorded_as_its_group_says_else_as_its_tenant_says(tenant_on, group_on, recorded):
    session = Session(tenant=Tenant(record_calls=tenant_on), skill_group=SkillGroup(record_calls=group_on))
    assert recordings.recording_on(session) is recorded


def _accepted_call(tenant_on: bool = True, group_on: bool | None = None, kind: str = "voip") -> tuple[str, int]:
    """A web call of a new tenant, offered to and accepted by its agent: (session id, agent id)."""
    tenant = factories.tenant(record_calls=tenant_on)
    group = factories.skill_group(tenant, kind, record_calls=group_on)
    agent = factories.agent(tenant, group, status="free")
    with transaction.atomic():
        session = Session.objects.create(tenant=tenant, type=kind, state="queued", skill_group=group)
        lifecycle.offer(session, agent, timeout=0)
    sessions.accept(agent.pk, session.pk, "Call" if kind == "voip" else "Video")
    return session.pk, agent.pk


def _end(session_id: str) -> None:
    with transaction.atomic():
        session = found(Session.objects.locked("tenant", "skill_group", "agent", "caller_agent").filter(pk=session_id))
        end_session(session, close_by="client")


def _timeline(session_id: str) -> list[str]:
    return list(Session.objects.get(pk=session_id).timeline.values_list("what", flat=True))


def _last_plan(fake, session_id: str) -> dict:
    return [command[2] for command in fake.commands if command[0] == "apply_plan" and command[1] == session_id][-1]


@pytest.mark.parametrize("kind", ["voip", "video"])
def test_an_accepted_call_of_a_recording_tenant_is_recorded_from_accept(transactional_db, engine_commands, kind):
    session_id, _ = _accepted_call(kind=kind)

    recording = Recording.objects.get(session_id=session_id)
    assert _last_plan(engine_commands, session_id)["record"] == {
        "id": str(recording.pk), "path": recordings.spool_path(session_id), "paused": False}
    assert "recording started" in _timeline(session_id)
    _end(session_id)
    assert engine_commands.commands[-1] == ("end_call", session_id)


@pytest.mark.parametrize("tenant_on, group_on", [(False, None), (True, False)])
def test_a_call_that_is_not_to_be_recorded_has_no_recording(transactional_db, engine_commands, tenant_on, group_on):
    session_id, agent_id = _accepted_call(tenant_on, group_on)

    assert not Recording.objects.filter(session_id=session_id).exists()
    assert "record" not in _last_plan(engine_commands, session_id)
    with pytest.raises(ServiceError, match=f"session {session_id} is not being recorded"):
        sessions.set_recording_paused(agent_id, session_id, True)
    assert not any("recording" in line for line in _timeline(session_id))


def test_pause_and_resume_are_marked_in_the_timeline_and_sent_to_the_engine(transactional_db, engine_commands):
    session_id, agent_id = _accepted_call()

    sessions.set_recording_paused(agent_id, session_id, True)
    assert _last_plan(engine_commands, session_id)["record"]["paused"] is True
    with pytest.raises(ServiceError, match="already paused"):
        sessions.set_recording_paused(agent_id, session_id, True)
    sessions.set_recording_paused(agent_id, session_id, False)

    assert _last_plan(engine_commands, session_id)["record"]["paused"] is False
    recording = Recording.objects.get(session_id=session_id)
    [(start, end)] = recording.paused_spans
    assert 0 <= start <= end and recording.paused_since is None
    agent_user = recording.session.agent.user_id
    assert [line for line in _timeline(session_id) if "recording" in line] == [
        "recording started", f"{agent_user}: recording paused", f"{agent_user}: recording resumed"]


def test_only_the_agent_on_the_call_pauses_its_recording(transactional_db, engine_commands):
    session_id, _ = _accepted_call()
    stranger = factories.agent(Session.objects.get(pk=session_id).tenant)
    with pytest.raises(ServiceError, match="not yours"):
        sessions.set_recording_paused(stranger.pk, session_id, True)
    assert Recording.objects.get(session_id=session_id).paused_since is None


def _spool(path: str, seconds: float, part: bool = False) -> None:
    """A recording as the engine leaves it at `path`: 440 Hz left, 1000 Hz right; `part`: the engine died
    mid-call (what it had flushed to `path.part`, never finished)."""
    file = OggFile(path)
    t = np.arange(int(seconds * RATE)) / RATE
    both = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 1000 * t)], axis=1) * 9000
    frames = [chunk.astype(np.int16).reshape(1, -1) for chunk in np.split(both, len(both) // FRAME)]
    file.write(frames)
    flushed = open(path + ".part", "rb").read()
    file.close()
    if part:
        os.remove(path)
        open(path + ".part", "wb").write(flushed)


def test_a_finished_file_is_moved_into_storage_with_its_length(transactional_db, engine_commands, settings):
    session_id, agent_id = _accepted_call()
    sessions.set_recording_paused(agent_id, session_id, True)  # and never resumed: the pause lasts to the end
    _spool(recordings.spool_path(session_id), 1.0)
    _end(session_id)

    assert recordings.store_finished() == 1
    recording = Recording.objects.get(session_id=session_id)
    assert recording.file.name.endswith(f"/{session_id}.ogg") and recording.file.name.startswith("recordings/")
    assert os.path.dirname(recording.file.path).startswith(str(settings.MEDIA_ROOT))
    assert abs(recording.duration - 1.0) < 0.05 and not recording.partial
    assert len(recording.paused_spans) == 1 and recording.paused_since is None
    decoded = Decoded(recording.file.path)
    assert abs(decoded.left_hz(0.2, 0.8) - 440) < 15 and abs(decoded.right_hz(0.2, 0.8) - 1000) < 15
    assert not os.path.exists(recordings.spool_path(session_id))
    assert recordings.store_finished() == 0
    assert _last_plan(engine_commands, session_id).get("record") is not None  # until the end; then no plan, end_call


def test_the_part_file_of_a_media_process_that_died_is_stored_as_partial(transactional_db, engine_commands):
    session_id, _ = _accepted_call()
    _spool(recordings.spool_path(session_id), 3.0, part=True)
    _end(session_id)
    Session.objects.filter(pk=session_id).update(media_worker="gone")  # no such worker beats

    assert recordings.store_finished() == 1
    recording = Recording.objects.get(session_id=session_id)
    assert recording.partial and 1.5 < recording.duration <= 3.0
    decoded = Decoded(recording.file.path)
    assert abs(decoded.left_hz(decoded.seconds - 0.5, decoded.seconds) - 440) < 15
    assert "recording stored (partial: its media process stopped)" in _timeline(session_id)


@pytest.mark.parametrize("worker", ["w1", ""])  # "": no engine known (a phone call on the trunk's gateway)
def test_a_live_engine_is_given_time_to_finish_its_file(transactional_db, engine_commands, worker):
    session_id, _ = _accepted_call()
    MediaWorker.objects.create(pk="w1", channel_name="media-worker.w1")
    Session.objects.filter(pk=session_id).update(media_worker=worker)
    _spool(recordings.spool_path(session_id), 0.5, part=True)
    _end(session_id)

    assert recordings.store_finished() == 0  # still finishing it
    Session.objects.filter(pk=session_id).update(ended_at=timezone.now() - recordings.FINISH_WITHIN)
    assert recordings.store_finished() == 1
    assert Recording.objects.get(session_id=session_id).partial


def test_recordings_past_their_tenants_retention_are_deleted(transactional_db, engine_commands):
    kept_id, _ = _accepted_call()
    old_id, _ = _accepted_call()
    for session_id in (kept_id, old_id):
        _spool(recordings.spool_path(session_id), 0.2)
        _end(session_id)
    recordings.store_finished()
    Tenant.objects.filter(sessions__pk__in=[kept_id, old_id]).update(recording_retention_days=30)
    Recording.objects.filter(session_id=old_id).update(started_at=timezone.now() - timedelta(days=31))
    old_file = Recording.objects.get(session_id=old_id).file.path

    assert recordings.delete_expired(force=True) == 1
    assert list(Recording.objects.values_list("session_id", flat=True)) == [kept_id]
    assert not os.path.exists(old_file)


def test_the_demo_tenant_records_its_calls(tenant):
    assert tenant.record_calls and all(group.record_calls is None for group in tenant.skill_groups.all())


# Playback on the session's admin page.

def _stored_recording() -> Recording:
    session_id, _ = _accepted_call()
    _spool(recordings.spool_path(session_id), 2.0)
    _end(session_id)
    recordings.store_finished()
    return Recording.objects.select_related("session__tenant").get(session_id=session_id)


def _recording_url(recording: Recording) -> str:
    from django.urls import reverse

    return reverse("admin:sessions_app_session_recording", args=[recording.session_id])


def test_the_session_page_plays_the_recording_with_seeking_and_offers_its_download(
        transactional_db, engine_commands, client):
    from .test_admin_scoping import staff

    recording = _stored_recording()
    client.force_login(staff("supervisor", recording.session.tenant, "Supervisor"))
    whole = open(recording.file.path, "rb").read()
    url = _recording_url(recording)

    page = client.get(f"/admin/sessions_app/session/{recording.session_id}/change/").content.decode()
    assert f'<audio controls preload="metadata" src="{url}">' in page and f"{url}?download=1" in page
    played = client.get(url)
    assert played.status_code == 200 and played["Accept-Ranges"] == "bytes" and played["Content-Type"] == "audio/ogg"
    assert b"".join(played.streaming_content) == whole
    seeked = client.get(url, HTTP_RANGE="bytes=100-1099")
    assert seeked.status_code == 206 and seeked["Content-Range"] == f"bytes 100-1099/{len(whole)}"
    assert b"".join(seeked.streaming_content) == whole[100:1100]
    tail = client.get(url, HTTP_RANGE="bytes=-10")
    assert b"".join(tail.streaming_content) == whole[-10:]
    open_ended = client.get(url, HTTP_RANGE=f"bytes={len(whole) - 5}-")
    assert b"".join(open_ended.streaming_content) == whole[-5:]
    assert client.get(url, HTTP_RANGE=f"bytes={len(whole)}-").status_code == 416
    downloaded = client.get(url + "?download=1")
    assert downloaded["Content-Disposition"] == f'attachment; filename="{recording.session_id}.ogg"'


def test_another_tenants_supervisor_or_a_staff_account_without_the_right_gets_no_recording(
        transactional_db, engine_commands, client):
    from .test_admin_scoping import staff

    recording = _stored_recording()
    client.force_login(staff("other", factories.tenant(), "Administrator"))
    assert client.get(_recording_url(recording)).status_code == 404
    client.force_login(staff("no role", recording.session.tenant, None))
    assert client.get(_recording_url(recording)).status_code in (403, 404)


# RecordURL and RecordId: the CDR and GET /api/sessions/{id}.

def test_a_recorded_calls_record_url_plays_without_a_cookie_until_it_expires(transactional_db, engine_commands):
    from django.test import Client

    from sessions_app.models import Cdr
    from sessions_app.services import recording_links

    recording = _stored_recording()
    whole = open(recording.file.path, "rb").read()
    api = Client(HTTP_AUTHORIZATION=f"Bearer {recording.session.tenant.api_key}")
    described = api.get(f"/api/sessions/{recording.session_id}").json()
    assert described["RecordId"] == str(recording.pk) and described["RecordPartial"] is False
    assert described["RecordURL"].startswith(f"http://testserver/recordings/{recording.session_id}.ogg?expires=")

    anyone = Client()  # no cookie, no key: the link is the permission
    fetched = anyone.get(described["RecordURL"])
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == whole
    seeked = anyone.get(described["RecordURL"], HTTP_RANGE="bytes=10-19")
    assert seeked.status_code == 206 and b"".join(seeked.streaming_content) == whole[10:20]
    assert anyone.get(described["RecordURL"].replace("signature=", "signature=x")).status_code == 404
    assert anyone.get(recording_links.record_url(recording, ttl=-1)).status_code == 404
    other, _ = _accepted_call()
    assert anyone.get(described["RecordURL"].replace(recording.session_id, other)).status_code == 404

    payload = Cdr.objects.get(session_id=recording.session_id).payload
    assert payload["RecordId"] == str(recording.pk) and payload["RecordPartial"] is False
    assert f"/recordings/{recording.session_id}.ogg?expires=" in payload["RecordURL"]


def test_a_record_url_fetched_before_its_file_is_stored_is_told_to_try_again(transactional_db, engine_commands):
    from django.test import Client

    from sessions_app.models import Cdr

    session_id, _ = _accepted_call()
    _spool(recordings.spool_path(session_id), 2.0)
    _end(session_id)
    early = Client().get(Cdr.objects.get(session_id=session_id).payload["RecordURL"])
    assert early.status_code == 503 and early["Retry-After"] == "5"
    assert b"still being stored" in early.content

    recordings.store_finished()
    stored = Client().get(Cdr.objects.get(session_id=session_id).payload["RecordURL"])
    assert stored.status_code == 200 and b"".join(stored.streaming_content).startswith(b"OggS")


def test_a_call_not_recorded_has_empty_record_fields(transactional_db, engine_commands):
    from sessions_app.models import Cdr

    session_id, _ = _accepted_call(tenant_on=False)
    _end(session_id)
    payload = Cdr.objects.get(session_id=session_id).payload
    assert (payload["RecordId"], payload["RecordURL"]) == ("", "") and "RecordPartial" not in payload


# The recording push (action=record).

async def test_the_recording_push_is_signed_and_retried_until_the_receiver_takes_it(
        transactional_db, engine_commands, settings):
    import hashlib
    import hmac
    import json

    import httpx
    from channels.db import database_sync_to_async

    from sessions_app.services.deadlines import push_due_recordings

    from .webhook_receiver import OK, Receiver

    settings.CDR_RETRY_BASE = 0  # the retry is due at once

    async def push() -> int:
        async with httpx.AsyncClient() as client:
            return await push_due_recordings(client)

    with Receiver((500, {"ErrCode": 1}), OK) as receiver:
        def recorded_call_with_webhook() -> Recording:
            recording = _stored_recording()  # stored before the webhook: nothing to push
            Tenant.objects.filter(pk=recording.session.tenant_id).update(cdr_webhook_url=receiver.url + "?key=1")
            recording.refresh_from_db()
            recording.session.tenant.refresh_from_db()
            return recording

        recording = await database_sync_to_async(recorded_call_with_webhook)()
        assert await push() == 0
        later = await database_sync_to_async(lambda: _stored_recording_of(recording.session.tenant))()
        assert await push() == 1  # answered 500: retried
        assert await push() == 1
        assert await push() == 0

    first, second = receiver.requests
    assert first["path"] == second["path"] == "/cdr?key=1&action=record&version=1"
    assert first["headers"]["X-Tccc-Push-Id"] == second["headers"]["X-Tccc-Push-Id"] == str(later.push_id)
    secret = later.session.tenant.cdr_secret
    expected = "sha256=" + hmac.new(secret.encode(), second["body"], hashlib.sha256).hexdigest()
    assert second["headers"]["X-Tccc-Signature"] == expected
    body = json.loads(second["body"])
    assert body["RecordId"] == str(later.pk) and body["SessionId"] == later.session_id
    assert body["SdkAppId"] == int(later.session.tenant.sdk_app_id) and body["RecordPartial"] is False
    assert f"/recordings/{later.session_id}.ogg?expires=" in body["RecordURL"] and body["Duration"] > 1.9
    pushed = await Recording.objects.aget(pk=later.pk)
    assert pushed.pushed_at is not None and pushed.push_attempts == 2 and pushed.push_next_at is None


def _stored_recording_of(tenant: Tenant) -> Recording:
    """A recorded call of `tenant` (which has a webhook now), stored."""
    group = factories.skill_group(tenant, "voip")
    agent = factories.agent(tenant, group, status="free")
    with transaction.atomic():
        session = Session.objects.create(tenant=tenant, type="voip", state="queued", skill_group=group)
        lifecycle.offer(session, agent, timeout=0)
    sessions.accept(agent.pk, session.pk, "Call")
    _spool(recordings.spool_path(session.pk), 2.0)
    _end(session.pk)
    recordings.store_finished()
    return Recording.objects.select_related("session__tenant").get(session_id=session.pk)


def test_a_file_the_storage_fails_to_take_is_tried_again(transactional_db, engine_commands, monkeypatch):
    from django.core.files.storage import FileSystemStorage

    session_id, _ = _accepted_call()
    _spool(recordings.spool_path(session_id), 0.5)
    _end(session_id)
    monkeypatch.setattr(FileSystemStorage, "_save", lambda *args: (_ for _ in ()).throw(OSError("disk full")))
    assert recordings.store_finished() == 0  # logged; the sweep's other deadlines go on
    assert Recording.objects.get(session_id=session_id).stored_at is None
    assert os.path.exists(recordings.spool_path(session_id))
    monkeypatch.undo()
    assert recordings.store_finished() == 1 and Recording.objects.get(session_id=session_id).file


def test_a_recordings_file_goes_with_its_session(transactional_db, engine_commands):
    recording = _stored_recording()
    path = recording.file.path
    recording.session.delete()  # a superuser deletes the session in admin
    assert not os.path.exists(path)
