"""What our code relies on in the libraries whose internals it reaches into or overrides, stated so that an upgrade
that changes it fails here, naming the file of ours to revisit, instead of breaking that file in production.

Three kinds of statement:
- a function or method we copied and changed (`MIRRORED`): its upstream text is still the one we copied, by a
  digest of its source, read from the library's file (so a monkeypatch of ours cannot hide a change);
- a line of upstream code we depend on without copying it (`RELIED`): it is still there, word for word;
- a behaviour we depend on: shown by running the library, without servers.

Behaviour that needs a server is in the modules' own tests, named beside each pin in requirements.txt, which
pins these libraries exactly. To upgrade one: install it, run this module, re-read what each failure names, bring
our file in line, then update the digest or line here and the pin.
"""
from __future__ import annotations

import ast
import asyncio
import hashlib
import importlib.util
import inspect
import re
import threading
from importlib import metadata
from pathlib import Path

import av
import numpy as np
import pytest
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.web import http as twisted_http

pytestmark = pytest.mark.unit

REQUIREMENTS = Path(__file__).resolve().parent.parent / "requirements.txt"


def upstream_source(module_name: str, qualname: str) -> str:
    """The text of `qualname` (a function, or `Class.method`; "": the whole module) as the module's file has it,
    or "" when the module no longer has it."""
    path = importlib.util.find_spec(module_name).origin
    text = Path(path).read_text()
    if not qualname:
        return text
    nodes = ast.parse(text).body
    node = None
    for name in qualname.split("."):
        node = next((n for n in nodes if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                     and n.name == name), None)
        if node is None:
            return ""
        nodes = node.body
    return ast.get_source_segment(text, node)


def digest(module_name: str, qualname: str) -> str:
    """Of the source's text, or "gone" when there is none."""
    source = upstream_source(module_name, qualname)
    return hashlib.sha256(source.encode()).hexdigest()[:16] if source else "gone"


