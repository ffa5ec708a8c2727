"""Which media engines this process drives, chosen once (`settings.MEDIA_BACKEND` names `backend`): the
media workers' over the channel layer when MEDIA_IN_WORKERS, else an engine on a thread of this process,
started on first use. Services see either as a `services.media.MediaBackend`.
"""
from __future__ import annotations

import threading

from django.conf import settings

from sessions_app.services import media_workers
from sessions_app.services.media import MediaBackend

_backend: MediaBackend | None = None
_backend_lock = threading.Lock()


def backend(start: bool = True) -> MediaBackend | None:
    """The engines, started on first use; None if not started and `start` is False (with workers, the
    workers' client is there from the first ask: it starts nothing)."""
    global _backend
    if _backend is None and (start or settings.MEDIA_IN_WORKERS):
        with _backend_lock:
            if _backend is None and settings.MEDIA_IN_WORKERS:
                from sessions_app.media.remote import RemoteMedia

                _backend = RemoteMedia(channel_for=_worker_channel)
            elif _backend is None:
                from sessions_app.media.embedded import EmbeddedMedia

                _backend = EmbeddedMedia(settings.MEDIA_HOST_ADDRESSES, settings.ICE)
    return _backend


def _worker_channel(session_id: str, assign: bool) -> str:
    worker = media_workers.worker_for(session_id, assign)
    return worker.channel_name if worker else ""


def shut_down() -> None:
    """This process stops in order: its media thread's calls end and the trunk's calls get their BYE."""
    engine = backend(start=False)
    if engine is not None and not settings.MEDIA_IN_WORKERS:
        engine.stop()
