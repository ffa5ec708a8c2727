"""The SIP trunk's side of the bridge: phone calls in (IVR, then the queue) and out (an agent dials).

It runs on the media engine's event loop, next to the legs it bridges: each trunk call is a `phone` RTP leg
of the session's call in the engine, so the agent's WebRTC leg is bridged to it by the same plans as a web
call. What the contact center decides (which hotline, the IVR's menus, routing, how a call ended) it asks the
`decisions` object the web side gives it (services.telephony, reached through a thread: the database is not
touched on this loop).

Signalling is our own SIP stack (`media.sip`), on UDP and TCP alike; media is G.711 RTP (`rtp_leg.RtpLeg`)
with RFC 4733 keys.

A session may carry a second SIP call: an agent's consult of a phone number (services/consult.py), dialled out
on its own RTP leg (`CONSULT_LEG`) beside the customer's leg, be the customer a caller on the trunk or a web
caller. Its ringing, answer, failure and hang-up end only the consult (`decisions.consult_*`); our side hangs it
up alone when the plan no longer names its leg (a cancel, a consult that rang out: `plan_applied`), and with the
session's other legs when the call ends (`hang_up`).

A trunk call and its session end together, whichever ends first. The session ending hangs the call up
(`hang_up`); the call ending any other way ends the session: the far end's BYE or CANCEL as the caller's doing,
anything on our side of the stack (no ACK for our 200, a transport error) as `LOST_END_STATUSES` says. Either
way the call's legs close here at once, so no port stays bound and no RTP goes on toward an address a stranger
wrote in SDP, whatever the database thread is doing.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from pathlib import Path

from . import prompts
from .background import BackgroundTasks
from .inbound_screen import REFRESH, InboundScreen
from .ivr_runner import IvrRunner
from .leg import LegError
from .sip import CallFailed, IncomingCall, OutgoingCall, SessionDescription, SipError, Timers, UserAgent
from .sip import build_answer, build_offer

log = logging.getLogger(__name__)

PHONE_LEG = "phone"
CONSULT_LEG = "phone:consult"  # a consult's outbound call (services/media.py's name for it too)
SUPPORTED = ("PCMU", "PCMA")
# Why an outbound call failed (media.sip's CallFailed.cause) → the session's end status (Tencent's names).
END_STATUSES = {"busy": "busy", "rejected": "userReject", "no-answer": "notAnswer", "cancelled": "notAnswer",
                "unreachable": "unconnected", "not-found": "unconnected", "failed": "unconnected"}
# A call that ended on our side of the SIP stack without the session asking (media.sip's Ending.reason) → the
# session's end status: no ACK for our 200, or a response that could not be sent, is the trunk's line failing,
# in Tencent's words; anything else (a call refused 500 by a bug) is a system error.
LOST_END_STATUSES = {"no-ack": "operatorError", "transport-error": "operatorError"}
TRANSPORTS = ("udp", "tcp")


class PhoneGateway:
    def __init__(self, engine, decisions, *, host: str, port: int, public_host: str | None = None,
                 prompt_cache: Path, timers: Timers = Timers(), invite_rate: float = 30,
                 invite_burst: int = 60):
        self.engine = engine
        self.decisions = decisions
        self.prompt_cache = prompt_cache
        self.ua = UserAgent(host, port, tcp=True, public_host=public_host, timers=timers, on_invite=self._incoming)
        self.invite_limit = (invite_rate, invite_burst)
        self.door: InboundScreen | None = None  # from start(), which reads who may call
        # Who may call is read on one thread of its own: one database connection for it, kept, not one per
        # thread of the loop's default executor.
        self.policy_reader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sip-policy")
        self.calls: dict[str, IncomingCall | OutgoingCall] = {}  # session id → its SIP call
        self.consults: dict[str, tuple[int, OutgoingCall]] = {}  # session id → (consult id, its consult's call)
        self.ivrs: dict[str, IvrRunner] = {}
        self.tasks = BackgroundTasks(log, "phone call task")
        engine.gateway = self
        engine.on_digit = self._digit

    async def start(self, lease: float = 60.0) -> None:
        """Listen, after reading who may call, and renew the lease of every call carried (`lease` seconds) every
        quarter of it."""
        rate, burst = self.invite_limit
        self.door = InboundScreen(await self._read_policy(), realm=self.ua.public_host or self.ua.host, rate=rate,
                                  burst=burst)
        self.ua.screen = self.door.screen
        await self.ua.start()
        self.tasks.start(self._follow_policy())
        self.tasks.start(self._renew_leases(lease / 4))
        log.info("SIP gateway listening on %s:%s (UDP and TCP)", self.ua.host, self.ua.port)

    async def _renew_leases(self, every: float) -> None:
        """A session whose lease runs out ends (its gateway lost the call): renew the ones still carried."""
        while True:
            await asyncio.sleep(every)
            if self.calls:
                try:
                    await asyncio.to_thread(self.decisions.renew_lines, list(self.calls))
                except Exception:  # the database is away: the next round tries again, within the lease
                    log.warning("SIP gateway: renewing the calls' leases failed", exc_info=True)

    async def _follow_policy(self) -> None:
        """Who may call is read again every few seconds: admin's changes reach the door without a restart."""
        while True:
            await asyncio.sleep(REFRESH)
            try:
                self.door.adopt(await self._read_policy())
            except Exception:  # the database is away for a moment: keep the last policy, try again
                log.warning("SIP: could not read who may call; keeping the last list", exc_info=True)

    def _read_policy(self) -> asyncio.Future:
        return asyncio.get_running_loop().run_in_executor(self.policy_reader, self.decisions.inbound_policy)

    async def close(self) -> None:
        self.tasks.cancel()
        self.policy_reader.shutdown(wait=False)
        for session_id in {*self.calls, *self.consults}:
            await self.hang_up(session_id)
        await self.ua.drain(timeout=2.0)  # the BYEs go out and are answered before the transport closes
        await self.ua.close()

    # Inbound.

    async def _incoming(self, call: IncomingCall) -> None:
        offer = call.remote_sdp
        codec = _first_supported(offer)
        if codec is None:
            await call.reject(488, "Not Acceptable Here")
            return
        to_number = call.request_uri.user or ""
        from_number = call.from_.uri.user or ""
        inbound = await asyncio.to_thread(self.decisions.inbound_call, to_number, from_number)
        if inbound is None:
            await call.reject(404, "Not Found")
            return
        if inbound.ended:  # nobody of the hotline's group is online: refused before it costs a leg
            await call.reject(480, "Temporarily Unavailable")
            return
        session_id = inbound.session_id
        self.calls[session_id] = call
        self.tasks.start(self._follow(session_id, call))  # from here on, however the call ends, the session ends
        try:
            answer = await self._open_phone_leg(session_id, offer, codec)
        except LegError as error:
            log.warning("no phone leg for %s: %s", session_id, error)
            del self.calls[session_id]
            await call.reject(503, "Service Unavailable")
            await asyncio.to_thread(self.decisions.call_lost, session_id, "mediaError")
            return
        if self.calls.get(session_id) is not call:  # it ended while its leg opened: the leg goes too
            await self.engine.end_call(session_id)
            return
        call.on_reinvite = lambda reoffer: self._reinvited(session_id, reoffer)
        await call.answer(answer)
        if inbound.menu is not None:
            runner = IvrRunner(self, session_id, inbound.tenant_id, inbound.menu)
            self.ivrs[session_id] = runner
            self.tasks.start(runner.run())

    async def _open_phone_leg(self, session_id: str, offer: SessionDescription, codec) -> SessionDescription:
        plan = await asyncio.to_thread(self.decisions.plan, session_id)
        opened = await self.engine.open_rtp_leg(session_id, PHONE_LEG, *_media_of(offer, codec), plan)
        return build_answer(offer, self.engine.rtp_host, opened["local_port"])

    async def _reinvited(self, session_id: str, offer: SessionDescription | None) -> SessionDescription:
        """The trunk put the call on hold or moved its media: follow it, answer with our same port."""
        codec = _first_supported(offer)
        if codec is None:
            raise SipError(488, "Not Acceptable Here")
        try:
            updated = await self.engine.update_rtp_leg(session_id, PHONE_LEG, *_media_of(offer, codec))
        except LegError as refused:  # an address we cannot send to: the call goes on as it was
            raise SipError(488, f"Not Acceptable Here ({refused})") from None
        return build_answer(offer, self.engine.rtp_host, updated["local_port"])

    async def _follow(self, session_id: str, call) -> None:
        """When the call ends without the session asking, its legs close and the session ends: as the
        customer's doing when the far end hung up, as `LOST_END_STATUSES` says when our stack gave up on it."""
        # Shielded: cancelling this watcher (close() does) must not cancel `call.ended` itself, which would make
        # the call look ended already and close()'s hang-up skip its BYE.
        ending = await asyncio.shield(call.ended)
        runner = self.ivrs.pop(session_id, None)
        if runner is not None:
            runner.stop()
        if self.calls.get(session_id) is not call:
            return  # the session ended first and hung up (`hang_up`): its media went with it
        del self.calls[session_id]
        await self.engine.end_call(session_id)
        if ending.by == "remote":
            path = runner.path if runner is not None else None
            await asyncio.to_thread(self.decisions.caller_hung_up, session_id, path)
        else:
            end_status = LOST_END_STATUSES.get(ending.reason, "error")
            log.info("phone call of %s lost (%s): the session ends as %s", session_id, ending.reason, end_status)
            await asyncio.to_thread(self.decisions.call_lost, session_id, end_status)

    # Keys and prompts, for the IVR.

    def _digit(self, call_id: str, leg_id: str, digit: str) -> None:
        runner = self.ivrs.get(call_id)
        if runner is not None and leg_id == PHONE_LEG:
            runner.pressed(digit)

    async def say(self, session_id: str, text: str, audio_file: str = "") -> asyncio.Event:
        """Play a prompt to the caller; the event is set when it has been heard to the end."""
        done = asyncio.Event()
        try:
            path = Path(audio_file) if audio_file else await asyncio.to_thread(prompts.spoken, text, self.prompt_cache)
            samples = await asyncio.to_thread(prompts.samples, path, 8000)
        except prompts.PromptError as error:
            log.error("IVR prompt of %s not played: %s", session_id, error)
            done.set()
            return done
        leg = self.engine.rtp_leg(session_id, PHONE_LEG)
        leg.audio_out.say(samples, on_done=done.set)
        return done

    def hush(self, session_id: str) -> None:
        call = self.engine.calls.get(session_id)
        leg = call.legs.get(PHONE_LEG) if call else None
        if leg is not None and leg.audio_out is not None:
            leg.audio_out.hush()

    # Outbound, and the end of any phone call.

    async def dial(self, call_id: str, *, number: str, caller: str, trunk_host: str, trunk_port: int,
                   transport: str = "udp", username: str = "", password: str = "", uui: str = "",
                   ring_seconds: float = 60, consult_id: int | None = None) -> dict:
        """INVITE `number` through the trunk (over its `transport`, udp or tcp) as `caller`; the session follows
        the call's progress. A call that cannot be placed at all ends its session as `unconnected`.

        With `consult_id` the call is that consult's, on the session's `CONSULT_LEG` (`_dial_consult`)."""
        if consult_id is not None:
            return await self._dial_consult(call_id, consult_id, number=number, caller=caller, trunk_host=trunk_host,
                                            trunk_port=trunk_port, transport=transport, username=username,
                                            password=password, uui=uui, ring_seconds=ring_seconds)
        if transport not in TRANSPORTS:
            await asyncio.to_thread(self.decisions.outbound_failed, call_id, "unconnected")
            raise LegError(f"the trunk's transport {transport!r} is neither udp nor tcp")
        # Toward 0.0.0.0 nothing is sent until the far end's SDP says where (early media or the answer).
        try:
            opened = await self.engine.open_rtp_leg(call_id, PHONE_LEG, "0.0.0.0", 9, 0, 101, "sendrecv",
                                                    await asyncio.to_thread(self.decisions.plan, call_id))
        except LegError:  # no RTP port free
            await asyncio.to_thread(self.decisions.call_lost, call_id, "mediaError")
            raise
        offer = build_offer(self.engine.rtp_host, opened["local_port"])
        callee = f"sip:{number}@{trunk_host}:{trunk_port}"
        target = callee + (";transport=tcp" if transport == "tcp" else "")
        headers = [("X-UUI", uui)] if uui else []
        try:
            call = await self.ua.invite(target, f"sip:{caller}@{self.ua.address[0]}", callee, offer,
                                        auth=(username, password) if username else None, headers=headers,
                                        timeout=ring_seconds)
        except SipError as error:  # the trunk's address makes no SIP URI
            await self.engine.end_call(call_id)
            await asyncio.to_thread(self.decisions.outbound_failed, call_id, "unconnected")
            raise LegError(f"cannot dial {target}: {error}") from None
        self.calls[call_id] = call
        self.tasks.start(self._outbound(call_id, call))
        return {"dialled": target}

    async def _outbound(self, session_id: str, call: OutgoingCall) -> None:
        await asyncio.to_thread(self.decisions.call_outed, session_id)
        try:
            await call.ringing
            await self._follow_answer_sdp(session_id, call)
            await call.answered
            await self._follow_answer_sdp(session_id, call)
        except CallFailed as failure:
            if self.calls.get(session_id) is call:  # not our own CANCEL of a session that ended
                del self.calls[session_id]
                await self.engine.end_call(session_id)
                await asyncio.to_thread(self.decisions.outbound_failed, session_id,
                                        END_STATUSES.get(failure.cause, "unconnected"))
            return
        except LegError as error:  # the far end's SDP names media we cannot send to
            log.warning("outbound call %s hung up: %s", session_id, error)
            await self.hang_up(session_id)
            await self.engine.end_call(session_id)
            await asyncio.to_thread(self.decisions.call_lost, session_id, "mediaError")
            return
        await asyncio.to_thread(self.decisions.outbound_answered, session_id)
        await self._follow(session_id, call)

    async def _follow_answer_sdp(self, session_id: str, call: OutgoingCall, leg_id: str = PHONE_LEG) -> None:
        """Send our audio where the far end's SDP (early media or the answer) says."""
        codec = _first_supported(call.remote_sdp)
        if codec is not None:
            await self.engine.update_rtp_leg(session_id, leg_id, *_media_of(call.remote_sdp, codec))

    # A consult's outbound call: its own leg, its own end.

    async def _dial_consult(self, session_id: str, consult_id: int, *, number: str, caller: str, trunk_host: str,
                            trunk_port: int, transport: str, username: str, password: str, uui: str,
                            ring_seconds: float) -> dict:
        """INVITE `number` for consult `consult_id` of the session, on the call's `CONSULT_LEG`. A consult that
        cannot be placed ends as `unconnected`; the customer's call goes on either way."""
        async def failed(end_status: str) -> None:
            await asyncio.to_thread(self.decisions.consult_failed, session_id, consult_id, end_status)

        if transport not in TRANSPORTS:
            await failed("unconnected")
            raise LegError(f"the trunk's transport {transport!r} is neither udp nor tcp")
        await self.hang_up_consult(session_id)  # an earlier consult's call, should one linger
        try:  # the plan names the leg only while the consult is open: one ended meanwhile opens nothing
            opened = await self.engine.open_rtp_leg(session_id, CONSULT_LEG, "0.0.0.0", 9, 0, 101, "sendrecv",
                                                    await asyncio.to_thread(self.decisions.plan, session_id))
        except LegError:
            await failed("unconnected")
            raise
        offer = build_offer(self.engine.rtp_host, opened["local_port"])
        callee = f"sip:{number}@{trunk_host}:{trunk_port}"
        target = callee + (";transport=tcp" if transport == "tcp" else "")
        try:
            call = await self.ua.invite(target, f"sip:{caller}@{self.ua.address[0]}", callee, offer,
                                        auth=(username, password) if username else None,
                                        headers=[("X-UUI", uui)] if uui else [], timeout=ring_seconds)
        except SipError as error:  # the trunk's address makes no SIP URI
            await self.engine.close_leg(session_id, CONSULT_LEG)
            await failed("unconnected")
            raise LegError(f"cannot dial {target}: {error}") from None
        self.consults[session_id] = (consult_id, call)
        if not self._consult_leg_open(session_id):  # the consult (or the call) ended while the INVITE went out
            await self.hang_up_consult(session_id)
        self.tasks.start(self._consult(session_id, consult_id, call))
        return {"dialled": target}

    async def _consult(self, session_id: str, consult_id: int, call: OutgoingCall) -> None:
        """Follow a consult's call: its answer, or why it failed, and then how it ended. Our own hang-up (a
        cancel, the call ending) is reported by nobody: the session decided it."""
        try:
            await call.ringing
            await self._follow_answer_sdp(session_id, call, CONSULT_LEG)
            await call.answered
            await self._follow_answer_sdp(session_id, call, CONSULT_LEG)
        except CallFailed as failure:
            if self._drop_consult(session_id, call):
                await self.engine.close_leg(session_id, CONSULT_LEG)
                await asyncio.to_thread(self.decisions.consult_failed, session_id, consult_id,
                                        END_STATUSES.get(failure.cause, "unconnected"))
            return
        except LegError as error:  # the far end's SDP names media we cannot send to
            log.warning("consult call of %s hung up: %s", session_id, error)
            if self._drop_consult(session_id, call):
                await self._end_sip_call(session_id, call)
                await self.engine.close_leg(session_id, CONSULT_LEG)
                await asyncio.to_thread(self.decisions.consult_failed, session_id, consult_id, "unconnected")
            return
        if self.consults.get(session_id, (None, None))[1] is call:
            await asyncio.to_thread(self.decisions.consult_answered, session_id, consult_id)
        ending = await asyncio.shield(call.ended)  # shielded as in `_follow`
        if not self._drop_consult(session_id, call):
            return  # we hung it up: the consult (or the call) had ended
        await self.engine.close_leg(session_id, CONSULT_LEG)
        how = "remote" if ending.by == "remote" else LOST_END_STATUSES.get(ending.reason, "error")
        await asyncio.to_thread(self.decisions.consult_ended, session_id, consult_id, how)

    def _drop_consult(self, session_id: str, call: OutgoingCall) -> bool:
        """Forget the session's consult call if it is `call` (True), not one that replaced it."""
        if self.consults.get(session_id, (None, None))[1] is not call:
            return False
        del self.consults[session_id]
        return True

    def _consult_leg_open(self, session_id: str) -> bool:
        call = self.engine.calls.get(session_id)
        leg = call.legs.get(CONSULT_LEG) if call is not None else None
        return leg is not None and not leg.closed

    async def plan_applied(self, session_id: str, plan) -> None:
        """The engine applied a plan to the call (`MediaEngine.apply_plan`): a consult call whose leg it no longer
        names (the consult was cancelled, rang out, or its agent was handed the customer) is hung up alone."""
        if session_id in self.consults and CONSULT_LEG not in plan.members:
            await self.hang_up_consult(session_id)

    async def hang_up_consult(self, session_id: str) -> None:
        """Hang up the session's consult call, if it has one: CANCEL while it rings, BYE once answered."""
        _, call = self.consults.pop(session_id, (None, None))
        if call is not None:
            await self._end_sip_call(session_id, call)

    async def _end_sip_call(self, session_id: str, call) -> None:
        if call.ended.done():
            return
        try:
            if isinstance(call, OutgoingCall) and not call.answered.done():
                await call.cancel()
            elif isinstance(call, IncomingCall) and call.state == "ringing":
                await call.reject(480, "Temporarily Unavailable")
            else:
                await call.bye()
        except Exception:  # the far end is gone already: nothing more to tell it
            log.info("hanging up %s: the far end did not take it", session_id, exc_info=True)

    async def hang_up(self, session_id: str) -> None:
        """The session ended on our side: BYE an answered call, CANCEL one still ringing out, refuse one still
        ringing in; its consult's call goes too."""
        await self.hang_up_consult(session_id)
        runner = self.ivrs.pop(session_id, None)
        if runner is not None:
            runner.stop()
        call = self.calls.pop(session_id, None)
        if call is not None:
            await self._end_sip_call(session_id, call)


def _media_of(sdp: SessionDescription, codec) -> tuple:
    """The far end's media as the RTP leg takes it: address, port, payload type, telephone-event, direction."""
    host, port = sdp.audio_address()
    event = sdp.audio.telephone_event
    return host, port, codec.payload_type, event.payload_type if event else None, sdp.audio_direction()


def _first_supported(sdp: SessionDescription | None):
    audio = sdp.audio if sdp is not None else None
    if audio is None or audio.port == 0:
        return None
    return next((codec for codec in audio.codecs if codec.name.upper() in SUPPORTED), None)
