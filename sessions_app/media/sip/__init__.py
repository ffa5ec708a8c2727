"""SIP signalling for the phone trunk: our own small stack on asyncio (RFC 3261, 3264, 3581, 2617/8760, 6026).

Why our own: the media layer runs on asyncio (aiortc), and a trunk leg must live on the same loop as the
bridge it feeds, driven by coroutines and futures, testable without threads. pyVoIP runs threads per socket
and call and is shaped like a phone (one account, its own RTP and audio), where we need a B2BUA leg whose
media is ours; aiosip is asyncio but unmaintained (last release 0.2.0, 2017) and lacks the INVITE server
side we need most (CANCEL, 2xx retransmission until ACK, SDP negotiation); PJSIP's bindings (pjsua2) bring
a C stack with its own threads and event loop. What a trunk needs, G.711 calls both ways with hold, DTMF,
digest auth, OPTIONS pings and registration, is a few hundred lines per layer, each testable alone, and
tested here against sipp.

Layers, bottom up (nothing here imports Django):
  message, fields   parse and print SIP messages and the header values we route by
  sdp               audio SDP: parse, offer, answer (PCMU/PCMA + telephone-event)
  transport         UDP and TCP on asyncio; Via received/rport; response routing
  transactions      RFC 3261 §17 client and server transactions and their timers
  auth              digest answers to 401/407
  challenge         digest as the server: 401 challenges with stateless nonces, and checking their answers
  dialog            dialog state and in-dialog requests
  call, incoming, outgoing   calls both ways
  registration, keepalive    REGISTER with refresh, OPTIONS pings
  ua                the UserAgent that ties them together

Not supported: TLS/SIPS, PRACK (RFC 3262), session timers (RFC 4028), UPDATE, REFER, DNS NAPTR/SRV
(RFC 3263: a host is resolved to its A record), forking beyond hanging up extra 2xx, switching to TCP for
large requests (§18.1.1), strict loop detection (482).
"""
from .auth import Credentials, digest
from .call import Call, CallEnded, Ending
from .errors import SipError
from .fields import Address, CSeq, SipUri, Via
from .incoming import IncomingCall
from .keepalive import KeepAlive
from .message import Headers, Request, Response, make_response, parse_message
from .outgoing import CallFailed, OutgoingCall
from .registration import Registration
from .sdp import PCMA, PCMU, Codec, SdpError, SessionDescription, build_answer, build_offer
from .transactions import Timers
from .ua import UserAgent

__all__ = [
    "Address", "CSeq", "Call", "CallEnded", "CallFailed", "Codec", "Credentials", "Ending", "Headers",
    "IncomingCall", "KeepAlive", "OutgoingCall", "PCMA", "PCMU", "Registration", "Request", "Response",
    "SdpError", "SessionDescription", "SipError", "SipUri", "Timers", "UserAgent", "Via", "build_answer",
    "build_offer", "digest", "make_response", "parse_message",
]