# (module, function or method, digest of its source, our file, what of ours follows it)
MIRRORED = [
    ("channels_redis.core", "RedisChannelLayer.group_send", "a7e162859779a242",
     "workbench/redis_layer.py", "GROUP_SEND_LUA and _send_to_members do what it does, in one script"),
    ("channels_redis.core", "RedisChannelLayer._map_channel_keys_to_connection", "6563b515ebf575a2",
     "workbench/redis_layer.py", "_send_to_members stores the messages it serializes"),
    ("channels_redis.core", "RedisChannelLayer.group_add", "94283836d4d5e2e3",
     "workbench/redis_layer.py", "rejoin_if_forgotten re-joins through it, so it must stay idempotent"),
    ("channels.layers", "InMemoryChannelLayer._clean_expired", "81b64aea6b77a043",
     "workbench/channel_layer.py", "ThrottledInMemoryChannelLayer runs it at most once a second"),
    ("django.db.backends.base.base", "BaseDatabaseWrapper.close_if_health_check_failed", "7b5969b7cac5164a",
     "workbench/postgresql/base.py", "DatabaseWrapper marks a rested-briefly connection as checked"),
    ("django.db.backends.base.base", "BaseDatabaseWrapper.close_if_unusable_or_obsolete", "40cfff29fe13e92e",
     "workbench/postgresql/base.py", "DatabaseWrapper notes when a connection was released"),
    ("django.db.backends.postgresql.base", "DatabaseWrapper.close_if_health_check_failed", "bed18596f3145760",
     "workbench/postgresql/base.py", "DatabaseWrapper overrides it"),
    ("channels.consumer", "AsyncConsumer.dispatch", "8acee1bceaa8491c",
     "sessions_app/consumers/frames.py", "JsonFramesConsumer.dispatch is it without aclose_old_connections"),
    ("channels.db", "DatabaseSyncToAsync.thread_handler", "8e41f1568081c476",
     "sessions_app/consumers/frames.py", "dispatch skips Channels' close_old_connections because this does it"),
    ("django.core.handlers.asgi", "ASGIHandler.__call__", "f252eb4e47b97588",
     "workbench/api_handler.py", "ApiHandler.__call__ is it without the ThreadSensitiveContext"),
    ("django.core.handlers.asgi", "ASGIHandler.handle", "2e2dae70240a12a6",
     "workbench/api_handler.py", "ApiHandler.handle is it without the request signals and disconnect watch"),
    ("django.utils.deprecation", "MiddlewareMixin.__acall__", "1e8071ad2dfb4d0f",
     "workbench/api_handler.py", "SecurityHeaders.__acall__ is it without the hops to a thread"),
    ("django.middleware.security", "SecurityMiddleware.process_request", "3f7a291014714575",
     "workbench/api_handler.py", "SecurityHeaders calls it on the event loop: it must stay free of I/O"),
    ("django.middleware.security", "SecurityMiddleware.process_response", "89a732b40dcbf06a",
     "workbench/api_handler.py", "SecurityHeaders calls it on the event loop: it must stay free of I/O"),
    ("django.contrib.auth.base_user", "AbstractBaseUser.check_password", "7319f18f0ccd1357",
     "sessions_app/receivers.py", "rehashed() tells its hash upgrade by `_password` being None"),
    ("aiortc.rtp", "compute_audio_level_dbov", "efa68f4bc5ccd854",
     "sessions_app/media/patches.py", "audio_level_dbov is its formula over numpy"),
    ("aiortc.rtcrtpsender", "RTCRtpSender._next_encoded_frame", "3952848650ecdde6",
     "sessions_app/media/patches.py", "_next_encoded_frame is it, encoding audio on the loop"),
    ("aiortc.rtcrtpreceiver", "decoder_worker", "d4d16e2781aa52fa",
     "sessions_app/media/patches.py", "InlineAudioDecoder does what it does, on the loop"),
    ("aiortc.rtcrtpreceiver", "RTCRtpReceiver.__init__", "6dbdf3870580045b",
     "sessions_app/media/patches.py", "_receiver_init replaces the audio receiver's decoder queue it makes"),
    ("aiortc.rtcrtpreceiver", "RTCRtpReceiver.receive", "c1273617b5ec0d2b",
     "sessions_app/media/patches.py", "_decoder_worker is started in its thread with the queue it is given"),
    ("aiortc.rtcrtpsender", "RTCRtpSender._run_rtp", "d6182d791dbe8fda",
     "sessions_app/media/patches.py", "_run_rtp and packet_path.send_packet are it, its state kept on the sender"),
    ("aiortc.rtcrtpsender", "RTCRtpSender.send", "556436de4f54f3ea",
     "sessions_app/media/packet_path.py", "HeaderShape.of reads the MID, extension ids and RTX it sets before _run_rtp"),
    ("aiortc.rtcrtpsender", "RTCRtpSender._retransmit", "b6284b14b843cce1",
     "sessions_app/media/packet_path.py", "Sent is what it reads of a packet in the history"),
    ("aiortc.rtp", "HeaderExtensionsMap.set", "119cf8ae6157af99",
     "sessions_app/media/packet_path.py", "HeaderShape lays out the extensions it sets, in its order"),
    ("aiortc.rtp", "pack_header_extensions", "c39d7f638a456c5f",
     "sessions_app/media/packet_path.py", "HeaderShape.pack is its one-byte form, and refuses what takes the other"),
    ("aiortc.rtp", "RtpPacket.parse", "99bcf913bb70aa0c",
     "sessions_app/media/packet_path.py", "payload_of reads the payload as it does and refuses what it refuses"),
    ("aiortc.rtcdtlstransport", "RtpRouter.route_rtp", "c6899c09ce88b629",
     "sessions_app/media/packet_path.py", "route is it, from the SSRC and payload type"),
    ("aiortc.rtcrtpreceiver", "StreamStatistics.add", "9d39f3586559ec76",
     "sessions_app/media/packet_path.py", "Seen carries the two fields it reads of a packet"),
    ("aiortc.jitterbuffer", "JitterBuffer.__init__", "cd2893c1073ac9e9",
     "sessions_app/media/patches.py", "ShortJitterBuffer.clear empties the fields it makes"),
    ("aiortc.rtcrtpreceiver", "RTCRtpReceiver._handle_rtp_packet", "fa16b7580887aea0",
     "sessions_app/media/packet_path.py", "handle_audio is its audio part, as a plain call"),
    ("aiortc.rtcdtlstransport", "RTCDtlsTransport._send_rtp", "192d858279638ddc",
     "sessions_app/media/packet_path.py", "send_srtp is it for RTP, without awaiting"),
    ("aiortc.rtcdtlstransport", "RTCDtlsTransport._recv_next", "0da842a09bc0a8be",
     "sessions_app/media/packet_path.py", "receive_at_once is it for one SRTP packet, in the datagram callback"),
    ("aioice.ice", "StunProtocol.datagram_received", "d77549e6d0f1aff6",
     "sessions_app/media/patches.py", "_stun_datagram_received passes media on as it does, without a STUN parse"),
    ("aioice.ice", "StunProtocol.send_data", "f2b04c82ff3898db",
     "sessions_app/media/packet_path.py", "send_srtp calls the UDP transport's sendto as it does, without awaiting"),
    ("aioice.ice", "Connection.data_received", "c1520e1eecf5a1a2",
     "sessions_app/media/patches.py", "_data_received hands on to it what it does not handle at once"),
    ("aiortc.rtcicetransport", "connection_kwargs", "52c5d787c16ce572",
     "sessions_app/media/ice.py", "usable() keeps only the URLs it uses, so it never refuses a list"),
]

