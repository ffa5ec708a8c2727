"""The SIP stack (sessions_app/media/sip): parsing, SDP, digest, transactions, calls, and sipp as the far end.

No database, no Django: each test runs user agents on loopback with free ports. Timers are shrunk (T1 = 20 ms)
wherever the far end is ours, so retransmissions and timeouts happen in a fraction of a second; against sipp
they stay close to the RFC's, since sipp retransmits on its own 500 ms clock.
"""
import asyncio
import hashlib
import logging
import socket
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessions_app.media.sip import (CallEnded, CallFailed, Credentials, Ending, Headers, IncomingCall,
                                    OutgoingCall, SdpError, SessionDescription, SipError, SipUri, Timers, UserAgent,
                                    build_answer, build_offer, make_response, parse_message)
from sessions_app.media.sip.ua import Auth
from sessions_app.media.sip.auth import Challenge, authorization, authorize, digest
from sessions_app.media.sip.message import MAX_BODY, frame_stream
from sessions_app.media.sip.sdp import PCMA, PCMU, sdp_of
from sessions_app.media.sip.transport import TcpTransport, UdpTransport

from .real_peers import needs
from .waits import assert_nothing_arrives

pytestmark = pytest.mark.service

HOST = "127.0.0.1"
FAST = Timers(t1=0.02, t2=0.16, t4=0.2)
SIPP_SCENARIOS = Path(__file__).parent / "sipp"


def against_sipp(test):
    """Mark a test that drives a real sipp: one of the slow `peer` tests, skipped where sipp is not installed."""
    return pytest.mark.peer(needs("sipp")(test))


def crlf(text: str) -> bytes:
    return text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n"


def free_port() -> int:
    """A port number free for UDP and for TCP (sipp over TCP binds both; a free UDP number may be taken for TCP,
    as it once was in CI)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            udp.bind((HOST, 0))
            port = udp.getsockname()[1]
            try:
                tcp.bind((HOST, port))
            except OSError:
                continue
            return port


async def until(check, timeout: float = 3.0, what: str = "the condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


@dataclass
class Unparsed:
    data: bytes
    status: int | None


class Peer(asyncio.DatagramProtocol):
    """A bare UDP socket speaking raw SIP, byte for byte what a trunk might send."""

    def __init__(self):
        self.received: asyncio.Queue = asyncio.Queue()
        self.transport = None

    @classmethod
    async def open(cls) -> "Peer":
        _, peer = await asyncio.get_running_loop().create_datagram_endpoint(cls, local_addr=(HOST, 0))
        return peer

    @property
    def port(self) -> int:
        return self.transport.get_extra_info("sockname")[1]

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        try:
            self.received.put_nowait(parse_message(data))
        except SipError:  # a 400 that copies a request's broken CSeq or From does not parse strictly
            self.received.put_nowait(Unparsed(data, int(data[8:11]) if data.startswith(b"SIP/2.0 ") else None))

    def send(self, data: bytes, port: int) -> None:
        self.transport.sendto(data, (HOST, port))

    async def next(self, timeout: float = 2.0):
        return await asyncio.wait_for(self.received.get(), timeout)

    async def response(self, status: int, timeout: float = 2.0):
        """The next response with that status (others are skipped)."""
        while True:
            message = await self.next(timeout)
            if getattr(message, "status", None) == status:
                return message


async def stops_after(peer: Peer, at_most: int, what: str) -> None:
    """Fail unless the peer hears nothing for 2 x T2, after at most `at_most` messages already on their way."""
    for _ in range(at_most):
        try:
            await peer.next(FAST.t2 * 2)
        except asyncio.TimeoutError:
            return
    await assert_nothing_arrives(peer.received.get, within=FAST.t2 * 2, what=what)


def raw_request(method: str, to_port: int, from_port: int, *, call_id: str = "raw-1", branch: str = "z9hG4bKraw1",
                cseq: int = 1, to_tag: str = "", extra: str = "", body: str = "", content_type: str = "application/sdp",
                uri: str | None = None) -> bytes:
    uri = uri or f"sip:service@{HOST}:{to_port}"
    body_bytes = crlf(body) if body else b""
    if body:
        extra += f"Content-Type: {content_type}\n"
    head = f"""{method} {uri} SIP/2.0
Via: SIP/2.0/UDP {HOST}:{from_port};branch={branch};rport
Max-Forwards: 70
From: "Trunk" <sip:+15551234@{HOST}:{from_port}>;tag=peer1
To: <sip:service@{HOST}:{to_port}>{';tag=' + to_tag if to_tag else ''}
Call-ID: {call_id}
CSeq: {cseq} {method}
Contact: <sip:trunk@{HOST}:{from_port}>
{extra}Content-Length: {len(body_bytes)}
"""
    return crlf(head) + b"\r\n" + body_bytes


OFFER = """v=0
o=trunk 2890844526 2890844526 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 49170 RTP/AVP 8 0 18 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:18 G729/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendrecv"""


@pytest.fixture
async def agents():
    """Factory of started user agents on loopback, free ports, fast timers; all closed at the end."""
    started = []

    async def start(**options) -> UserAgent:
        options.setdefault("timers", FAST)
        agent = await UserAgent(HOST, 0, **options).start()
        started.append(agent)
        return agent

    yield start
    for agent in started:
        await agent.close()


@pytest.fixture
async def peer():
    peer = await Peer.open()
    yield peer
    peer.transport.close()


def answering(sdp_port: int = 40000, on_call=None, early_media: bool = False):
    """An on_invite that rings (or plays early media) and answers with our SDP; its calls are in `.calls`."""
    calls: list[IncomingCall] = []

    async def on_invite(call: IncomingCall) -> None:
        calls.append(call)
        if on_call is not None:
            on_call(call)
        answer = build_answer(call.remote_sdp, HOST, sdp_port)
        await (call.progress(answer) if early_media else call.ringing())
        await call.answer(answer)

    on_invite.calls = calls
    return on_invite


# Messages


TORTUOUS_INVITE = (  # RFC 4475 §3.1.1.1 "wsinv": a short tortuous INVITE, every line legal
    b'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n'
    b'TO :\r\n sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n'
    b'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8\r\n'
    b'MaX-fOrWaRdS: 0068\r\n'
    b'Call-ID: wsinv.ndaksdj@192.0.2.1\r\n'
    b'Content-Length   : 150\r\n'
    b'cseq: 0009\r\n  INVITE\r\n'
    b'Via  : SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw\r\n'
    b's :\r\n'
    b'NewFangledHeader:   newfangled value\r\n continued newfangled value\r\n'
    b'UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n'
    b'Content-Type: application/sdp\r\n'
    b'Route:\r\n <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n'
    b'v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n'
    b' SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239\r\n'
    b'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\r\n      newvalue ;\r\n'
    b'  secondparam ; q = 0.33\r\n'
    b'\r\n'
    b'v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\n'
    b'm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n'
)


@pytest.mark.unit
def test_the_rfc4475_tortuous_invite_parses_field_by_field():
    request = parse_message(TORTUOUS_INVITE)
    assert request.method == "INVITE" and request.uri.user == "vivekg" and "unknownparam" in request.uri.params
    assert request.to.tag == "1918181833n" and request.to.uri.host == "chair-dnrc.example.com"
    assert request.from_.display_name == 'J Rosenberg \\"' and request.from_.tag == "98asjd8"
    assert request.max_forwards == 68 and request.cseq.number == 9 and request.cseq.method == "INVITE"
    assert [(via.transport, via.host, via.branch) for via in request.vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"), ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239")]
    assert request.headers.get("newfangledheader") == "newfangled value continued newfangled value"
    assert request.headers.get("Subject") == ""
    contact = request.contact
    assert contact.display_name == 'Quoted string ""' and contact.params == {"newparam": "newvalue",
                                                                           "secondparam": None, "q": "0.33"}
    assert len(request.body) == 150 and SessionDescription.parse(request.body).media[1].kind == "video"


@pytest.mark.unit
def test_the_rfc4475_wide_range_of_valid_characters_parses():
    """RFC 4475 §3.1.1.2 "intmeth": an unknown method and URIs using every character the grammar allows."""
    data = crlf(
        "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,"
        "weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\n"
        "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\n"
        "To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\n"
        "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\u0440\u0430\u0431"
        "\u043e\u0442\u0430\u044e\u0449\u0438\u0439\";tag=_token~1'+`*%!-.\n"
        "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\n"
        "CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\n"
        "Max-Forwards: 255\n"
        "extensionHeader-!.%*+_`'~:\ufeff\u5927\u505c\u96fb\n"
        "Content-Length: 0\n") + b"\r\n"
    request = parse_message(data)
    assert request.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert request.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*" and request.uri.host == "example.com"
    assert request.uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert request.from_.display_name == "token1~` token2'+_ token3*%!.-" and request.from_.tag == "_token~1'+`*%!-."
    assert request.to.uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert request.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert request.headers.get("EXTENSIONHEADER-!.%*+_`'~") == "\ufeff\u5927\u505c\u96fb"


@pytest.mark.unit
def test_semicolons_in_the_user_part_and_escapes_stay_in_the_user():
    """RFC 4475 §3.1.1.3 "esc01" and §3.1.1.9 "semiuri"."""
    assert SipUri.parse("sip:user;par=u%40example.net@example.com").user == "user;par=u%40example.net"
    uri = SipUri.parse("sip:sips%3Auser%40example.com@example.net")
    assert (uri.user, uri.host, str(uri)) == ("sips%3Auser%40example.com", "example.net",
                                              "sip:sips%3Auser%40example.com@example.net")
    uri = SipUri.parse("sip:[2001:db8::10]:5070;transport=tcp;lr")
    assert (uri.host, uri.port, uri.transport, uri.params["lr"]) == ("[2001:db8::10]", 5070, "tcp", None)
    assert SipUri.parse("tel:+1-201-555-0123").opaque == "+1-201-555-0123"


@pytest.mark.unit
def test_compact_forms_and_list_headers_read_as_their_full_names():
    request = parse_message(crlf("""OPTIONS sip:a@example.com SIP/2.0
