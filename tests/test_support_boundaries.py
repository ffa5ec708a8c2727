"""Test support stays where both users find it: `bench/` takes it from `testing/`, never from `tests/`, and the
product (`sessions_app/`, `workbench/`) imports neither."""
import ast

import pytest

from testing.liveserver import ROOT

pytestmark = pytest.mark.unit


def imported_packages(folder: str) -> dict[str, set[str]]:
    """For each Python file under `folder`, the top-level packages it imports (inside functions too)."""
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


def test_the_benchmarks_import_no_test_module():
    assert [path for path, names in imported_packages("bench").items() if "tests" in names] == []
    assert any("testing" in names for names in imported_packages("bench").values())


@pytest.mark.parametrize("folder", ["sessions_app", "workbench", "testing"])
def test_the_product_and_the_test_support_import_no_test_module(folder):
    offenders = [path for path, names in imported_packages(folder).items()
                 if "tests" in names or (folder != "testing" and "testing" in names)]
    assert offenders == []