# (module, function or method, a line of it, our file, why we need the line)
RELIED = [
    ("django.db", "close_old_connections", "conn.close_if_unusable_or_obsolete()",
     "workbench/postgresql/base.py", "a connection is released between uses here"),
    ("django.db.backends.base.base", "BaseDatabaseWrapper._cursor", "self.close_if_health_check_failed()",
     "workbench/postgresql/base.py", "the health check runs before a cursor"),
    ("channels.consumer", "AsyncConsumer.__call__", "self.dispatch",
     "sessions_app/consumers/frames.py", "every message goes through dispatch"),
    ("django.core.handlers.base", "BaseHandler.load_middleware", "settings.MIDDLEWARE",
     "workbench/api_handler.py", "ApiHandler builds its chain by overriding MIDDLEWARE around it"),
    ("channels.layers", "InMemoryChannelLayer.receive", "self._clean_expired()",
     "workbench/channel_layer.py", "expired messages are swept as messages are received"),
    ("daphne.server", "", "asyncioreactor.install(twisted_loop)",
     "workbench/sweeper.py", "start_with_reactor serves the outbox and the sweep on asyncio's loop, the reactor's"),
    ("aiortc.rtcrtpreceiver", "RTCRtpReceiver._handle_rtp_packet",
     "self.__decoder_queue.put((codec, encoded_frame))",
     "sessions_app/media/patches.py", "InlineAudioDecoder.put takes what the decoder queue is given"),
    ("aiortc.rtcrtpreceiver", "RTCRtpReceiver.__stop_decoder", "self.__decoder_queue.put(None)",
     "sessions_app/media/patches.py", "InlineAudioDecoder.put(None) ends the track"),
    ("aiortc.rtcrtpreceiver", "RTCRtpReceiver.__init__", "self.__jitter_buffer = JitterBuffer(capacity=16, prefetch=4)",
     "sessions_app/media/patches.py", "ShortJitterBuffer, put in the module's place, shortens this prefetch"),
    ("aiortc.rtcrtpsender", "RTCRtpSender._run_rtp", "enc_frame = await self._next_encoded_frame(codec)",
     "sessions_app/media/patches.py", "the sender looks _next_encoded_frame up on itself, so the class's is ours"),
    ("aioice.ice", "Connection.gather_candidates", "addresses = get_host_addresses(",
     "sessions_app/media/patches.py", "only_addresses() replaces the module's function it calls"),
    ("aiortc.rtcpeerconnection", "RTCPeerConnection.__localRtp", "codecs=transceiver._codecs,",
     "sessions_app/media/leg.py", "Leg.answer orders the transceiver's _codecs, and the sender sends with the first"),
    ("axes.handlers.database", "AxesDatabaseHandler.get_user_attempts", ") -> List[QuerySet]:",
     "sessions_app/views/credential_throttle.py", "seconds_locked() takes the latest attempt of each query set"),
]


def revisit(ours: str, what: str) -> str:
    return f"revisit {ours} ({what}), then update this module and the pin in requirements.txt"


@pytest.mark.parametrize("module, qualname, expected, ours, what", MIRRORED,
                         ids=[f"{m}.{q}" for m, q, *_ in MIRRORED])
