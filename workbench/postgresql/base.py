"""Django's PostgreSQL backend, checking a kept connection's health only after it has rested a while.

With CONN_HEALTH_CHECKS Django checks a kept connection (a `SELECT 1` round trip) the first time it is used
after `close_old_connections()`, which Channels' `database_sync_to_async` calls around every call: so nearly
every SDK request, API request and sweep paid for a check. A connection that was working less than
`CHECK_AFTER_REST` seconds ago is taken as good; one that rested longer (PostgreSQL may have restarted
meanwhile) is checked as before, so a restart still costs a failed check instead of a failed request.
"""
import time

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    CHECK_AFTER_REST = 1.0  # seconds
    _released_at = float("-inf")

    def close_if_unusable_or_obsolete(self):
        super().close_if_unusable_or_obsolete()
        self._released_at = time.monotonic()

    def close_if_health_check_failed(self):
        if not self.health_check_done and time.monotonic() - self._released_at < self.CHECK_AFTER_REST:
            self.health_check_done = True
        super().close_if_health_check_failed()
