"""The audio SDP a phone trunk speaks: G.711 and RFC 4733 telephone-events (RFC 4566, RFC 3264).

We parse what trunks send (any number of m= lines, rtpmap/fmtp/ptime, direction attributes, the old hold
convention c=0.0.0.0 of RFC 2543 that RFC 3264 §8.4 still asks us to understand) and build two kinds of
description: an offer of PCMU/PCMA + telephone-event, and an answer to someone else's offer. Answer rules
(RFC 3264 §6): one m= line per offered line, in order, unaccepted ones with port 0; for the first audio line
we pick the first codec of the offer we support, keep the offer's telephone-event payload type, and mirror the
direction (their sendonly is our recvonly). Malformed SDP, or an offer with nothing we can use, raises
`SdpError` (a `SipError` answered 488 Not Acceptable Here, §13.3.1.3 / §21.4.26).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from .errors import SipError, reason_phrase
from .fields import is_digits

DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_MIRROR = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}
_FLAGS = {"sendrecv": (True, True), "sendonly": (True, False), "recvonly": (False, True), "inactive": (False, False)}


class SdpError(SipError):
    def __init__(self, detail: str, status: int = 488):
        super().__init__(status, f"{reason_phrase(status)} ({detail})")


@dataclass(frozen=True)
class Codec:
    payload_type: int
    name: str
    clock_rate: int = 8000
    channels: int = 1
    fmtp: str | None = None

    def rtpmap(self) -> str:
        channels = f"/{self.channels}" if self.channels != 1 else ""
        return f"{self.payload_type} {self.name}/{self.clock_rate}{channels}"

    def same_format(self, other: Codec) -> bool:
        return (self.name.lower(), self.clock_rate, self.channels) == (other.name.lower(), other.clock_rate,
                                                                       other.channels)


PCMU = Codec(0, "PCMU")
PCMA = Codec(8, "PCMA")
TELEPHONE_EVENT = Codec(101, "telephone-event", fmtp="0-16")
STATIC = {0: PCMU, 3: Codec(3, "GSM"), 4: Codec(4, "G723"), 8: PCMA, 9: Codec(9, "G722"), 13: Codec(13, "CN"),
          18: Codec(18, "G729")}


@dataclass
class Media:
    """One m= line with what we read of it. `codecs` follow the m= line's order (formats we cannot name,
    a dynamic type without rtpmap, are left out); `connection` is the media-level c= address if any."""

    kind: str
    port: int
    proto: str = "RTP/AVP"
    formats: list[str] = field(default_factory=list)
    codecs: list[Codec] = field(default_factory=list)
    connection: str | None = None
    direction: str | None = None
    ptime: int | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def codec(self) -> Codec | None:
        """The voice codec: the first one that is not telephone-event or comfort noise."""
        return next((c for c in self.codecs if c.name.lower() not in ("telephone-event", "cn")), None)

    @property
    def telephone_event(self) -> Codec | None:
        return next((c for c in self.codecs if c.name.lower() == "telephone-event"), None)


@dataclass
class SessionDescription:
    """A parsed or built SDP. `str()`/`encode()` give the text, CRLF-terminated lines (RFC 4566 §5)."""

    address: str
    media: list[Media] = field(default_factory=list)
    session_id: int = 0
    version: int = 0
    username: str = "-"
    origin_address: str | None = None
    name: str = "-"
    direction: str | None = None  # session-level attribute, the default for every m= line

    @property
    def audio(self) -> Media | None:
        return next((m for m in self.media if m.kind == "audio" and m.port != 0), None)

    def audio_direction(self) -> str:
        """Effective direction of the audio, the old-style hold (c=0.0.0.0: "do not send to me") folded in."""
        audio = self.audio
        direction = (audio and audio.direction) or self.direction or "sendrecv"
        if self.audio_address()[0] in ("0.0.0.0", "::"):
            sends, _ = _FLAGS[direction]
            direction = "sendonly" if sends else "inactive"
        return direction

    @property
    def on_hold(self) -> bool:
        """The sender of this description does not want to receive media (it holds the other side)."""
        return self.audio_direction() in ("sendonly", "inactive")

    def audio_address(self) -> tuple[str, int]:
        """Where the sender of this description receives RTP."""
        audio = self.audio
        if audio is None:
            return self.address, 0
        return audio.connection or self.address, audio.port

    def revised(self, direction: str | None = None) -> SessionDescription:
        """The same description as a new version (RFC 3264 §8: the o= version grows), e.g. to hold."""
        media = [replace(m, direction=direction or m.direction) for m in self.media]
        return replace(self, media=media, version=self.version + 1)

    def __str__(self) -> str:
        ip = "IP6" if ":" in self.address else "IP4"
        origin = self.origin_address or self.address
        lines = ["v=0", f"o={self.username} {self.session_id} {self.version} IN {'IP6' if ':' in origin else 'IP4'} "
                 f"{origin}", f"s={self.name}", f"c=IN {ip} {self.address}", "t=0 0"]
        if self.direction:
            lines.append(f"a={self.direction}")
        for media in self.media:
            lines.append(f"m={media.kind} {media.port} {media.proto} {' '.join(media.formats)}")
            if media.connection and media.connection != self.address:
                lines.append(f"c=IN {'IP6' if ':' in media.connection else 'IP4'} {media.connection}")
            for codec in media.codecs:
                lines.append(f"a=rtpmap:{codec.rtpmap()}")
                if codec.fmtp:
                    lines.append(f"a=fmtp:{codec.payload_type} {codec.fmtp}")
            if media.ptime:
                lines.append(f"a=ptime:{media.ptime}")
            for name, value in media.attributes:
                lines.append(f"a={name}" + (f":{value}" if value is not None else ""))
            if media.direction:
                lines.append(f"a={media.direction}")
        return "\r\n".join(lines) + "\r\n"

    def encode(self) -> bytes:
        return str(self).encode()

    @classmethod
    def parse(cls, data: bytes | str) -> SessionDescription:
        return parse(data)


def parse(data: bytes | str) -> SessionDescription:
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
    if not lines or lines[0] != "v=0":
        raise SdpError("SDP must start with v=0")
    sdp = SessionDescription(address="")
    media: Media | None = None
    rtpmaps: list[dict[int, Codec]] = []
    fmtps: list[dict[int, str]] = []
    for line in lines[1:]:
        kind, equals, value = line.partition("=")
        if len(kind) != 1 or not equals:
            raise SdpError(f"bad SDP line {line[:30]!r}")
        if kind == "o":
            _origin(sdp, value)
        elif kind == "s":
            sdp.name = value or "-"
        elif kind == "c":
            address = _connection(value)
            if media is None:
                sdp.address = address
            else:
                media.connection = address
        elif kind == "m":
            media = _media_line(value)
            sdp.media.append(media)
            rtpmaps.append({})
            fmtps.append({})
        elif kind == "a":
            name, _, attribute = value.partition(":")
            if name in DIRECTIONS:
                if media is None:
                    sdp.direction = name
                else:
                    media.direction = name
            elif media is not None:
                _media_attribute(media, name, attribute if ":" in value else None, rtpmaps[-1], fmtps[-1])
    for index, media in enumerate(sdp.media):
        media.codecs = _codecs(media, rtpmaps[index], fmtps[index])
    if not sdp.address and any(m.connection is None and m.port for m in sdp.media):
        raise SdpError("no c= line")
    return sdp


def _origin(sdp: SessionDescription, value: str) -> None:
    parts = value.split()
    if len(parts) != 6 or not is_digits(parts[1]) or not is_digits(parts[2]):
        raise SdpError("bad o= line")
    sdp.username, sdp.session_id, sdp.version, sdp.origin_address = parts[0], int(parts[1]), int(parts[2]), parts[5]


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError("bad c= line")
    return parts[2].split("/")[0]


def _media_line(value: str) -> Media:
    parts = value.split()
    if len(parts) < 4:
        raise SdpError("bad m= line")
    port = parts[1].split("/")[0]
    if not is_digits(port) or int(port) > 65535:
        raise SdpError("bad m= port")
    return Media(kind=parts[0], port=int(port), proto=parts[2], formats=parts[3:])


def _media_attribute(media: Media, name: str, value: str | None, rtpmaps: dict[int, Codec],
                     fmtps: dict[int, str]) -> None:
    if name == "rtpmap" and value:
        payload_type, _, encoding = value.partition(" ")
        parts = encoding.strip().split("/")
        if not is_digits(payload_type) or len(parts) < 2 or not is_digits(parts[1]):
            return  # unreadable (RFC 4475's "a=rtpmap:31 LPC"): the format stays unnamed, as if it had none
        channels = int(parts[2]) if len(parts) > 2 and is_digits(parts[2]) else 1
        rtpmaps[int(payload_type)] = Codec(int(payload_type), parts[0], int(parts[1]), channels)
    elif name == "fmtp" and value:
        payload_type, _, params = value.partition(" ")
        if is_digits(payload_type):
            fmtps[int(payload_type)] = params.strip()
    elif name == "ptime" and value and is_digits(value.strip()):
        media.ptime = int(value.strip())
    else:
        media.attributes.append((name, value))


def _codecs(media: Media, rtpmaps: dict[int, Codec], fmtps: dict[int, str]) -> list[Codec]:
    if not media.proto.upper().startswith("RTP/"):
        return []
    codecs = []
    for fmt in media.formats:
        if not is_digits(fmt) or int(fmt) > 127:
            raise SdpError("bad payload type")
        codec = rtpmaps.get(int(fmt)) or STATIC.get(int(fmt))
        if codec is not None:
            codecs.append(replace(codec, fmtp=fmtps.get(int(fmt))))
    return codecs


def build_offer(address: str, port: int, *, codecs: tuple[Codec, ...] = (PCMU, PCMA),
                telephone_event: int | None = 101, direction: str = "sendrecv", ptime: int = 20,
                session_id: int | None = None, version: int = 1) -> SessionDescription:
    """Our offer: G.711 in our order of preference, and RFC 4733 events 0-16 (DTMF) at `telephone_event`."""
    offered = list(codecs) + ([replace(TELEPHONE_EVENT, payload_type=telephone_event)] if telephone_event else [])
    audio = Media("audio", port, formats=[str(c.payload_type) for c in offered], codecs=offered,
                  direction=direction, ptime=ptime)
    return SessionDescription(address, [audio], session_id=session_id or random.randrange(1, 2 ** 31),
                              version=version)


def build_answer(offer: SessionDescription, address: str, port: int, *,
                 codecs: tuple[Codec, ...] = (PCMU, PCMA), direction: str = "sendrecv", ptime: int = 20,
                 session_id: int | None = None, version: int = 1) -> SessionDescription:
    """Our answer to `offer` (RFC 3264 §6.1). `direction` is what we want; the answer's is what both allow."""
    answered: list[Media] = []
    accepted = False
    for media in offer.media:
        chosen = None if accepted or media.kind != "audio" or media.port == 0 or media.proto.upper() != "RTP/AVP" \
            else next((c for c in media.codecs if any(c.same_format(ours) for ours in codecs)), None)
        if chosen is None:
            answered.append(Media(media.kind, 0, media.proto, media.formats[:1]))
            continue
        accepted = True
        event = media.telephone_event
        chosen_codecs = [chosen] + ([replace(event, fmtp=event.fmtp or "0-16")] if event else [])
        answered.append(Media("audio", port, "RTP/AVP", [str(c.payload_type) for c in chosen_codecs],
                              chosen_codecs, direction=_intersect(_MIRROR[offer.audio_direction()], direction),
                              ptime=ptime))
    if not accepted:
        raise SdpError("no common audio codec")
    return SessionDescription(address, answered, session_id=session_id or random.randrange(1, 2 ** 31),
                              version=version)


def _intersect(first: str, second: str) -> str:
    sends = _FLAGS[first][0] and _FLAGS[second][0]
    receives = _FLAGS[first][1] and _FLAGS[second][1]
    return next(name for name, flags in _FLAGS.items() if flags == (sends, receives))


def sdp_of(content_type: str | None, body: bytes) -> bytes | None:
    """The SDP in a body: the body itself, or the application/sdp part of a multipart/mixed one (trunks
    speaking SIP-I send SDP beside ISUP, RFC 3204/5621). None when there is no SDP."""
    if not body:
        return None
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/sdp":
        return body
    if kind.startswith("multipart/"):
        boundary = next((p.split("=", 1)[1].strip().strip('"') for p in (content_type or "").split(";")[1:]
                         if p.strip().lower().startswith("boundary=")), None)
        for part in body.split(b"--" + boundary.encode()) if boundary else []:
            head, _, content = part.replace(b"\r\n", b"\n").partition(b"\n\n")
            if b"application/sdp" in head.lower():
                return content.strip().replace(b"\n", b"\r\n") + b"\r\n"
    raise SdpError(f"unsupported body type {kind[:40]!r}", 415)