def test_what_we_copied_is_still_what_upstream_does(module, qualname, expected, ours, what):
    assert digest(module, qualname) == expected, f"{module}.{qualname} changed upstream: {revisit(ours, what)}"


@pytest.mark.parametrize("module, qualname, line, ours, what", RELIED,
                         ids=[f"{m}.{q}".rstrip(".") for m, q, *_ in RELIED])
def test_the_upstream_lines_we_depend_on_are_still_there(module, qualname, line, ours, what):
    assert line in upstream_source(module, qualname), \
        f"{module}.{qualname} no longer has `{line}`: {revisit(ours, what)}"


# The libraries of MIRRORED and RELIED, and those whose behaviour the tests below state: each is pinned exactly.
PINNED = ["Django", "channels", "channels-redis", "redis", "daphne", "Twisted", "aiortc", "aioice", "asgiref",
          "django-axes"]


def test_the_libraries_whose_internals_we_touch_are_pinned_to_the_version_installed():
    text = REQUIREMENTS.read_text()
    pinned = re.findall(r"^([A-Za-z0-9_.\-]+)(?:\[\w+\])?==(\S+)", text, re.M)
    pins = {name.lower(): version for name, version in pinned}
    for name in PINNED:
        assert name.lower() in pins, f"{name} must be pinned with == in requirements.txt: our code reaches into it"
        assert pins[name.lower()] == metadata.version(name), \
            f"{name} {metadata.version(name)} is installed, requirements.txt pins {pins[name.lower()]}"
        comment = text.split(f"\n{name}==")[0].rsplit("\n", 1)[-1]
        assert comment.startswith("#"), f"the pin of {name} needs a comment line above it naming the files that need it"


def test_the_redis_layer_finds_channels_redis_helpers_as_it_calls_them():
    """workbench/redis_layer.py's group send calls these with these results, and stores the messages they build."""
    from workbench.redis_layer import ResilientRedisChannelLayer

    why = revisit("workbench/redis_layer.py", "_send_to_members and rejoin_if_forgotten call these helpers")
    layer = ResilientRedisChannelLayer(hosts=["redis://127.0.0.1:9"], prefix="p", capacity=7)  # never connected
    assert layer._group_key("g") == b"p:group:g", why
    assert (layer.ring_size, layer.consistent_hash("g"), layer.require_valid_group_name("g")) == (1, 0, True), why
    assert isinstance(layer.client_prefix, str) and layer.client_prefix, why
    by_index, messages, capacities = layer._map_channel_keys_to_connection(["a", "b!x", "b!y"], {"type": "t"})
    assert by_index == {0: ["pa", "pb!"]} and capacities == {"pa": 7, "pb!": 7}, why
    assert layer.deserialize(messages["pb!"]) == {"type": "t", "__asgi_channel__": ["b!x", "b!y"]}, why


@pytest.mark.peer
def test_a_script_made_without_a_client_runs_by_its_sha1_on_the_client_given_with_each_call():
    """workbench/redis_layer.py's GROUP_SEND is one script for every Redis of the layer."""
    from redis.commands.core import AsyncScript

    from workbench.redis_layer import GROUP_SEND, GROUP_SEND_LUA

    why = revisit("workbench/redis_layer.py", "GROUP_SEND is made without a client and run on each Redis")
    assert AsyncScript(None, b"return 1").sha == hashlib.sha1(b"return 1").hexdigest(), why
    assert GROUP_SEND.sha == hashlib.sha1(GROUP_SEND_LUA.encode()).hexdigest(), why
    assert list(inspect.signature(AsyncScript.__call__).parameters) == ["self", "keys", "args", "client"], why


@pytest.mark.service
def test_a_kept_connection_is_health_checked_once_after_each_release(django_db_blocker):
    """What workbench/postgresql/base.py shortens: with CONN_HEALTH_CHECKS, Django checks a kept connection on its
    first use after close_old_connections() released it, and not again until the next release. Shown on SQLite:
    the logic is the base class's, which PostgreSQL's backend calls."""
    from django.db.utils import ConnectionHandler

    connection = ConnectionHandler({"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:",
                                                "CONN_HEALTH_CHECKS": True, "CONN_MAX_AGE": None}})["default"]
    why = revisit("workbench/postgresql/base.py", "DatabaseWrapper skips the check after a short rest")
    checks = []
    is_usable = connection.is_usable
    connection.is_usable = lambda: checks.append(1) or is_usable()
    with django_db_blocker.unblock():
        try:
            connection.cursor().close()  # opening a connection counts as its check
            assert checks == [], why
            connection.close_if_unusable_or_obsolete()
            assert connection.health_check_done is False, why
            connection.cursor().close()
            connection.cursor().close()
            assert checks == [1], why
        finally:
            connection.close()


