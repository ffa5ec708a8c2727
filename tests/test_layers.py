"""The services' shape holds: their modules import one another without a cycle (imports inside functions
counted), and `services/lifecycle.py` is the only code that writes a session's state."""
import ast
from pathlib import Path

import pytest

from testing.liveserver import ROOT

pytestmark = pytest.mark.unit

SERVICES = ROOT / "sessions_app" / "services"


def service_imports() -> dict[str, set[str]]:
    """Each services module and the services modules it imports, wherever the import stands."""
    modules = {path.stem for path in SERVICES.glob("*.py")}
    graph = {}
    for path in SERVICES.glob("*.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                names |= {node.module} if node.module else {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module == "sessions_app.services":
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sessions_app.services."):
                names.add(node.module.rsplit(".", 1)[1])
        graph[path.stem] = (names & modules) - {path.stem}
    return graph


def a_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle, as the modules along it ([] when there is none)."""
    done, path = set(), []

    def visit(module):
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return []
        path.append(module)
        for imported in sorted(graph[module]):
            cycle = visit(imported)
            if cycle:
                return cycle
        path.pop()
        done.add(module)
        return []

    for module in sorted(graph):
        cycle = visit(module)
        if cycle:
            return cycle
    return []


def test_the_services_import_one_another_without_a_cycle():
    assert a_cycle(service_imports()) == []


def test_a_cycle_is_found_where_there_is_one():
    assert a_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert a_cycle({"a": {"b"}, "b": set()}) == []


def state_writes(path: Path) -> list[int]:
    """Lines that set a session's `state`: `x.state = ...` (but `self.state`, a SIP or media object's own),
    or a `state=` keyword given to a query's update or create, or to a model's constructor."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        for target in targets:
            for each in target.elts if isinstance(target, ast.Tuple) else [target]:
                if (isinstance(each, ast.Attribute) and each.attr == "state"
                        and not (isinstance(each.value, ast.Name) and each.value.id == "self")):
                    lines.append(node.lineno)
        if isinstance(node, ast.Call) and any(keyword.arg == "state" for keyword in node.keywords):
            called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if called in ("update", "create", "get_or_create", "update_or_create", "Session"):
                lines.append(node.lineno)
    return lines


def test_only_the_lifecycle_writes_a_sessions_state():
    product = [path for folder in ("sessions_app", "workbench") for path in (ROOT / folder).rglob("*.py")
               if "migrations" not in path.parts]
    writers = {str(path.relative_to(ROOT)): state_writes(path) for path in product}
    assert {path: lines for path, lines in writers.items() if lines} == {
        "sessions_app/services/lifecycle.py": writers["sessions_app/services/lifecycle.py"]}


def test_a_state_write_is_seen_in_each_of_its_forms(tmp_path):
    code = tmp_path / "writes.py"
    code.write_text("session.state = 'x'\nsession.state, other = 'x', 1\nrows.update(state='x')\n"
                    "Session(state='x')\nself.state = 'calling'\nrows.filter(state='x')\n")
    assert state_writes(code) == [1, 2, 3, 4]
