"""The workbench page's actions, declared once: each action's name and the fields it reads. Pure Python.

A frame is the JSON htmx's ws extension sends for a `ws-send` element (the form's fields, `hx-vals` and
`HEADERS`), or one the page's script sends (`static/workbench/workbench.js`): `{"action", ...fields}`. Fields
not declared are ignored (a form carries more than its action reads). Most actions call an SDK method, whose
own declaration (`protocol.METHODS`) checks what they pass on (`any` here); the rest are checked here. The
transport's table (`consumers/workbench_actions.py`) maps each name to its service and what is redrawn; a test
checks that table, the templates and the script against these names.
"""
from __future__ import annotations

from .protocol import Method, Param

SESSION = Param("sessionId", kind="text", default="")


def _passed_on(name: str) -> Param:
    """A field handed to an SDK method or a chat service, which checks it as it does for the SDK and the visitor."""
    return Param(name, kind="any")


def _session_action(name: str, *extra: Param) -> Method:
    return Method(name, (SESSION, *extra), unknown="")


ACTIONS: dict[str, Method] = {m.name: m for m in (
    Method("status", (_passed_on("status"), _passed_on("restReason")), unknown=""),
    _session_action("accept"),
    _session_action("reject"),
    _session_action("end"),
    _session_action("hold"),
    _session_action("unhold"),
    _session_action("mute"),
    _session_action("unmute"),
    _session_action("camera.off"),
    _session_action("camera.on"),
    _session_action("recording.pause"),
    _session_action("recording.resume"),
    _session_action("dtmf", _passed_on("digits")),
    _session_action("transfer", _passed_on("skillGroupId"), _passed_on("userId")),
    _session_action("complete"),
    _session_action("consult", *(Param(name, kind="string", default="", max_length=64)
                                 for name in ("userId", "skillGroupId", "phoneNumber"))),
    _session_action("consult.complete"),
    _session_action("consult.conference"),
    _session_action("consult.cancel"),
    _session_action("consult.dismiss"),
    Method("dial", (_passed_on("phoneNumber"), _passed_on("callerPhoneNumber")), unknown=""),
    _session_action("chat.send", _passed_on("text"), Param("clientId", kind="any", default="")),
    _session_action("chat.typing"),
    _session_action("chat.read", Param("seq", kind="integer", required=True,
                                       message="seq must be a whole number of at least 0")),
    _session_action("select"),
    _session_action("keypad.toggle"),
    _session_action("transfer.toggle"),
    _session_action("transfer.refresh"),
    _session_action("consult.toggle"),
)}
