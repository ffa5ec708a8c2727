"""One browser's peer connection to the bridge: what it sends us is tapped, what we send it is switched."""
from __future__ import annotations

import logging

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from . import sounds
from .commands import LegError
from .encoded import codec_name
from .switch import SwitchAudioTrack, SwitchVideoTrack
from .tap import Tap

log = logging.getLogger(__name__)

NO_COMMON_CODEC = "no audio codec in common (Opus, PCMU, PCMA or G722)"


class Leg:
    def __init__(self, leg_id: str, on_change, configuration: RTCConfiguration | None = None):
        self.id = leg_id
        self.on_change = on_change  # called when a track arrives or the connection fails or closes
        # No STUN or TURN unless the deployment names them (media/ice.py): nothing leaves the network.
        self.pc = RTCPeerConnection(configuration or RTCConfiguration(iceServers=[]))
        self.audio_out: SwitchAudioTrack | None = None
        self.video_out: SwitchVideoTrack | None = None
        self.taps: dict[str, Tap] = {}
        self.audio_codec = ""
        self.video_codec = ""
        self.closed = False

        @self.pc.on("track")
        def on_track(track):
            self.taps[track.kind] = Tap(track)
            on_change(self)

        @self.pc.on("connectionstatechange")
        async def on_state():
            if self.pc.connectionState in ("failed", "closed"):
                on_change(self)

    @property
    def state(self) -> str:
        return "closed" if self.closed else self.pc.connectionState

    async def answer(self, offer_sdp: str, prefer_codec: str = "") -> str:
        """Answer the browser's offer: send-and-receive on each audio and video line, our switch tracks out.

        `prefer_codec` (a MIME type such as "audio/PCMU") is chosen when the browser offers it, so that a
        bridge between two legs on the same codec does no needless conversion."""
        if "m=audio" not in offer_sdp:
            raise LegError("the offer has no audio")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as error:  # aiortc raises ValueError, KeyError ... on SDP it cannot read
            if "send parameters" in str(error):  # its words for "none of the offered codecs is one of mine"
                raise LegError(NO_COMMON_CODEC) from None
            raise LegError(f"the offer is not valid SDP: {error}") from None
        for transceiver in self.pc.getTransceivers():
            if transceiver.kind == "audio" and self.audio_out is None:
                codecs = transceiver._codecs  # negotiated, remote order first; aiortc sends with codecs[0]
                if prefer_codec:
                    codecs.sort(key=lambda c: c.mimeType.lower() != prefer_codec.lower())
                if not codecs:
                    raise LegError(NO_COMMON_CODEC)
                self.audio_codec = codecs[0].mimeType
                self.audio_out = SwitchAudioTrack(sounds.AudioFormat.for_codec(self.audio_codec))
                self.audio_out.codec = codec_name(self.audio_codec)
                transceiver.sender.replaceTrack(self.audio_out)
                transceiver.direction = "sendrecv"
            elif transceiver.kind == "video" and self.video_out is None:
                self.video_out = SwitchVideoTrack()
                if transceiver._codecs:
                    self.video_codec = transceiver._codecs[0].mimeType
                    self.video_out.codec = codec_name(self.video_codec)
                transceiver.sender.replaceTrack(self.video_out)
                transceiver.direction = "sendrecv"
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for track in (self.audio_out, self.video_out):
            if track is not None:
                track.stop()
        for tap in self.taps.values():
            await tap.stop()
        await self.pc.close()

    def stats(self) -> dict:
        return {"state": self.state, "codec": self.audio_codec,
                "framesIn": {kind: tap.frames_in for kind, tap in self.taps.items()}}
