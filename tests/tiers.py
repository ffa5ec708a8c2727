"""Every test belongs to exactly one tier, so that one tier can run alone (`pytest -m unit` in seconds).

The tiers, declared in pytest.ini, from the cheapest:
- `unit`: the domain and other pure code; no database, no Channels layer, no process.
- `service`: I/O in this process: the test database, Channels communicators, aiortc peers, SIP and RTP on loopback.
- `browser`: Playwright driving Chromium (usually against a live server in a subprocess).
- `peer`: a real program in a subprocess and no browser: daphne, sipp, baresip, coturn, nginx, Redis, PostgreSQL.

A module names its tier with `pytestmark = pytest.mark.<tier>`; a test of another tier in that module says so
with its own decorator, which wins. A test that asks for the Playwright fixtures (`tests/browser.py`) is `browser`
wherever it lives, unless its own decorator says otherwise. Collection fails on a test with no tier or with two at
one level, and on a `unit` test that asks for the database, so `-m unit` never waits for migrations.
"""
from __future__ import annotations

import pytest

TIERS = ("unit", "service", "browser", "peer")
DATABASE_FIXTURES = {"db", "transactional_db", "demo"}
PLAYWRIGHT_FIXTURES = {"browser", "host_page", "open_agent"}


def _tiers_on(node) -> list:
    return [mark for mark in node.own_markers if mark.name in TIERS]


def _tier_of(item, errors: list[str]):
    """The test's own tier mark, else `browser` if it asks for Playwright, else its class's, else its module's."""
    for node in reversed(item.listchain()):
        if node is not item and PLAYWRIGHT_FIXTURES & set(item.fixturenames):
            return pytest.mark.browser.mark
        marks = _tiers_on(node)
        if len(marks) > 1:
            errors.append(f"{node.nodeid}: two tiers ({', '.join(mark.name for mark in marks)})")
        if marks:
            return marks[0]
    errors.append(f"{item.nodeid}: no tier (mark it, or its module, with one of {', '.join(TIERS)})")
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Leave each test's tier on the test alone, before `-m` selects: a module's mark would otherwise also
    select the tests in it that chose another tier."""
    errors: list[str] = []
    tiers = [_tier_of(item, errors) for item in items]
    for item, tier in zip(items, tiers):
        if tier is not None and tier.name == "unit" and (DATABASE_FIXTURES & set(item.fixturenames)
                                                         or item.get_closest_marker("django_db")):
            errors.append(f"{item.nodeid}: a unit test uses the database (mark it service)")
    if errors:
        raise pytest.UsageError("every test needs exactly one tier:\n  " + "\n  ".join(errors))
    for item, tier in zip(items, tiers):
        for node in item.listchain():
            node.own_markers[:] = [mark for mark in node.own_markers if mark.name not in TIERS]
        item.own_markers.append(tier)
