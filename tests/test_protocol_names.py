"""One protocol per channel, defined once: the SDK reference, `protocol.py`, the RPC handlers and the JS SDK list
the same methods and events, with the same parameters and fields; so do the chat visitor's and the web caller's
channels (`domain/chat.py`, `domain/web_call.py`), their docs' tables and the widgets in Chromium; and the
workbench's actions (`domain/workbench.py`) and their docs' table.

`docs/sdk-reference.md` is our English rendering of Tencent's Web SDK API; beside it, as Tencent's SDK does, we
have `tccc.Agent.getStatus()` and the `tokenExpired` and `sessionCompleted` events, marked there "beside the
spec". Everything else is the spec's, method for method.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sessions_app.domain import chat, protocol, web_call, workbench
from sessions_app.services.rpc import HANDLERS

from .browser import browser, fresh_channel_layer, host_page, open_agent, sdk_server  # noqa: F401 (fixtures)

pytestmark = pytest.mark.unit

REFERENCE = Path(__file__).resolve().parents[1] / "docs" / "sdk-reference.md"
BESIDE_SPEC_METHODS = {"Agent.getStatus"}
BESIDE_SPEC_EVENTS = {"tokenExpired", "sessionCompleted"}
NAMESPACES = ("Call", "Chat", "Video", "Agent", "Devices", "UI")
KINDS = {"string": "string", "boolean": "boolean", "string[]": "string[]"}

METHOD_HEADING = re.compile(r"^### tccc\.([A-Z]\w*)\.(\w+)\(")
EVENT_HEADING = re.compile(r"^### `(\w+)`")
CALL_IN_TYPE_HEADING = re.compile(r"^#### callIn of type `(\w+)`")


@dataclass
class Section:
    """One method, event or callIn type of the reference: its tables by their first header cell, as rows."""
    beside_spec: bool
    tables: dict[str, list[list[str]]] = field(default_factory=dict)

    def names(self, table: str) -> list[str]:
        return [row[0].strip("`") for row in self.tables.get(table, [])]


@dataclass
class Reference:
    methods: dict[str, Section] = field(default_factory=dict)
    events: dict[str, Section] = field(default_factory=dict)
    call_in_types: dict[str, Section] = field(default_factory=dict)
    repeated: list[str] = field(default_factory=list)


def read_reference(text: str) -> Reference:
    """Parse the reference's headings and tables (its structure is described at its top)."""
    reference = Reference()
    part, section, table = "", None, None
    for line in text.splitlines():
        if line.startswith("## "):
            part, section = line[3:].strip(), None
            continue
        if line.startswith("### ") or line.startswith("#### "):
            section = None
            in_events = part == "Events"
            found = (("methods", METHOD_HEADING.match(line)), ("events", in_events and EVENT_HEADING.match(line)),
                     ("call_in_types", in_events and CALL_IN_TYPE_HEADING.match(line)))
            for kind, match in found:
                if match:
                    name = ".".join(match.groups())
                    sections = getattr(reference, kind)
                    if name in sections:
                        reference.repeated.append(name)
                    section = sections[name] = Section(beside_spec="beside the spec" in line)
            continue
        if not line.startswith("|"):
            table = None
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if set("".join(cells)) <= set("-: "):
            continue  # the separator under the header
        if table is None:
            table = cells[0]
            if section is not None:
                section.tables[table] = []
        elif section is not None:
            section.tables[table].append(cells)
    return reference


def reference() -> Reference:
    return read_reference(REFERENCE.read_text())


def test_reference_parsing_finds_every_namespace_event_and_call_in_type_once():
    ours = reference()
    assert {name.split(".")[0] for name in ours.methods} == set(NAMESPACES)
    assert "ready" in ours.events and "callIn" in ours.events
    assert set(ours.call_in_types) == {"phone", "im", "voip", "video", "internal"}
    assert ours.repeated == []
    assert ours.methods["Call.startOutboundCall"].names("parameter")[0] == "phoneNumber"


def test_reading_the_reference_sees_a_missing_or_repeated_name():
    text = REFERENCE.read_text()
    assert "Call.hold" not in read_reference(text.replace("### tccc.Call.hold(", "### Call hold(")).methods
    assert read_reference(text + "\n## Events\n\n### `ready`\n").repeated == ["ready"]


