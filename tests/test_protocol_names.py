"""One protocol, defined once: the spec, `protocol.py`, the RPC handlers and the JS SDK list the same names.

DESIGN.md names what we have beside the spec, as Tencent's SDK does: `tccc.Agent.getStatus()` and the
`tokenExpired` and `sessionCompleted` events. Everything else is the spec's, method for method.
"""
import re
from pathlib import Path

import pytest

from sessions_app.domain import protocol
from sessions_app.services.rpc import HANDLERS

from .browser import browser, fresh_channel_layer, host_page, open_agent, sdk_server  # noqa: F401 (fixtures)

REPO = Path(__file__).resolve().parents[1]
BESIDE_SPEC_METHODS = {"Agent.getStatus"}
BESIDE_SPEC_EVENTS = {"tokenExpired", "sessionCompleted"}
NAMESPACES = ("Call", "Chat", "Video", "Agent", "Devices", "UI")


def spec_dir() -> Path:
    for candidate in (Path(__file__).resolve().parents[2] / "shared" / "spec", REPO / ".." / "shared" / "spec"):
        if (candidate / "tccc-web-sdk-api.md").exists():
            return candidate
    pytest.fail("shared/spec/tccc-web-sdk-api.md not found beside the repository")


def spec_methods() -> set[str]:
    text = (spec_dir() / "tccc-web-sdk-api.md").read_text()
    return {f"{namespace}.{name}" for namespace, name in re.findall(r"\btccc\.([A-Z]\w*)\.(\w+)\s*\(", text)}


def spec_events() -> set[str]:
    """Every `tccc.events.<name>` of the API page; it spells one `tccc.evens.userAccessed`, read as events."""
    text = (spec_dir() / "tccc-web-sdk-api.md").read_text()
    return set(re.findall(r"\btccc\.even?t?s\.(\w+)", text))


def events_table() -> list[str]:
    """The first column of the table in events.md: the event names, each written `name`."""
    text = (spec_dir() / "events.md").read_text()
    return re.findall(r"^\|\s*`(\w+)`\s*\|", text, flags=re.MULTILINE)


def test_spec_parsing_finds_every_namespace_and_the_misspelt_event():
    assert {name.split(".")[0] for name in spec_methods()} == set(NAMESPACES)
    assert "userAccessed" in spec_events()
    assert "ready" in events_table() and len(events_table()) == len(set(events_table()))


def test_protocol_methods_are_the_spec_methods_plus_get_status():
    ours = set(protocol.METHODS) | set(protocol.LOCAL_METHODS)
    assert not set(protocol.METHODS) & set(protocol.LOCAL_METHODS)
    assert spec_methods() | BESIDE_SPEC_METHODS == ours
    assert not spec_methods() & BESIDE_SPEC_METHODS


def test_protocol_events_are_the_spec_events_and_the_events_table():
    assert spec_events() <= set(protocol.EVENTS)
    assert set(protocol.EVENTS) == set(events_table())
    assert set(protocol.EVENTS) - spec_events() == BESIDE_SPEC_EVENTS


def test_every_protocol_method_has_exactly_one_handler():
    assert set(HANDLERS) == set(protocol.METHODS)


def test_the_sdk_in_chromium_has_the_protocol_methods_and_events(open_agent):
    agent = open_agent("agent1@demo")
    sdk = agent.page.evaluate("""(namespaces) => ({
        methods: namespaces.flatMap((namespace) => Object.keys(tccc[namespace]).map((name) => `${namespace}.${name}`)),
        notFunctions: namespaces.flatMap((namespace) => Object.entries(tccc[namespace])
          .filter(([, value]) => typeof value !== 'function').map(([name]) => `${namespace}.${name}`)),
        events: Object.values(tccc.events),
        eventKeysAreNames: Object.entries(tccc.events).every(([key, value]) => key === value),
      })""", list(NAMESPACES))
    assert sorted(sdk["methods"]) == sorted(set(protocol.METHODS) | set(protocol.LOCAL_METHODS))
    assert sdk["notFunctions"] == []
    assert sorted(sdk["events"]) == sorted(protocol.EVENTS)
    assert sdk["eventKeysAreNames"]