def test_channels_dispatches_by_the_handler_name_of_a_message_type():
    """sessions_app/consumers/frames.py's dispatch looks handlers up as Channels' does."""
    from channels.consumer import get_handler_name

    why = revisit("sessions_app/consumers/frames.py", "JsonFramesConsumer.dispatch")
    assert get_handler_name({"type": "agent.frames"}) == "agent_frames", why
    for refused in ({}, {"type": "_private.method"}):
        with pytest.raises(ValueError):
            get_handler_name(refused)


class RecordingRequest(twisted_http.Request):
    """A Twisted request that notes what its channel tells it, in order."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def gotLength(self, length):
        self.seen.append(("length", length, self.channel._path))
        super().gotLength(length)

    def handleContentChunk(self, data):
        self.seen.append(("chunk", data))
        super().handleContentChunk(data)

    def process(self):
        self.seen.append(("process",))


@pytest.fixture
def twisted_channel():
    channel = twisted_http.HTTPChannel()
    channel.callLater = Clock().callLater  # its idle timeout, on a clock of its own rather than the reactor
    channel.requestFactory = RecordingRequest
    channel.makeConnection(StringTransport())
    yield channel
    channel.connectionLost(None)


@pytest.mark.parametrize("head, body, seen", [
    (b"Content-Length: 5", b"hello", [("length", 5, b"/api/x"), ("chunk", b"hello"), ("process",)]),
    (b"Transfer-Encoding: chunked", b"5\r\nhello\r\n0\r\n\r\n",
     [("length", None, b"/api/x"), ("chunk", b"hello"), ("process",)]),
])
def test_twisted_tells_a_request_its_length_and_path_before_any_of_its_body(twisted_channel, head, body, seen):
    """workbench/http_limits.py refuses a request in gotLength, reading the path from the channel's `_path`, and
    counts a chunked body in handleContentChunk."""
    why = revisit("workbench/http_limits.py", "BoundedRequest.gotLength and handleContentChunk")
    twisted_channel.dataReceived(b"POST /api/x HTTP/1.1\r\nHost: a\r\n" + head + b"\r\n\r\n")
    request = twisted_channel.requests[0]
    assert request.seen == seen[:1], why
    twisted_channel.dataReceived(body)
    assert request.seen == seen, why


def test_daphne_builds_each_connection_with_the_request_class_its_module_names_then(monkeypatch):
    """workbench/http_limits.py's install() replaces that class; BoundedRequest overrides these methods."""
    from daphne import http_protocol

    from workbench.http_limits import BoundedRequest

    why = revisit("workbench/http_limits.py", "install() and BoundedRequest")
    stock = BoundedRequest.__bases__[0]
    assert stock.__module__ == "daphne.http_protocol" and stock.__name__ == "WebRequest"
    monkeypatch.setattr(http_protocol, "WebRequest", BoundedRequest)
    assert http_protocol.HTTPFactory(server=None).buildProtocol(("127.0.0.1", 1)).requestFactory is BoundedRequest, why
    for name, parameters in {"gotLength": ["self", "length"], "handleContentChunk": ["self", "data"],
                             "process": ["self"], "connectionLost": ["self", "reason"]}.items():
        assert list(inspect.signature(getattr(stock, name)).parameters) == parameters, f"{name}: {why}"