def test_protocol_methods_are_the_reference_methods():
    ours = reference()
    declared = set(protocol.METHODS) | set(protocol.LOCAL_METHODS)
    assert not set(protocol.METHODS) & set(protocol.LOCAL_METHODS)
    assert set(ours.methods) == declared
    assert {name for name, section in ours.methods.items() if section.beside_spec} == BESIDE_SPEC_METHODS


def test_reference_parameters_are_the_protocol_parameters():
    """Name, type and whether required, in order; each allowed value of a choice is named in its meaning."""
    ours = reference()
    for name, method in protocol.METHODS.items():
        rows = ours.methods[name].tables.get("parameter", [])
        assert [(row[0].strip("`"), row[1], row[2]) for row in rows] == [
            (param.name, KINDS[param.kind], "yes" if param.required else "no") for param in method.params], name
        for param, row in zip(method.params, rows):
            for choice in param.choices:
                assert f"`{choice}`" in row[3] or f"`'{choice}'`" in row[3], (name, param.name, choice)
    for name in protocol.LOCAL_METHODS:
        assert ours.methods[name].tables == {}, name


def test_reference_results_are_the_protocol_results():
    ours = reference()
    for name, method in protocol.METHODS.items():
        assert ours.methods[name].names("`data` field") == list(method.result), name


def test_protocol_events_are_the_reference_events_with_their_fields():
    ours = reference()
    assert set(ours.events) == set(protocol.EVENTS)
    assert {name for name, section in ours.events.items() if section.beside_spec} == BESIDE_SPEC_EVENTS
    for name, fields in protocol.EVENTS.items():
        assert ours.events[name].names("field") == list(fields), name


def test_call_in_fields_of_each_type_are_the_protocol_ones():
    ours = reference()
    assert set(ours.call_in_types) == set(protocol.CALL_IN_FIELDS)
    for session_type, fields in protocol.CALL_IN_FIELDS.items():
        assert ours.call_in_types[session_type].names("field") == list(fields), session_type


def test_every_protocol_method_has_exactly_one_handler():
    assert set(HANDLERS) == set(protocol.METHODS)


def test_the_sdk_in_chromium_has_the_reference_methods_and_events(open_agent):
    agent = open_agent("agent1@demo")
    sdk = agent.page.evaluate("""(namespaces) => ({
        methods: namespaces.flatMap((namespace) => Object.keys(tccc[namespace]).map((name) => `${namespace}.${name}`)),
        notFunctions: namespaces.flatMap((namespace) => Object.entries(tccc[namespace])
          .filter(([, value]) => typeof value !== 'function').map(([name]) => `${namespace}.${name}`)),
        events: Object.values(tccc.events),
        eventKeysAreNames: Object.entries(tccc.events).every(([key, value]) => key === value),
      })""", list(NAMESPACES))
    ours = reference()
    assert sorted(sdk["methods"]) == sorted(ours.methods) == sorted(set(protocol.METHODS) | set(protocol.LOCAL_METHODS))
    assert sdk["notFunctions"] == []
    assert sorted(sdk["events"]) == sorted(ours.events) == sorted(protocol.EVENTS)
    assert sdk["eventKeysAreNames"]


# The customers' channels: the chat visitor's socket and the web caller's.
DOCS = REFERENCE.parent
CHANNELS = {"chat": (chat, DOCS / "web-chat.md", "/widget/chat.js", "tcccChat"),
            "call": (web_call, DOCS / "web-calls.md", "/widget/call.js", "tcccCall")}
DOC_FIELD = re.compile(r"`(\w+)` (\w+(?: or \w+)*)")


def channel_tables(text: str) -> dict[str, dict[str, str]]:
    """A channel doc's tables by their first header cell (`action`, `event`): first cell's name → second cell."""
    tables, table = {}, None
    for line in text.splitlines():
        if not line.startswith("|"):
            table = None
            continue
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if set("".join(cells)) <= set("-: "):
            continue
        if table is None:
            table = tables.setdefault(cells[0], {})
        else:
            table[cells[0].strip("`")] = cells[1] if len(cells) > 1 else ""
    return tables


