"""Two transactions at the same instant, for tests of what happens when people act on one session at once.

Threads on the test database: on SQLite its write lock serialises them; the core suite runs the modules that use
this again on PostgreSQL (tests/test_core_on_postgres_and_redis.py), where the row locks do, and where taking
them in different orders would deadlock.
"""
from __future__ import annotations

import threading

from django.db import connection


def at_once(*actions) -> list:
    """Run the actions in threads started together; each one's result, or the error it raised (a refusal, or
    anything else, such as a deadlock PostgreSQL broke, which the test then shows)."""
    barrier = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def run(index, action):
        barrier.wait()
        try:
            results[index] = action()
        except Exception as error:  # noqa: BLE001 (reported in the results)
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, action)) for i, action in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results
