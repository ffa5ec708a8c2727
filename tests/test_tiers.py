"""Every test has one tier, and `-m <tier>` picks exactly the tests of that tier (tests/tiers.py)."""
import subprocess
import sys

import pytest

from testing.liveserver import ROOT

pytestmark = pytest.mark.unit

INI = """[pytest]
markers =
    unit: u
    service: s
    browser: b
    peer: p
"""


def collect(tmp_path, module: str, *options: str) -> subprocess.CompletedProcess:
    """Collect one test module in a pytest of its own that loads only the tiers plugin."""
    (tmp_path / "pytest.ini").write_text(INI)
    (tmp_path / "test_sample.py").write_text(module)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.tiers", "-p", "no:django", "-p", "no:randomly",
         "-p", "no:cacheprovider", "--collect-only", "-q", "--rootdir", str(tmp_path),
         "-c", str(tmp_path / "pytest.ini"), *options, str(tmp_path / "test_sample.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=60)


MIXED = """import pytest
pytestmark = pytest.mark.unit

def test_pure():
    pass

@pytest.mark.peer
def test_with_a_program():
    pass
"""


@pytest.mark.parametrize("tier, chosen", [("unit", "test_pure"), ("peer", "test_with_a_program")])
def test_a_tests_own_tier_wins_over_its_modules_and_the_module_tier_no_longer_selects_it(tmp_path, tier, chosen):
    run = collect(tmp_path, MIXED, "-m", tier)
    assert run.returncode == 0, run.stdout + run.stderr
    assert [line.split("::")[1] for line in run.stdout.splitlines() if "::" in line] == [chosen]


@pytest.mark.parametrize("module, problem", [
    ("def test_anything():\n    pass\n", "test_anything: no tier"),
    ("import pytest\n\n@pytest.mark.unit\n@pytest.mark.service\ndef test_both():\n    pass\n",
     "test_both: two tiers (service, unit)"),
])
def test_a_test_without_exactly_one_tier_stops_the_collection_naming_it(tmp_path, module, problem):
    run = collect(tmp_path, module)
    assert run.returncode != 0
    assert problem in run.stdout + run.stderr
