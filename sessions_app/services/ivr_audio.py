"""Audio for IVR prompts uploaded by URL (the cloud API's UploadIvrAudio): the server fetches each URL, checks that
it serves WAV or MP3 audio, and stores it as a 16-bit mono WAV in the storage IVR menus' prompts use (`ivr/`,
through Django's storage API), where `IvrMenu.prompt_audio` can name it.

Fetching a URL someone else chose is a server-side request forgery risk, so the fetch is narrow:
- http and https only; the host's every address must be public (not loopback, private, link-local, multicast or
  reserved) or in a network `IVR_AUDIO_FETCH_ALLOW` names (a closed network's file server; 127.0.0.1 in tests);
- the connection goes to the address checked (no second lookup that DNS rebinding could answer otherwise);
- no redirects; at most `MAX_BYTES` (Tencent's 5 MB), and `TIMEOUT_SECONDS` for the whole fetch, however slowly
  the server drips;
- the body must be WAV or MP3 by its first bytes and decode as such (PyAV is told the format, so ffmpeg never
  probes it as, say, a playlist that would fetch more), and at most `MAX_SECONDS` long once decoded.
A request's files are all fetched and checked before any is stored: one refused, none is kept.
"""
from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import time
import uuid
import wave
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import av
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from ..models import IvrAudio, Tenant
from .errors import LimitReached, ServiceError

MAX_BYTES = 5 * 1024 * 1024
TIMEOUT_SECONDS = 10.0
MAX_SECONDS = 600  # decoded; an MP3 of 5 MB at a low bit rate could otherwise decode to hours
PER_DAY = 50  # files a tenant may upload in 24 hours, as Tencent's
SAMPLE_RATE = 16000


class BadAudio(ServiceError):
    """The URL, or what it serves, cannot be an IVR audio file: a wrong value in the request."""


@dataclass(frozen=True)
class Upload:
    custom_file_name: str
    url: str


def upload(tenant: Tenant, uploads: list[Upload]) -> list[IvrAudio]:
    """Fetch, check and store each file; refused (BadAudio, or ServiceError when a server cannot be reached)
    with nothing stored if any one is. The fetches hold no transaction (on SQLite a transaction holds the one
    write lock, and every other writer would wait for a slow server); the files are stored in one."""
    _check_limit(tenant, len(uploads))
    fetched = [(each, fetch_wav(each.url)) for each in uploads]
    with transaction.atomic():
        _check_limit(tenant, len(uploads))
        stored = []
        for each, wav in fetched:
            audio = IvrAudio(tenant=tenant, custom_file_name=each.custom_file_name, source_url=each.url)
            audio.audio.save(f"{uuid.uuid4().hex}.wav", ContentFile(wav), save=True)
            stored.append(audio)
    return stored


def _check_limit(tenant: Tenant, count: int) -> None:
    since = timezone.now() - timedelta(hours=24)
    if IvrAudio.objects.filter(tenant=tenant, created_at__gte=since).count() + count > PER_DAY:
        raise LimitReached(f"at most {PER_DAY} IVR audio files may be uploaded in 24 hours")


def describe(tenant: Tenant, *, offset: int, limit: int, custom_file_names: list[str] | None = None,
             audio_file_names: list[str] | None = None, file_ids: list[int] | None = None) -> tuple[int, list[IvrAudio]]:
    """A page of the tenant's IVR audio files, oldest first, and how many match in all."""
    rows = IvrAudio.objects.filter(tenant=tenant)
    if custom_file_names:
        rows = rows.filter(custom_file_name__in=custom_file_names)
    if audio_file_names:
        rows = rows.filter(audio__in=[f"ivr/{name}" for name in audio_file_names])
    if file_ids:
        rows = rows.filter(pk__in=file_ids)
    rows = rows.order_by("pk")
    return rows.count(), list(rows[offset:offset + limit])


def file_name(audio: IvrAudio) -> str:
    return audio.audio.name.rsplit("/", 1)[-1]


def fetch_wav(url: str) -> bytes:
    """The audio at `url` as WAV bytes, after every check above."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BadAudio(f"{url} has no valid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadAudio(f"{url} is not an http or https URL")
    address = _allowed_address(parts.hostname, port)
    return as_wav(_download(parts, address, port), url)


def _allowed_address(host: str, port: int) -> str:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise ServiceError(f"{host} cannot be resolved") from None
    addresses = [info[4][0] for info in found]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        allowed = any(ip in network for network in settings.IVR_AUDIO_FETCH_ALLOW if network.version == ip.version)
        if (not ip.is_global or ip.is_multicast) and not allowed:
            raise BadAudio(f"{host} is a loopback, private, link-local or other non-public address: audio is "
                           f"fetched from public servers only (IVR_AUDIO_FETCH_ALLOW names exceptions)")
    return addresses[0]


class _Pinned(http.client.HTTPConnection):
    """An HTTP connection to the address already checked, naming the host in its Host header."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedTls(_Pinned):
    def connect(self):
        super().connect()
        self.sock = ssl.create_default_context().wrap_socket(self.sock, server_hostname=self.host)


def _download(parts, address: str, port: int) -> bytes:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    kind = _PinnedTls if parts.scheme == "https" else _Pinned
    connection = kind(parts.hostname, port, address, TIMEOUT_SECONDS)
    url = parts.geturl()
    try:
        connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                           headers={"Accept": "audio/wav, audio/mpeg, audio/*"})
        response = connection.getresponse()
        if response.status != 200:
            raise ServiceError(f"{url} answered HTTP {response.status}")
        declared = response.getheader("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_BYTES:
            raise BadAudio(f"{url} is {declared} bytes: at most {MAX_BYTES}")
        body = bytearray()
        while chunk := response.read1(65536):
            body += chunk
            if len(body) > MAX_BYTES:
                raise BadAudio(f"{url} is larger than {MAX_BYTES} bytes")
            if time.monotonic() > deadline:
                raise ServiceError(f"{url} did not arrive within {TIMEOUT_SECONDS:g} seconds")
        return bytes(body)
    except (OSError, http.client.HTTPException) as error:
        raise ServiceError(f"{url} could not be fetched: {error or type(error).__name__}") from None
    finally:
        connection.close()


def _format(body: bytes) -> str | None:
    if body[:4] == b"RIFF" and body[8:12] == b"WAVE":
        return "wav"
    if body[:3] == b"ID3" or (len(body) > 1 and body[0] == 0xFF and body[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def as_wav(body: bytes, url: str) -> bytes:
    """`body` (WAV or MP3) decoded and written again as 16-bit mono WAV at SAMPLE_RATE."""
    kind = _format(body)
    if kind is None:
        raise BadAudio(f"{url} is not WAV or MP3 audio")
    pcm, limit = bytearray(), MAX_SECONDS * SAMPLE_RATE * 2
    try:
        with av.open(io.BytesIO(body), format=kind) as container:
            if not container.streams.audio:
                raise BadAudio(f"{url} has no audio")
            resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
            for decoded in container.decode(audio=0):
                for frame in resampler.resample(decoded):
                    pcm += frame.to_ndarray().tobytes()
                if len(pcm) > limit:
                    raise BadAudio(f"{url} is longer than {MAX_SECONDS} seconds")
            for frame in resampler.resample(None):
                pcm += frame.to_ndarray().tobytes()
    except (av.error.FFmpegError, IndexError, ValueError) as error:
        raise BadAudio(f"{url} is not playable {kind.upper()} audio: {error}") from None
    if not pcm:
        raise BadAudio(f"{url} has no audio")
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(SAMPLE_RATE)
        writer.writeframes(bytes(pcm))
    return out.getvalue()
