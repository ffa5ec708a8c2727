"""A SIP dialog: the state two user agents share for the length of a call (RFC 3261 §12).

It is created from the INVITE and the response that carries the callee's tag, on either side, and builds
every later request of the call (BYE, re-INVITE, INFO, the ACK of a 2xx) with the right Request-URI,
Route set, tags and CSeq (§12.2.1.1). Requests from the other side are checked for CSeq order (§12.2.2).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from .errors import SipError
from .fields import Address, SipUri
from .message import Request, Response


@dataclass
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: Address  # our From (to the other side: its To), without tag
    remote_uri: Address
    remote_target: SipUri  # the other side's Contact
    route_set: list[Address] = field(default_factory=list)
    local_cseq: int = field(default_factory=lambda: random.randrange(1, 2 ** 16))
    remote_cseq: int | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def as_uas(cls, request: Request, local_tag: str) -> Dialog:
        """§12.1.1: the route set is the request's Record-Route in order, the target its Contact."""
        contact = request.contact
        return cls(call_id=request.call_id, local_tag=local_tag, remote_tag=request.from_.tag or "",
                   local_uri=_untagged(request.to), remote_uri=_untagged(request.from_),
                   remote_target=contact.uri if contact else request.from_.uri,
                   route_set=[Address.parse(value) for value in request.headers.get_all("Record-Route")],
                   remote_cseq=request.cseq.number)

    @classmethod
    def as_uac(cls, request: Request, response: Response) -> Dialog:
        """§12.1.2: the route set is the response's Record-Route reversed, the target its Contact."""
        contact = response.contact
        return cls(call_id=request.call_id, local_tag=request.from_.tag or "", remote_tag=response.to.tag or "",
                   local_uri=_untagged(request.from_), remote_uri=_untagged(request.to),
                   remote_target=contact.uri if contact else request.uri,
                   route_set=[Address.parse(value) for value in reversed(response.headers.get_all("Record-Route"))],
                   local_cseq=request.cseq.number)

    def create_request(self, method: str, body: bytes = b"", content_type: str | None = None,
                       cseq: int | None = None) -> Request:
        """A request in this dialog (§12.2.1.1). ACK and CANCEL reuse the INVITE's number (`cseq`); any other
        request takes the next one."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        uri, routes = self.remote_target, list(self.route_set)
        if routes and "lr" not in routes[0].uri.params:  # a strict router (RFC 2543) goes in the Request-URI
            uri = SipUri(**{**vars(routes[0].uri), "params": {}, "headers": None})
            routes = routes[1:] + [Address(self.remote_target)]
        request = Request(method=method, uri=uri)
        for route in routes:
            request.headers.add("Route", str(route))
        request.headers.add("From", str(self.local_uri.with_tag(self.local_tag)))
        to = self.remote_uri.with_tag(self.remote_tag) if self.remote_tag else self.remote_uri
        request.headers.add("To", str(to))
        request.headers.add("Call-ID", self.call_id)
        request.headers.add("CSeq", f"{cseq} {method}")
        if body:
            request.headers.add("Content-Type", content_type or "application/sdp")
            request.body = body
        return request

    def check_remote_cseq(self, request: Request) -> None:
        """§12.2.2: a request older than the last one is answered 500; the remote target follows a
        target-refresh request (re-INVITE) that brings a Contact."""
        number = request.cseq.number
        if request.method not in ("ACK", "CANCEL"):
            if self.remote_cseq is not None and number <= self.remote_cseq:
                raise SipError(500, "CSeq out of order")
            self.remote_cseq = number
        if request.method == "INVITE" and request.contact is not None:
            self.remote_target = request.contact.uri


def _untagged(address: Address) -> Address:
    return Address(address.uri, address.display_name, {k: v for k, v in address.params.items() if k != "tag"})