def stock_module(name: str):
    """A fresh copy of a module from its file, without the changes patches.install() makes to the loaded one."""
    spec = importlib.util.find_spec(name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def s16_frame(samples: np.ndarray) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 48000
    return frame


def test_our_audio_level_is_aiortcs_for_every_level():
    """sessions_app/media/patches.py's audio_level_dbov stands in for aiortc's compute_audio_level_dbov."""
    from sessions_app.media.patches import audio_level_dbov

    stock = stock_module("aiortc.rtp").compute_audio_level_dbov
    rng = np.random.default_rng(4711)
    t = np.arange(960) / 48000
    frames = [np.zeros(960), np.full(960, 32767), np.full(960, -32768), np.full(960, 1)]
    frames += [32767 * 10 ** (-db / 20) * np.sin(2 * np.pi * 440 * t) for db in range(0, 128, 3)]
    frames += [rng.integers(-2 ** 15, 2 ** 15, 960) >> shift for shift in range(16)]
    for samples in frames:
        frame = s16_frame(samples)
        assert audio_level_dbov(frame) == stock(frame), revisit("sessions_app/media/patches.py", "audio_level_dbov")


def test_aiortcs_jitter_buffer_and_receiver_track_are_as_patches_use_them():
    """sessions_app/media/patches.py: ShortJitterBuffer is built as aiortc builds JitterBuffer, and
    InlineAudioDecoder puts decoded frames straight on the receiver track's queue."""
    from aiortc import rtcrtpreceiver
    from aiortc.jitterbuffer import JitterBuffer

    from sessions_app.media.patches import ShortJitterBuffer

    def parameters(function):
        return [(p.name, p.default) for p in inspect.signature(function).parameters.values()]

    why = revisit("sessions_app/media/patches.py", "ShortJitterBuffer and InlineAudioDecoder")
    assert parameters(ShortJitterBuffer.__init__) == parameters(JitterBuffer.__init__), why
    assert isinstance(rtcrtpreceiver.RemoteStreamTrack(kind="audio")._queue, asyncio.Queue), why


@pytest.mark.service
async def test_the_bridge_answers_with_the_codec_it_put_first_in_the_transceivers_codecs(monkeypatch):
    """sessions_app/media/leg.py sorts aiortc's negotiated `transceiver._codecs` to choose the codec it sends."""
    from aioice import ice
    from aiortc import RTCConfiguration, RTCPeerConnection

    from sessions_app.media.leg import Leg

    monkeypatch.setattr(ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    browser = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    browser.addTransceiver("audio", direction="sendrecv")
    await browser.setLocalDescription(await browser.createOffer())
    offer = browser.localDescription.sdp
    assert re.search(r"m=audio \S+ \S+ 96 9 0 8\r", offer), "the browser offers Opus first, then G722, PCMU, PCMA"
    legs = [Leg("plain", on_change=lambda leg: None), Leg("preferring", on_change=lambda leg: None)]
    try:
        answers = [await legs[0].answer(offer), await legs[1].answer(offer, prefer_codec="audio/PCMU")]
        why = revisit("sessions_app/media/leg.py", "Leg.answer's choice of codec")
        assert [leg.audio_codec for leg in legs] == ["audio/opus", "audio/PCMU"], why
        assert re.search(r"m=audio \S+ \S+ 96 ", answers[0]) and re.search(r"m=audio \S+ \S+ 0 ", answers[1]), why
    finally:
        for leg in legs:
            await leg.close()
        await browser.close()


@pytest.mark.service
async def test_the_websockets_database_thread_is_asgirefs_single_thread_executor():
    """sessions_app/views/api.py sends the API's database work to SyncToAsync.single_thread_executor to share the
    websockets' thread (channels' database_sync_to_async is a SyncToAsync, thread-sensitive by default);
    services/outbox.py knows a thread serves the server's loop by its threadlocal."""
    from asgiref.sync import SyncToAsync

    websockets = await SyncToAsync(threading.get_ident)()
    api = await SyncToAsync(threading.get_ident, thread_sensitive=False, executor=SyncToAsync.single_thread_executor)()
    assert api == websockets != threading.get_ident(), revisit("sessions_app/views/api.py", "on_database_thread")
    served = await SyncToAsync(lambda: getattr(SyncToAsync.threadlocal, "main_event_loop", None))()
    assert served is asyncio.get_running_loop(), revisit("sessions_app/services/outbox.py", "group_send")


def test_a_thread_waiting_in_async_to_sync_is_named_by_asgirefs_current_executor():
    """sessions_app/views/api.py keeps a view's database work on the test client's thread when this is set."""
    from asgiref.sync import AsyncToSync, async_to_sync

    async def current():
        return getattr(AsyncToSync.executors, "current", None)

    why = revisit("sessions_app/views/api.py", "on_database_thread")
    assert async_to_sync(current)() is not None, why
    assert asyncio.run(current()) is None, why