@pytest.mark.parametrize("channel", [*CHANNELS, "workbench"])
def test_channel_actions_are_the_doc_actions_with_their_fields(channel):
    """Every declared request and no other, each with its fields named (and, for a choice, its values). The
    workbench's actions too (docs/workbench.md); its page's controls are checked in test_workbench.py."""
    declaration, doc = (workbench, DOCS / "workbench.md") if channel == "workbench" else CHANNELS[channel][:2]
    actions = channel_tables(doc.read_text())["action"]
    assert list(actions) == list(declaration.ACTIONS)
    for name, method in declaration.ACTIONS.items():
        named = set(re.findall(r"`(\w+)`", actions[name]))
        choices = {choice for param in method.params for choice in param.choices}
        assert named == set(method.param_names) | choices, name


@pytest.mark.parametrize("channel", CHANNELS)
def test_channel_events_are_the_doc_events_with_their_typed_fields(channel):
    declaration, doc, _, _ = CHANNELS[channel]
    events = channel_tables(doc.read_text())["event"]
    assert list(events) == list(declaration.EVENTS)
    for name, fields in declaration.EVENTS.items():
        assert DOC_FIELD.findall(events[name]) == [
            (field_name, protocol.type_name(types)) for field_name, types in fields.items()], name


def test_channel_tables_see_a_missing_or_renamed_row():
    text = (DOCS / "web-calls.md").read_text()
    assert "ringing" not in channel_tables(text.replace("| `ringing` |", "| ringing? |"))["event"]
    assert channel_tables(text.replace("`agentNickname` string", "`agentName` string"))["event"]["accepted"] == (
        "`sessionId` string, `agentName` string")


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_channel_event_that_drifts_from_its_declaration_raises(channel):
    declaration = CHANNELS[channel][0]
    good = {"sessionId": "s1", "closeBy": "client", "endStatus": "ok"}
    assert declaration.event("ended", **good) == {"type": "event", "event": "ended", "data": good}
    with pytest.raises(KeyError, match="no field remark"):
        declaration.event("ended", **good, remark="")
    with pytest.raises(KeyError, match="needs field endStatus"):
        declaration.event("ended", sessionId="s1", closeBy="client")
    with pytest.raises(TypeError, match="ended.closeBy must be str, not NoneType"):
        declaration.event("ended", **{**good, "closeBy": None})
    with pytest.raises(KeyError, match="no event 'dance'"):
        declaration.event("dance", sessionId="s1")


def test_a_count_in_an_event_is_a_number_not_a_boolean():
    with pytest.raises(TypeError, match="queued.position must be int, not bool"):
        chat.event("queued", sessionId="s1", position=True)
    assert chat.event("queued", sessionId="s1", position=2)["data"]["position"] == 2


def test_the_widgets_in_chromium_know_the_declared_events_and_limits(browser, host_page, sdk_server):
    page = browser.new_page()
    try:
        page.goto(host_page.origin() + "/")
        for declaration, _, path, global_name in CHANNELS.values():
            known = page.evaluate("""async ([src, globalName]) => {
                const script = document.createElement('script');
                Object.assign(script, { src, crossOrigin: 'anonymous' });
                Object.assign(script.dataset, { headless: 'true', sdkAppId: '1400000001' });
                await new Promise((loaded, failed) => {
                  script.onload = loaded;
                  script.onerror = () => failed(new Error(`${src} did not load`));
                  document.head.append(script);
                });
                return Object.values(window[globalName].events);
              }""", [sdk_server.url + path, global_name])
            assert known == list(declaration.EVENTS), global_name
        # The limits the widgets check before sending are the server's.
        assert page.evaluate("() => tcccChat.send('x'.repeat(2001))") == {
            "status": "error", "errorMsg": f"the message is longer than {chat.MAX_TEXT} characters"}
    finally:
        page.close()


def test_a_welcome_is_checked_as_events_are_its_optional_fields_may_be_left_out():
    assert chat.welcome(chat=None, visitorId="v1") == {"type": "welcome", "chat": None, "visitorId": "v1"}
    assert chat.welcome(chat={}, visitorId="v1", errorMsg="expired")["errorMsg"] == "expired"
    with pytest.raises(KeyError, match="welcome needs field visitorId"):
        chat.welcome(chat=None)
    with pytest.raises(TypeError, match="welcome.errorMsg must be str, not int"):
        chat.welcome(chat=None, visitorId="v1", errorMsg=3)
    assert web_call.welcome(visitorId="v1") == {"type": "welcome", "visitorId": "v1"}
    with pytest.raises(TypeError, match="welcome.rtcConfiguration must be dict"):
        web_call.welcome(visitorId="v1", rtcConfiguration=[])