v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/UDP b.example.com:5070;branch=z9hG4bK2;received=192.0.2.9
f: <sip:b@example.com>;tag=x
t: sip:a@example.com
i: compact@example.com
Max-Forwards: 70
CSeq: 1 OPTIONS
k: timer, 100rel
m: "A, B" <sip:a@h1>, <sip:a@h2>;expires=30
Allow: INVITE,ACK
Allow: BYE
l: 0""") + b"\r\n")
    assert [via.sent_by for via in request.vias] == ["a.example.com", "b.example.com:5070"]
    assert request.vias[1].params["received"] == "192.0.2.9" and request.call_id == "compact@example.com"
    assert request.headers.get_all("Supported") == ["timer", "100rel"]
    assert request.headers.get_all("contact") == ['"A, B" <sip:a@h1>', "<sip:a@h2>;expires=30"]
    assert request.headers.get_all("ALLOW") == ["INVITE", "ACK", "BYE"]


@pytest.mark.unit
def test_a_response_without_reason_phrase_and_one_with_utf8_parse():
    """RFC 4475 §3.1.1.12 "unreason" and §3.1.1.13 "noreason"."""
    head = "\nVia: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>;tag=2\n" \
           "Call-ID: x\nCSeq: 1 INVITE\nContent-Length: 0\n"
    assert parse_message(crlf("SIP/2.0 100 " + head) + b"\r\n").reason == ""
    response = parse_message(crlf("SIP/2.0 200 = 2**3 * 5**2 \u043d\u043e \u0441\u0442\u043e" + head) + b"\r\n")
    assert response.status == 200 and response.reason.endswith("\u0441\u0442\u043e")


@pytest.mark.unit
def test_a_message_prints_back_to_what_it_was_parsed_from():
    request = parse_message(raw_request("INVITE", 5060, 5062, body=OFFER))
    again = parse_message(request.encode())
    assert again.headers.items() == request.headers.items() and again.body == request.body
    assert again.encode() == request.encode()


BAD = "\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKbad\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>\nCall-ID: bad\n"


@pytest.mark.unit
@pytest.mark.parametrize("data, status", [
    (crlf("INVITE sip:c@d SIP/7.0" + BAD + "CSeq: 1 INVITE\nContent-Length: 0\n") + b"\r\n", 505),  # badvers
    (crlf("INVITE sip:c@d SIP/2.0" + BAD + "CSeq: 1 INVITE\nContent-Length: 9999\n") + b"\r\nv=0\r\n", 400),  # clerr
    (crlf("INVITE sip:c@d SIP/2.0" + BAD + "CSeq: 1 INVITE\nContent-Length: -999\n") + b"\r\n", 400),  # ncl
    (crlf("INVITE sip:c@d SIP/2.0" + BAD + "CSeq: 1 INVITE\nMax-Forwards: 300\n") + b"\r\n", 400),  # scalar02
    (crlf("INVITE sip:c@d SIP/2.0" + BAD + "CSeq: 36893488147419103232 INVITE\n") + b"\r\n", 400),  # scalarlg
    (crlf("INVITE <sip:c@d> SIP/2.0" + BAD + "CSeq: 1 INVITE\n") + b"\r\n", 400),  # ltgtruri
    (crlf("INVITE sip:c@d; lr SIP/2.0" + BAD + "CSeq: 1 INVITE\n") + b"\r\n", 400),  # lwsruri
    (crlf("INVITE  sip:c@d  SIP/2.0" + BAD + "CSeq: 1 INVITE\n") + b"\r\n", 400),  # lwsstart
    (crlf("INVITE sip:c@d SIP/2.0" + BAD + "CSeq: 1 BYE\n") + b"\r\n", 400),  # mismatch01
    (crlf("OPTIONS sip:c@d SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKi\nCSeq: 1 OPTIONS\n") + b"\r\n", 400),
    (crlf("INVITE sip:c@d SIP/2.0" + BAD.replace("<sip:a@b>", '"Bob <sip:a@b>') + "CSeq: 1 INVITE\n") + b"\r\n",
     400),  # quotbal
    (crlf("INVITE sip:c@d SIP/2.0" + BAD + "Call-ID: second\nCSeq: 1 INVITE\n") + b"\r\n", 400),
    # A digit that is not ASCII ('٣'): str.isdigit takes it, int() reads a number the peer never wrote.
    (crlf("INVITE sip:c@d SIP/2.0" + BAD + "CSeq: 1 INVITE\nMax-Forwards: \u0663\n") + b"\r\n", 400),
])
def test_malformed_requests_raise_the_status_to_answer_with(data, status):
    with pytest.raises(SipError) as raised:
        parse_message(data)
    assert raised.value.status == status and raised.value.message is not None, "answerable"


@pytest.mark.unit
@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"garbage", b"SIP/2.0 4294967301 Big\r\n\r\n",
                                  crlf("INVITE sip:c@d SIP/2.0\nCSeq: 1 INVITE") + b"\r\n",
                                  # a Via port of '³5060': str.isdigit takes '³', int() raised
                                  crlf("INVITE sip:c@d SIP/2.0" + BAD.replace("192.0.2.1", "192.0.2.1:\u00b35060")
                                       + "CSeq: 1 INVITE\n") + b"\r\n"])
def test_messages_that_cannot_be_answered_raise_without_a_request(data):
    with pytest.raises(SipError) as raised:
        parse_message(data)
    assert raised.value.message is None


@pytest.mark.unit
def test_a_datagram_body_is_cut_at_content_length():
    request = parse_message(raw_request("INVITE", 5060, 5062, body=OFFER) + b"trailing junk")
    assert request.body.endswith(b"a=sendrecv\r\n")


@pytest.mark.unit
def test_a_stream_is_framed_by_content_length():
    first, second = raw_request("INVITE", 5060, 5062, body=OFFER), raw_request("OPTIONS", 5060, 5062)
    buffer = bytearray(b"\r\n\r\n" + first + second[:30])  # keep-alive CRLFs, then one and a bit
    assert frame_stream(buffer) == first and frame_stream(buffer) is None
    buffer += second[30:]
    assert frame_stream(buffer) == second and not buffer


@pytest.mark.unit
def test_a_stream_announcing_a_body_over_the_limit_is_lost_before_the_body_is_buffered():
    head = raw_request("INVITE", 5060, 5062).replace(b"Content-Length: 0", f"Content-Length: {MAX_BODY + 1}".encode())
    with pytest.raises(SipError) as refused:
        frame_stream(bytearray(head))
    assert refused.value.status == 513


@pytest.mark.unit
def test_a_response_copies_the_routing_headers_and_adds_our_tag():
    request = parse_message(raw_request("INVITE", 5060, 5062, body=OFFER))
    response = make_response(request, 180, to_tag="ours")
    assert response.headers.get_all("Via") == request.headers.get_all("Via")
    assert response.to.tag == "ours" and response.from_.tag == "peer1" and response.cseq == request.cseq
    assert response.call_id == request.call_id and response.encode().startswith(b"SIP/2.0 180 Ringing\r\n")
    assert parse_message(response.encode()).status == 180


# SDP


@pytest.mark.unit
def test_the_answer_takes_the_first_offered_codec_we_support_and_keeps_their_event_type():
    offer = SessionDescription.parse(OFFER)
    answer = build_answer(offer, "192.0.2.50", 30000, codecs=(PCMU, PCMA))
    audio = SessionDescription.parse(answer.encode()).audio
    assert [c.name for c in audio.codecs] == ["PCMA", "telephone-event"] and audio.formats == ["8", "101"]
    assert audio.telephone_event.fmtp == "0-16" and audio.direction == "sendrecv" and audio.ptime == 20
    assert answer.audio_address() == ("192.0.2.50", 30000)


@pytest.mark.unit
@pytest.mark.parametrize("offered, answered", [("sendonly", "recvonly"), ("recvonly", "sendonly"),
                                               ("inactive", "inactive"), ("sendrecv", "sendrecv")])
def test_the_answer_mirrors_the_offered_direction(offered, answered):
    offer = SessionDescription.parse(OFFER.replace("a=sendrecv", f"a={offered}"))
    assert build_answer(offer, HOST, 30000).audio.direction == answered
    assert offer.on_hold == (offered in ("sendonly", "inactive"))


@pytest.mark.unit
def test_an_old_style_hold_with_a_null_address_is_answered_recvonly():
    offer = SessionDescription.parse(OFFER.replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0"))
    assert offer.on_hold and offer.audio_direction() == "sendonly"
    assert build_answer(offer, HOST, 30000).audio.direction == "recvonly"


@pytest.mark.unit
def test_the_answer_has_a_line_per_offered_stream_and_refuses_video_with_port_zero():
    offer = SessionDescription.parse(OFFER.replace("a=sendrecv", "a=sendrecv\nm=video 5000 RTP/AVP 96\n"
                                                   "a=rtpmap:96 H264/90000").replace("\n", "\r\n"))
    answer = SessionDescription.parse(build_answer(offer, HOST, 30000).encode())
    assert [(m.kind, m.port) for m in answer.media] == [("audio", 30000), ("video", 0)]


@pytest.mark.unit
def test_a_dynamic_event_type_and_a_dynamic_pcmu_are_understood():
    offer = SessionDescription.parse(OFFER.replace("RTP/AVP 8 0 18 101", "RTP/AVP 18 96 97")
                                     .replace("a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16",
                                              "a=rtpmap:96 PCMU/8000\na=rtpmap:97 telephone-event/8000"))
    audio = build_answer(offer, HOST, 30000).audio
    assert audio.formats == ["96", "97"] and audio.codec.name == "PCMU"
    assert audio.telephone_event.fmtp == "0-16"  # the offer had none: 0-16 is RFC 4733's default for DTMF


@pytest.mark.unit
def test_an_offer_without_a_common_codec_or_malformed_is_not_acceptable():
    g729_only = SessionDescription.parse(OFFER.replace("RTP/AVP 8 0 18 101", "RTP/AVP 18"))
    with pytest.raises(SdpError) as raised:
        build_answer(g729_only, HOST, 30000)
    assert raised.value.status == 488
    for bad in ["", "o=x 1 1 IN IP4 h", OFFER.replace("m=audio 49170", "m=audio 99999"),
                OFFER.replace("c=IN IP4 127.0.0.1", "c=IN"), OFFER + "\nnot an sdp line"]:
        with pytest.raises(SdpError) as raised:
            SessionDescription.parse(bad)
        assert raised.value.status == 488


@pytest.mark.unit
def test_our_offer_lists_g711_and_dtmf_events_and_revises_for_hold():
    offer = build_offer("192.0.2.50", 30000, session_id=42)
    parsed = SessionDescription.parse(str(offer))
    assert parsed.audio.formats == ["0", "8", "101"] and parsed.audio.telephone_event.fmtp == "0-16"
    assert (parsed.session_id, parsed.version, parsed.audio_direction()) == (42, 1, "sendrecv")
    held = SessionDescription.parse(offer.revised("sendonly").encode())
    assert (held.version, held.audio_direction()) == (2, "sendonly")


@pytest.mark.unit
def test_the_sdp_part_of_a_multipart_body_is_found():
    """Trunks speaking SIP-I send SDP beside ISUP (RFC 4475 §3.1.1.11 "mpart01" has the shape)."""
    body = (b"--boundary42\r\nContent-Type: application/sdp\r\n\r\n" + crlf(OFFER) +
            b"\r\n--boundary42\r\nContent-Type: application/isup;version=itu-t92+\r\n\r\n\x01\x00\x49\r\n"
            b"--boundary42--\r\n")
    sdp = sdp_of('multipart/mixed;boundary="boundary42"', body)
    assert SessionDescription.parse(sdp).audio.port == 49170
    with pytest.raises(SipError) as raised:
        sdp_of("text/plain", b"hello")
    assert raised.value.status == 415


# Digest


@pytest.mark.unit
def test_digest_matches_rfc_2617s_example():
    assert digest(username="Mufasa", password="Circle Of Life", realm="testrealm@host.com",
                  nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", method="GET", uri="/dir/index.html", qop="auth",
                  nc="00000001", cnonce="0a4f113b") == "6629fae49393a05397450978507c4ef1"


@pytest.mark.unit
def test_digest_sha256_matches_rfc_7616s_example():
    """RFC 8760 brings RFC 7616's SHA-256 to SIP; RFC 7616 §3.9.1 gives both algorithms for one challenge."""
    example = dict(username="Mufasa", password="Circle of Life", realm="http-auth@example.org",
                   nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", method="GET", uri="/dir/index.html",
                   qop="auth", nc="00000001", cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")
    assert digest(**example) == "8ca523f5e9506fed4657c9700eebdbec"
    assert digest(**example, algorithm="SHA-256") == \
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"


@pytest.mark.unit
def test_digest_without_qop_is_rfc_2069s():
    def md5(text):
        return hashlib.md5(text.encode()).hexdigest()
    expected = md5(f"{md5('bob:sip.example:pw')}:n0nce:{md5('REGISTER:sip:sip.example')}")
    header = authorization(Challenge.parse('Digest realm="sip.example", nonce="n0nce"'), Credentials("bob", "pw"),
                           "REGISTER", "sip:sip.example")
    assert f'response="{expected}"' in header and "qop" not in header and "cnonce" not in header


@pytest.mark.unit
def test_a_challenged_request_is_repeated_with_authorization_and_the_next_cseq():
    request = parse_message(raw_request("INVITE", 5060, 5062, body=OFFER))
    challenge = make_response(request, 407, headers=[
        ("Proxy-Authenticate", 'Digest realm="trunk", nonce="abc", qop="auth,auth-int", opaque="xyz", '
                               'algorithm=MD5')])
    retry = authorize(request, challenge, Credentials("alice", "secret"))
    assert retry.cseq.number == 2 and "Via" not in retry.headers and retry.call_id == request.call_id
    value = retry.headers["Proxy-Authorization"]
    assert value.startswith('Digest username="alice", realm="trunk", nonce="abc"')
    assert 'opaque="xyz"' in value and "qop=auth," in value and "nc=00000001" in value


# Transactions, with a bare socket as the far end


async def test_an_unanswered_options_is_retransmitted_on_timer_e_and_times_out_on_f(agents, peer):
    agent = await agents()
    response = await agent.options(f"sip:{HOST}:{peer.port}")
    assert response.status == 408 and response.local
    sent = peer.received.qsize()
    assert sent in (10, 11), sent  # at T1 x (0, 1, 3, 7, 15, 23, ... 63): 11 sends before 64 T1


async def test_an_unanswered_invite_is_retransmitted_on_timer_a_and_fails_unreachable_on_b(agents, peer):
    agent = await agents()
    call = await agent.invite(f"sip:bob@{HOST}:{peer.port}", f"sip:us@{HOST}", f"sip:bob@{HOST}",
                              build_offer(HOST, 30000))
    with pytest.raises(CallFailed) as failed:
        await call.answered
    assert (failed.value.status, failed.value.cause) == (408, "unreachable")
    assert peer.received.qsize() in (6, 7)  # at T1 x (0, 1, 3, 7, 15, 31, 63)
    assert (await call.ended).reason == "unreachable"


async def test_a_busy_answer_is_acked_on_the_invites_branch_and_again_when_retransmitted(agents, peer):
    agent = await agents()
    call = await agent.invite(f"sip:bob@{HOST}:{peer.port}", f"sip:us@{HOST}", f"sip:bob@{HOST}",
                              build_offer(HOST, 30000))
    invite = await peer.next()
    busy = make_response(invite, 486, to_tag="busy1").encode()
    peer.send(busy, agent.port)
    with pytest.raises(CallFailed) as failed:
        await call.answered
    assert (failed.value.status, failed.value.cause) == (486, "busy")
    ack = await peer.next()
    assert ack.method == "ACK" and ack.via.branch == invite.via.branch and ack.to.tag == "busy1"
    assert ack.cseq.number == invite.cseq.number and ack.uri == invite.uri
    peer.send(busy, agent.port)
    assert (await peer.next()).method == "ACK"


async def test_a_retransmitted_invite_is_absorbed_and_reanswered_with_the_last_response(agents, peer):
    invites = []

    async def on_invite(call):
        invites.append(call)
        await call.ringing()
    agent = await agents(on_invite=on_invite)
    invite = raw_request("INVITE", agent.port, peer.port, body=OFFER)
    peer.send(invite, agent.port)
    assert (await peer.next()).status == 100 and (await peer.next()).status == 180
    peer.send(invite, agent.port)
    assert (await peer.next()).status == 180 and len(invites) == 1


async def test_a_refusal_is_retransmitted_on_timer_g_until_the_ack(agents, peer):
    async def on_invite(call):
        await call.reject(603)
    agent = await agents(on_invite=on_invite)
    peer.send(raw_request("INVITE", agent.port, peer.port, body=OFFER), agent.port)
    await peer.response(603)
    refusal = await peer.response(603)  # once more, T1 later
    await peer.response(603)
    peer.send(raw_request("ACK", agent.port, peer.port, to_tag=refusal.to.tag), agent.port)
    await stops_after(peer, at_most=1, what="the 603 retransmitted after its ACK")


async def test_our_200_is_retransmitted_until_the_ack_and_the_call_confirmed(agents, peer):
    on_invite = answering()
    agent = await agents(on_invite=on_invite)
    peer.send(raw_request("INVITE", agent.port, peer.port, body=OFFER), agent.port)
    ok = await peer.response(200)
    assert (await peer.response(200)).encode() == ok.encode()
    assert await peer.response(200)
    call = on_invite.calls[0]
    assert call.state == "answered" and not call.established.done()
    peer.send(raw_request("ACK", agent.port, peer.port, branch="z9hG4bKack", to_tag=ok.to.tag), agent.port)
    await asyncio.wait_for(call.established, 1)
    assert call.state == "confirmed"
    await stops_after(peer, at_most=1, what="the 200 retransmitted after its ACK")


async def test_a_200_never_acked_is_given_up_and_the_call_hung_up(agents, peer):
    on_invite = answering()
    agent = await agents(on_invite=on_invite)
    peer.send(raw_request("INVITE", agent.port, peer.port, body=OFFER), agent.port)
    await peer.response(200)
    call = on_invite.calls[0]
    ending = await asyncio.wait_for(call.ended, 64 * FAST.t1 + 1)
    assert (ending.by, ending.reason) == ("local", "no-ack")
    while getattr(await peer.next(), "method", None) != "BYE":
        pass  # the last retransmissions of the 200, then our BYE


async def test_our_bye_waits_for_the_callers_ack(agents, peer):
    on_invite = answering()
    agent = await agents(on_invite=on_invite)
    peer.send(raw_request("INVITE", agent.port, peer.port, body=OFFER), agent.port)
    ok = await peer.response(200)
    hang_up = asyncio.ensure_future(on_invite.calls[0].bye())
    waiting = [await peer.next() for _ in range(2)]
    assert [getattr(m, "status", m) for m in waiting] == [200, 200]  # retransmissions, no BYE before the ACK (§15)
    peer.send(raw_request("ACK", agent.port, peer.port, branch="z9hG4bKack", to_tag=ok.to.tag), agent.port)
    await asyncio.wait_for(hang_up, 1)
    assert (await next_request(peer, "BYE")).to.tag == "peer1"


async def test_an_invite_without_offer_gets_ours_and_the_ack_brings_the_answer(agents, peer):
    async def offer_first(call):
        assert call.remote_sdp is None
        await call.answer(build_offer(HOST, 40000))
    calls = []
    agent = await agents(on_invite=lambda call: calls.append(call) or offer_first(call))
    peer.send(raw_request("INVITE", agent.port, peer.port), agent.port)
    ok = await peer.response(200)
    offer = SessionDescription.parse(ok.body)
    answer = build_answer(offer, HOST, 49170).encode().decode()
    peer.send(raw_request("ACK", agent.port, peer.port, branch="z9hG4bKack", to_tag=ok.to.tag, body=answer),
              agent.port)
    await asyncio.wait_for(calls[0].established, 1)
    assert calls[0].remote_sdp.audio_address() == (HOST, 49170) and calls[0].remote_sdp.audio.codec == PCMU


async def test_a_registration_follows_interval_too_brief_refreshes_and_unregisters(agents, peer):
    agent = await agents()
    registering = asyncio.ensure_future(agent.register(f"sip:{HOST}:{peer.port}", f"sip:alice@{HOST}"))
    first = await next_request(peer, "REGISTER")
    assert first.headers["Expires"] == "3600" and first.contact.uri.port == agent.port
    peer.send(make_response(first, 423, headers=[("Min-Expires", "7200")]).encode(), agent.port)
    second = await next_request(peer, "REGISTER")
    assert second.headers["Expires"] == "7200" and second.cseq.number == first.cseq.number + 1
    granted = f"{second.headers['Contact']};expires=1"
    peer.send(make_response(second, 200, headers=[("Contact", granted)]).encode(), agent.port)
    registration = await asyncio.wait_for(registering, 1)
    assert registration.registered and registration.expires == 1
    refresh = await asyncio.wait_for(next_request(peer, "REGISTER"), 3)  # halfway through (at least 1 s)
    assert refresh.call_id == first.call_id and refresh.cseq.number == second.cseq.number + 1
    peer.send(make_response(refresh, 200, headers=[("Contact", granted)]).encode(), agent.port)
    leaving = asyncio.ensure_future(registration.unregister())
    goodbye = await next_request(peer, "REGISTER")
    assert goodbye.headers["Expires"] == "0"
    peer.send(make_response(goodbye, 200).encode(), agent.port)
    assert (await asyncio.wait_for(leaving, 1)).status == 200 and not registration.registered


ANSWER = OFFER.replace("o=trunk", "o=callee").replace("RTP/AVP 8 0 18 101", "RTP/AVP 8 101")


def answer_from(invite, peer: Peer, tag: str, sdp: str = ANSWER) -> bytes:
    return make_response(invite, 200, to_tag=tag, headers=[("Contact", f"<sip:bob@{HOST}:{peer.port}>")],
                         body=crlf(sdp)).encode()


async def next_request(peer: Peer, method: str):
    """The next request of that method the peer gets (retransmissions of others are skipped)."""
    while True:
        message = await peer.next()
        if getattr(message, "method", None) == method:
            return message


async def calling(agent: UserAgent, peer: Peer):
    call = await agent.invite(f"sip:bob@{HOST}:{peer.port}", f"sip:us@{HOST}", f"sip:bob@{HOST}",
                              build_offer(HOST, 30000))
    return call, await next_request(peer, "INVITE")


async def test_a_retransmitted_200_is_acked_again_and_a_second_fork_is_acked_and_hung_up(agents, peer):
    agent = await agents()
    call, invite = await calling(agent, peer)
    peer.send(answer_from(invite, peer, "fork1"), agent.port)
    await asyncio.wait_for(call.answered, 1)
    assert call.remote_sdp.audio.codec == PCMA and call.remote_tag == "fork1"
    ack = await next_request(peer, "ACK")
    assert ack.uri == SipUri.parse(f"sip:bob@{HOST}:{peer.port}") and ack.cseq.number == invite.cseq.number
    peer.send(answer_from(invite, peer, "fork1"), agent.port)  # as if our ACK was lost
    assert (await next_request(peer, "ACK")).encode() == ack.encode()
    peer.send(answer_from(invite, peer, "fork2"), agent.port)  # a second phone of a forking proxy answers too
    ack2, bye = await next_request(peer, "ACK"), await next_request(peer, "BYE")
    assert ack2.to.tag == bye.to.tag == "fork2" and call.remote_tag == "fork1" and call.state == "confirmed"


async def test_an_answer_that_crosses_our_cancel_is_acked_and_hung_up(agents, peer):
    agent = await agents()
    call, invite = await calling(agent, peer)
    peer.send(make_response(invite, 180, to_tag="late").encode(), agent.port)
    await asyncio.wait_for(call.ringing, 1)
    await call.cancel()
    cancel = await next_request(peer, "CANCEL")
    peer.send(answer_from(invite, peer, "late"), agent.port)  # the callee answered before the CANCEL got there
    peer.send(make_response(cancel, 200).encode(), agent.port)
    assert (await next_request(peer, "ACK")).to.tag == "late" and (await next_request(peer, "BYE")).to.tag == "late"
    with pytest.raises(CallFailed) as failed:
        await call.answered
    assert failed.value.cause == "cancelled" and (await call.ended).by == "local"


async def test_an_answer_with_unreadable_sdp_is_acked_hung_up_and_failed(agents, peer):
    agent = await agents()
    call, invite = await calling(agent, peer)
    peer.send(answer_from(invite, peer, "bad", sdp="v=0\nm=audio x RTP/AVP 0"), agent.port)
    assert (await next_request(peer, "ACK")).to.tag == "bad" and (await next_request(peer, "BYE")).to.tag == "bad"
    with pytest.raises(CallFailed) as failed:
        await call.answered
    assert (failed.value.status, failed.value.cause) == (488, "failed")


# The user agent's answers to what no call owns


@pytest.mark.parametrize("data, status, header", [
    (lambda a, p: raw_request("SUBSCRIBE", a, p), 501, ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")),
    (lambda a, p: raw_request("INVITE", a, p, body=OFFER).replace(b"Max-Forwards: 70", b"Max-Forwards: 0"), 483,
     None),
    (lambda a, p: raw_request("INVITE", a, p, body=OFFER, uri="tel:+15551234"), 416, None),
    (lambda a, p: raw_request("INVITE", a, p, body=OFFER, extra="Require: 100rel\n"), 420,
     ("Unsupported", "100rel")),
    (lambda a, p: raw_request("INVITE", a, p, body="hello", content_type="text/plain"), 415, None),
    (lambda a, p: raw_request("INVITE", a, p, body=OFFER.replace("8 0 18 101", "18")), 488, None),
    (lambda a, p: raw_request("INVITE", a, p, body="v=0\nm=audio x"), 488, None),
    (lambda a, p: raw_request("BYE", a, p, to_tag="nosuch"), 481, None),
    (lambda a, p: raw_request("CANCEL", a, p), 481, None),
    (lambda a, p: raw_request("OPTIONS", a, p), 200, ("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO")),
    (lambda a, p: raw_request("OPTIONS", a, p).replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE"), 400, None),
    (lambda a, p: raw_request("OPTIONS", a, p).replace(b"SIP/2.0\r\n", b"SIP/3.0\r\n", 1), 505, None),
])
async def test_requests_no_call_owns_get_the_rfcs_answer(agents, peer, data, status, header):
    agent = await agents(on_invite=answering())
    peer.send(data(agent.port, peer.port), agent.port)
    response = await peer.response(status)
    assert response.call_id == "raw-1" and response.via.params["rport"] == str(peer.port)
    if header:
        assert ", ".join(response.headers.get_all(header[0])) == header[1]


async def test_unanswerable_garbage_is_dropped_and_the_agent_keeps_answering(agents, peer):
    agent = await agents()
    for junk in [b"\x00\xff" * 40, b"INVITE", b"SIP/2.0 200 OK\r\n\r\n", raw_request("ACK", agent.port, peer.port)]:
        peer.send(junk, agent.port)
    peer.send(raw_request("OPTIONS", agent.port, peer.port, call_id="after"), agent.port)
    response = await peer.next()
    assert response.status == 200 and response.call_id == "after"


# Calls between two of our agents


async def dial(caller: UserAgent, callee: UserAgent, **options):
    return await caller.invite(f"sip:b@{HOST}:{callee.port}", f"sip:a@{HOST}", f"sip:b@{HOST}",
                               build_offer(HOST, 30000), **options)


async def test_a_call_rings_is_answered_carries_headers_and_is_hung_up_by_the_caller(agents):
    on_invite = answering()
    callee = await agents(on_invite=on_invite)
    caller = await agents()
    call = await caller.invite(f"sip:+4930100@{HOST}:{callee.port}", f"sip:+4930999@{HOST}", f"sip:+4930100@{HOST}",
                               build_offer(HOST, 30000),
                               headers=[("X-UUI", "order=42"), ("P-Asserted-Identity", "<sip:+4930999@trunk>")])
    ringing = await asyncio.wait_for(call.ringing, 2)
    answered = await asyncio.wait_for(call.answered, 2)
    assert ringing.status == 180 and answered.status == 200 and call.state == "confirmed"
    assert call.remote_sdp.audio.codec == PCMU and call.remote_sdp.audio_address() == (HOST, 40000)
    incoming = on_invite.calls[0]
    await asyncio.wait_for(incoming.established, 2)
    assert incoming.headers.get("x-uui") == "order=42" and incoming.headers["P-Asserted-Identity"].startswith("<sip")
    assert incoming.call_id == call.call_id and (incoming.local_tag, incoming.remote_tag) == (call.remote_tag,
                                                                                             call.local_tag)
    assert incoming.from_.uri.user == "+4930999" and incoming.to.tag == incoming.local_tag
    assert incoming.remote_sdp.audio.port == 30000
    await call.bye()
    assert await asyncio.wait_for(incoming.ended, 2) == Ending("remote", "bye")
    assert (await call.ended).by == "local" and not caller.calls and not callee.calls


async def test_early_media_reaches_the_caller_before_the_answer(agents):
    progress = []
    callee = await agents(on_invite=answering(sdp_port=40002, early_media=True))
    caller = await agents()
    call = await dial(caller, callee)
    call.on_provisional = lambda response: progress.append((response.status, call.remote_sdp.audio.port))
    early = await asyncio.wait_for(call.ringing, 2)
    assert early.status == 183 and call.remote_sdp.audio.port == 40002
    await asyncio.wait_for(call.answered, 2)
    assert progress == [(183, 40002)]


async def test_the_callee_holds_with_a_reinvite_that_is_answered_recvonly_by_default(agents):
    on_invite = answering()
    callee = await agents(on_invite=on_invite)
    caller = await agents()
    call = await dial(caller, callee)
    await asyncio.wait_for(call.answered, 2)
    incoming = on_invite.calls[0]
    await asyncio.wait_for(incoming.established, 2)
    offers = []
    call.on_reinvite = None  # the caller answers by itself
    response = await incoming.reinvite(incoming.local_sdp.revised("sendonly"))
    assert response.status == 200 and incoming.remote_sdp.audio_direction() == "recvonly"
    assert call.remote_sdp.on_hold and call.local_sdp.audio.direction == "recvonly"
    call.on_reinvite = lambda offer: offers.append(offer) or build_answer(offer, HOST, 30002)
    await incoming.reinvite(incoming.local_sdp.revised("sendrecv"))
    assert offers[0].audio_direction() == "sendrecv" and incoming.remote_sdp.audio.port == 30002
    await incoming.bye()
    assert (await asyncio.wait_for(call.ended, 2)).by == "remote"


async def test_info_and_options_in_a_dialog_are_answered_and_heard(agents):
    infos = []
    on_invite = answering(on_call=lambda call: setattr(call, "on_info", infos.append))
    callee = await agents(on_invite=on_invite)
    caller = await agents()
    call = await dial(caller, callee)
    await asyncio.wait_for(call.answered, 2)
    info = call.dialog.create_request("INFO", b"Signal=5\r\nDuration=160\r\n", "application/dtmf-relay")
    assert (await caller.request(info)).status == 200 and infos[0].body.startswith(b"Signal=5")
    assert (await caller.request(call.dialog.create_request("OPTIONS"))).status == 200
    stale = call.dialog.create_request("INFO", cseq=1)
    assert (await caller.request(stale)).status == 500  # CSeq out of order (§12.2.2)


async def test_a_call_that_rings_too_long_is_cancelled_as_no_answer(agents):
    async def ring_forever(call):
        await call.ringing()
    callee = await agents(on_invite=ring_forever)
    caller = await agents()
    call = await dial(caller, callee, timeout=0.2)
    with pytest.raises(CallFailed) as failed:
        await asyncio.wait_for(call.answered, 2)
    assert (failed.value.status, failed.value.cause) == (487, "no-answer")
    assert await asyncio.wait_for(call.ended, 1) == Ending("local", "no-answer", 487)


async def test_a_cancel_asked_before_any_provisional_waits_for_one(agents, peer):
    agent = await agents()
    call = await agent.invite(f"sip:bob@{HOST}:{peer.port}", f"sip:us@{HOST}", f"sip:bob@{HOST}",
                              build_offer(HOST, 30000))
    invite = await peer.next()
    await call.cancel()
    before = [await peer.next() for _ in range(2)]
    assert [m.method for m in before] == ["INVITE", "INVITE"]  # §9.1: no CANCEL before a provisional response
    peer.send(make_response(invite, 100).encode(), agent.port)
    cancel = await peer.next()
    while cancel.method != "CANCEL":
        cancel = await peer.next()  # INVITE retransmissions sent before the 100 arrived
    assert cancel.via.branch == invite.via.branch and cancel.cseq.number == invite.cseq.number
    peer.send(make_response(cancel, 200).encode(), agent.port)
    peer.send(make_response(invite, 487, to_tag="t").encode(), agent.port)
    with pytest.raises(CallFailed) as failed:
        await asyncio.wait_for(call.answered, 2)
    assert failed.value.cause == "cancelled"


async def test_a_call_and_its_answer_travel_over_tcp(agents):
    on_invite = answering()
    callee = await agents(on_invite=on_invite, tcp=True)
    caller = await agents(tcp=True)
    call = await caller.invite(f"sip:b@{HOST}:{callee.port};transport=tcp", f"sip:a@{HOST}", f"sip:b@{HOST}",
                               build_offer(HOST, 30000))
    await asyncio.wait_for(call.answered, 2)
    assert call.invite.via.transport == "TCP" and on_invite.calls[0].invite.via.transport == "TCP"
    await call.bye()
    assert (await asyncio.wait_for(on_invite.calls[0].ended, 2)).reason == "bye"


async def closed_by_server(reader: asyncio.StreamReader, timeout: float = 2) -> bool:
    return await asyncio.wait_for(reader.read(1), timeout) == b""


async def test_tcp_connections_from_one_address_are_bounded_and_a_silent_one_is_closed(agents, monkeypatch):
    monkeypatch.setattr(TcpTransport, "MAX_PER_SOURCE", 3)
    monkeypatch.setattr(TcpTransport, "FIRST_MESSAGE_TIMEOUT", 0.3)
    callee = await agents(on_invite=answering(), tcp=True)
    opened = [await asyncio.open_connection(HOST, callee.port) for _ in range(4)]
    assert await closed_by_server(opened[3][0])  # the fourth from this address is closed at once
    # Saying nothing, the first three are closed after FIRST_MESSAGE_TIMEOUT, and the address may connect again.
    for reader, _ in opened[:3]:
        assert await closed_by_server(reader)
    caller = await agents(tcp=True)
    call = await caller.invite(f"sip:b@{HOST}:{callee.port};transport=tcp", f"sip:a@{HOST}", f"sip:b@{HOST}",
                               build_offer(HOST, 30000))
    await asyncio.wait_for(call.answered, 2)
    for _, writer in opened:
        writer.close()


async def test_keepalive_reports_a_trunk_up_then_down(agents):
    trunk = await agents()
    agent = await agents()
    changes = []
    keepalive = agent.keepalive(f"sip:{HOST}:{trunk.port}", every=0.05, on_change=changes.append)
    await until(lambda: changes == [True], what="the trunk up")
    await trunk.close()
    await until(lambda: changes == [True, False], timeout=64 * FAST.t1 + 2, what="the trunk down")
    assert keepalive.alive is False and keepalive.last_status == 408
    keepalive.stop()


async def test_a_callback_that_raises_gets_the_caller_a_500_not_a_dead_agent(agents):
    async def broken(call):
        raise RuntimeError("product bug")
    callee = await agents(on_invite=broken)
    caller = await agents()
    call = await dial(caller, callee)
    with pytest.raises(CallFailed) as failed:
        await asyncio.wait_for(call.answered, 2)
    assert failed.value.status == 500
    assert (await caller.options(f"sip:{HOST}:{callee.port}")).status == 200


# sipp as the far end


async def sipp(tmp_path, *args: str, timeout: float = 20) -> tuple[int, str]:
    """Run one sipp call (-m 1) and return its exit code (0: every call succeeded) and what it complained of."""
    process = await asyncio.create_subprocess_exec(
        "sipp", *args, "-i", HOST, "-mi", HOST, "-mp", str(free_port()), "-m", "1", "-nostdin", "-trace_err",
        "-timeout", f"{int(timeout) - 2}s", "-timeout_error", cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        raise
    errors = "".join(path.read_text(errors="replace") for path in tmp_path.glob("*_errors.log"))
    return process.returncode, stderr.decode(errors="replace") + errors


async def listening(port: int, timeout: float = 5.0) -> None:
    """Wait until sipp has bound its UDP port, as the kernel lists it (binding it to see would race sipp)."""
    def bound() -> bool:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
        return any(line.split()[1].endswith(f":{port:04X}") for line in lines)
    await until(bound, timeout, what=f"sipp listening on {port}")


async def sipp_uas(tmp_path, scenario: list[str], *extra: str) -> tuple[asyncio.Task, int]:
    port = free_port()
    task = asyncio.ensure_future(sipp(tmp_path, *scenario, "-p", str(port), *extra))
    await listening(port)
    return task, port


async def sipp_succeeded(run: Awaitable[tuple[int, str]]) -> None:
    """Wait for a sipp run and fail with its complaints unless every step of its scenario went as written."""
    code, errors = await run
    assert code == 0, errors


SIPP_TIMERS = Timers(t1=0.1)


async def we_call_sipp(agents, tmp_path, scenario: str, *extra: str, user: str = "us",
                       auth: Auth = None) -> tuple[OutgoingCall, asyncio.Task]:
    """Start sipp answering with `scenario` (a built-in one or a file of SIPP_SCENARIOS) and send it our INVITE;
    the task is sipp's run, for `sipp_succeeded`."""
    agent = await agents(timers=SIPP_TIMERS)
    task, port = await sipp_uas(tmp_path, scenario_args(scenario), *extra)
    call = await agent.invite(f"sip:service@{HOST}:{port}", f"sip:{user}@{HOST}", f"sip:service@{HOST}",
                              build_offer(HOST, 30000), auth=auth)
    return call, task


def scenario_args(scenario: str) -> list[str]:
    """sipp's arguments for a scenario: `-sf` and the file for ours (`*.xml`), `-sn` for one built into sipp."""
    return ["-sf", str(SIPP_SCENARIOS / scenario)] if scenario.endswith(".xml") else ["-sn", scenario]


@against_sipp
async def test_sipp_calls_us_hears_early_media_and_hangs_up(agents, tmp_path):
    on_invite = answering(early_media=True)
    agent = await agents(on_invite=on_invite, timers=SIPP_TIMERS)
    await sipp_succeeded(sipp(tmp_path, "-sn", "uac", f"{HOST}:{agent.port}", "-p", str(free_port()), "-d", "100"))
    call = on_invite.calls[0]
    assert call.from_.uri.user == "sipp" and call.remote_sdp.audio.codec == PCMU
    assert await asyncio.wait_for(call.ended, 1) == Ending("remote", "bye")


@against_sipp
async def test_sipp_calls_us_over_tcp(agents, tmp_path):
    on_invite = answering()
    agent = await agents(on_invite=on_invite, timers=SIPP_TIMERS, tcp=True)
    await sipp_succeeded(sipp(tmp_path, "-sn", "uac", f"{HOST}:{agent.port}", "-t", "t1", "-p", str(free_port()),
                              "-d", "100"))
    assert on_invite.calls[0].invite.via.transport == "TCP"


@against_sipp
async def test_sipp_cancels_while_we_ring(agents, tmp_path):
    calls = []

    async def ring(call):
        calls.append(call)
        await call.ringing()
    agent = await agents(on_invite=ring, timers=SIPP_TIMERS)
    await sipp_succeeded(sipp(tmp_path, *scenario_args("uac_cancel.xml"), f"{HOST}:{agent.port}",
                              "-p", str(free_port())))
    assert calls[0].cancelled.done() and calls[0].ended.result() == Ending(
        "remote", "cancelled", 487)
    with pytest.raises(CallEnded):
        await calls[0].answer(build_answer(calls[0].remote_sdp, HOST, 40000))


@against_sipp
async def test_we_call_sipp_which_answers(agents, tmp_path):
    call, sipp_run = await we_call_sipp(agents, tmp_path, "uas")
    await asyncio.wait_for(call.answered, 5)
    assert call.ringing.done() and call.remote_sdp.audio.codec == PCMU
    await call.bye()
    await sipp_succeeded(sipp_run)


@against_sipp
async def test_we_hold_sipp_with_a_reinvite(agents, tmp_path):
    call, sipp_run = await we_call_sipp(agents, tmp_path, "uas_hold.xml")
    await asyncio.wait_for(call.answered, 5)
    assert call.remote_sdp.audio.codec == PCMA and call.remote_sdp.audio.telephone_event.fmtp == "0-15"
    assert call.headers["P-Asserted-Identity"].startswith("<sip:+4930123456@")
    response = await call.reinvite(call.local_sdp.revised("sendonly"))
    assert response.status == 200 and response.headers["X-Held"] == "a=sendonly"  # what sipp read in our offer
    assert call.remote_sdp.audio_direction() == "recvonly"
    await call.bye()
    await sipp_succeeded(sipp_run)


@against_sipp
async def test_sipp_busy_fails_our_call_as_busy_and_gets_its_ack(agents, tmp_path):
    call, sipp_run = await we_call_sipp(agents, tmp_path, "uas_busy.xml")
    with pytest.raises(CallFailed) as failed:
        await asyncio.wait_for(call.answered, 5)
    assert (failed.value.status, failed.value.cause) == (486, "busy")
    await sipp_succeeded(sipp_run)


@against_sipp
@pytest.mark.parametrize("challenge", ["", ', qop="auth"'])
async def test_sipp_challenges_our_invite_and_accepts_the_digest(agents, tmp_path, challenge):
    call, sipp_run = await we_call_sipp(agents, tmp_path, "uas_auth.xml", "-key", "challenge_extra", challenge,
                                        user="alice", auth=("alice", "wonderland"))
    await asyncio.wait_for(call.answered, 5)
    assert call.invite.headers["Authorization"].startswith('Digest username="alice", realm="tccc.test"')
    await call.bye()
    await sipp_succeeded(sipp_run)


@against_sipp
async def test_we_register_at_a_sipp_registrar_with_digest(agents, tmp_path):
    agent = await agents(timers=SIPP_TIMERS)
    task, port = await sipp_uas(tmp_path, scenario_args("registrar.xml"))
    registration = await agent.register(f"sip:{HOST}:{port}", f"sip:alice@{HOST}", auth=("alice", "wonderland"),
                                        refresh=False)
    assert registration.registered and registration.expires == 60
    await sipp_succeeded(task)


# Fuzz: random and mutated datagrams at a running agent


AGENT_PORT, PEER_PORT = 1111, 2222  # in the templates; the rig's real ports replace them
TEMPLATES = [raw_request("INVITE", AGENT_PORT, PEER_PORT, call_id="fz-{n}", branch="z9hG4bKfz{n}", body=OFFER),
             raw_request("OPTIONS", AGENT_PORT, PEER_PORT, call_id="fz-{n}", branch="z9hG4bKfz{n}"),
             raw_request("BYE", AGENT_PORT, PEER_PORT, call_id="fz-{n}", branch="z9hG4bKfz{n}", to_tag="x"),
             raw_request("CANCEL", AGENT_PORT, PEER_PORT, call_id="fz-{n}", branch="z9hG4bKfz{n}"),
             crlf("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:2222;branch=z9hG4bKfz{n}\nFrom: <sip:a@b>;tag=1\n"
                  "To: <sip:c@d>;tag=2\nCall-ID: fz-{n}\nCSeq: 1 INVITE\nContent-Length: 0") + b"\r\n"]
JUNK = st.one_of(st.binary(max_size=40), st.text(max_size=40).map(lambda text: text.encode("utf-8", "replace")),
                 st.sampled_from([b"", b" ", b";", b",", b"<", b">", b'"', b"\\", b":", b"\r\n", b"\r\n ", b"0",
                                  b"-1", b"99999999999999999999", b"sip:", b"SIP/2.0", b"z9hG4bK", b"\x00", b"%"]))


@st.composite
def datagrams(draw) -> bytes:
    """A SIP message with a few lines or bytes changed, cut short, or plain noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    lines = draw(st.sampled_from(TEMPLATES)).split(b"\r\n")
    for _ in range(draw(st.integers(1, 4))):
        index = draw(st.integers(0, len(lines) - 1))
        mutation = draw(st.sampled_from(["drop", "replace", "insert", "dup", "splice"]))
        if mutation == "drop":
            del lines[index]
        elif mutation == "replace":
            lines[index] = draw(JUNK)
        elif mutation == "insert":
            lines.insert(index, draw(JUNK))
        elif mutation == "dup":
            lines.insert(index, lines[index])
        elif lines[index]:
            at = draw(st.integers(0, len(lines[index])))
            lines[index] = lines[index][:at] + draw(JUNK) + lines[index][at:]
        if not lines:
            lines = [b""]
    data = b"\r\n".join(lines)
    return data[:draw(st.integers(0, len(data)))] if draw(st.booleans()) and draw(st.booleans()) else data


class FuzzRig:
    """A user agent and a raw socket on a loop of their own, kept across hypothesis examples."""

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        self.mode = "reject"
        self.examples = 0
        self.run(self._start())

    def run(self, coroutine, timeout: float = 20):
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    async def _start(self):
        async def on_invite(call):
            if self.mode == "reject":
                await call.reject(486)
            else:
                await call.answer(build_answer(call.remote_sdp, HOST, 40000))
        self.agent = await UserAgent(HOST, 0, timers=Timers(t1=0.05), on_invite=on_invite).start()
        self.peer = await Peer.open()

    async def throw(self, payloads: list[bytes]) -> list:
        """Send the datagrams, then an OPTIONS probe; return every response that came before the probe's."""
        self.examples += 1
        for payload in payloads:
            payload = payload.replace(b"{n}", str(self.examples).encode())
            payload = payload.replace(b"1111", str(self.agent.port).encode()).replace(b"2222", str(self.peer.port)
                                                                                      .encode())
            self.peer.send(payload, self.agent.port)
        probe = f"probe-{self.examples}"
        self.peer.send(raw_request("OPTIONS", self.agent.port, self.peer.port, call_id=probe,
                                   branch=f"z9hG4bKprobe{self.examples}"), self.agent.port)
        seen = []
        while True:
            message = await self.peer.next(5)
            if getattr(message, "call_id", None) == probe:
                assert message.status == 200
                return seen
            seen.append(message)

    def close(self):
        self.run(self.agent.close())
        self.peer.transport.close()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


def test_fuzzed_datagrams_get_an_answer_or_nothing_and_a_call_still_completes(caplog):
    caplog.set_level(logging.ERROR, logger="sessions_app.media.sip")
    rig = FuzzRig()
    try:
        @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(payloads=st.lists(datagrams(), min_size=1, max_size=4))
        def throw(payloads):
            for message in rig.run(rig.throw(payloads)):
                assert getattr(message, "status", None), f"not a response: {message!r}"
                assert message.status < 500 or message.status in (501, 505), message
        throw()
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text

        async def normal_call():
            rig.mode = "answer"
            async with UserAgent(HOST, 0, timers=Timers(t1=0.05)) as caller:
                call = await caller.invite(f"sip:b@{HOST}:{rig.agent.port}", f"sip:a@{HOST}", f"sip:b@{HOST}",
                                           build_offer(HOST, 30000))
                await asyncio.wait_for(call.answered, 5)
                await call.bye()
                return await call.ended
        assert rig.run(normal_call()).reason == "bye"
    finally:
        rig.close()


@pytest.mark.unit
def test_headers_are_a_case_insensitive_ordered_multimap_of_single_lines():
    headers = Headers([("Via", "a"), ("v", "b"), ("X-UUI", "1")])
    headers.set("x-uui", "2")
    headers.add("Route", "<sip:p;lr>", first=True)
    assert headers.items() == [("Route", "<sip:p;lr>"), ("Via", "a"), ("Via", "b"), ("X-UUI", "2")]
    headers.remove("VIA")
    assert "via" not in headers and headers["x-uui"] == "2"
    with pytest.raises(ValueError):
        headers.add("X-UUI", "1\r\nBYE sip:x SIP/2.0")


async def test_an_agent_on_any_port_picks_again_when_its_udp_port_is_taken_for_tcp(monkeypatch):
    """On port 0 the system picks a free UDP port; the same number may be taken for TCP (it was, once in CI):
    the agent picks another pair instead of failing, and lets go of the UDP port it could not use."""
    taken = socket.socket()
    taken.bind((HOST, 0))
    taken.listen()
    port = taken.getsockname()[1]
    real_listen = UdpTransport.listen.__func__
    ports = iter([port])

    async def listen_first_on_the_taken_number(cls, host, requested, *args):
        return await real_listen(cls, host, next(ports, requested), *args)

    monkeypatch.setattr(UdpTransport, "listen", classmethod(listen_first_on_the_taken_number))
    agent = await UserAgent(HOST, 0, tcp=True, timers=FAST).start()
    try:
        assert agent.port != port
        assert agent.udp.local_address[1] == agent.tcp_transport.local_address[1] == agent.port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((HOST, port))  # released
    finally:
        await agent.close()
        taken.close()
