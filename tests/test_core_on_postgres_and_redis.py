"""The core suite (routing, SDK methods and their bad input, sessions, the API, chat, presence, CDR push,
supervisors' actions, two people acting on one session at once, the wallboard and its actions, chats watched
live, calls monitored) run again on a real PostgreSQL and Redis instead of the embedded SQLite and in-memory layer.

It runs as its own pytest process because the database and channel layer are chosen when Django starts
(DATABASE_URL, REDIS_URL): this process already runs on the embedded ones. Two web processes sharing both
engines are tested in test_scale_out.py.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from testing.liveserver import ROOT

pytestmark = pytest.mark.peer

CORE_TESTS = ("test_routing.py", "test_sdk_flow.py", "test_sessions.py", "test_bad_input.py", "test_api.py",
              "test_chat.py", "test_presence.py", "test_cdr_push.py", "test_supervision.py",
              "test_supervision_at_once.py", "test_session_races.py", "test_wallboard_figures.py",
              "test_wallboard.py", "test_wallboard_actions.py", "test_chat_watch.py", "test_monitoring.py")


def test_the_core_suite_passes_on_postgresql_and_redis(postgres, redis):
    env = {**os.environ, "DATABASE_URL": postgres.create_database("core"), "REDIS_URL": redis.url,
           "MEDIA_IN_WORKERS": "0"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *(f"tests/{name}" for name in CORE_TESTS)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary and "error" not in summary, summary
