"""Which service answers each SDK method: the protocol names the methods, this binds them.

Every handler takes the agent's id and the method's cleaned parameters (Python names) and returns the
reply's `data` (a dict) or None.
"""
from __future__ import annotations

from functools import partial

from . import agents, presence, sessions



HANDLERS = {
    "Call.startOutboundCall": sessions.start_outbound_call,
    "Call.accept": partial(sessions.accept, namespace="Call"),
    "Call.hungUp": partial(sessions.hang_up, namespace="Call"),
    "Call.deleteCall": sessions.delete_call,
    "Call.muteMic": partial(sessions.set_mic, namespace="Call", muted=True),
    "Call.unmuteMic": partial(sessions.set_mic, namespace="Call", muted=False),
    "Call.isMicMuted": sessions.is_mic_muted,
    "Call.startInternalCall": sessions.start_internal_call,
    "Call.transfer": partial(sessions.transfer, namespace="Call"),
    "Call.hold": partial(sessions.set_hold, held=True),
    "Call.unHold": partial(sessions.set_hold, held=False),
    "Call.sendDigits": sessions.send_digits,
    "Chat.accept": partial(sessions.accept, namespace="Chat"),
    "Chat.end": partial(sessions.hang_up, namespace="Chat"),
    "Chat.transfer": partial(sessions.transfer, namespace="Chat"),
    "Video.accept": partial(sessions.accept, namespace="Video"),
    "Video.end": partial(sessions.hang_up, namespace="Video"),
    "Video.muteMic": partial(sessions.set_mic, namespace="Video", muted=True),
    "Video.unmuteMic": partial(sessions.set_mic, namespace="Video", muted=False),
    "Video.muteVideo": partial(sessions.set_video, muted=True),
    "Video.unmuteVideo": partial(sessions.set_video, muted=False),
    "Video.transfer": partial(sessions.transfer, namespace="Video"),
    "Agent.online": agents.online,
    "Agent.offline": presence.offline,
    "Agent.setStatus": agents.set_status,
    "Agent.getStatus": agents.get_status,
}


def call(method: str, agent_id: int, params: dict):
    return HANDLERS[method](agent_id, **params)
