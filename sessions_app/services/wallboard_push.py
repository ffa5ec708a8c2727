"""Tell a tenant's open wallboards that what they show has changed: one small `wallboard.changed` message per
tenant per transaction, after it commits, whichever process made the change.

The writers of what the wallboard shows call `changed(tenant_id)`: the session state's one owner
(`lifecycle.py`, at every move) and agent status changes (`agents.change_status`). A transaction that moves a
hundred sessions of one tenant sends one message; the wallboards' sockets (consumers/wallboard.py) re-read the
board at most every quarter second, so a burst of commits costs a few redraws.
"""
from __future__ import annotations

from django.db import transaction

from .outbox import group_send


def wallboard_group(tenant_id: int) -> str:
    return f"wallboard.{tenant_id}"


class Changed:
    """The tenants changed in one transaction; told once it commits. Found again through Django's list of commit
    hooks (as lifecycle's `Moved` is), so each transaction has one."""

    def __init__(self):
        self.tenants: set[int] = set()

    def __call__(self) -> None:
        for tenant_id in sorted(self.tenants):
            group_send(wallboard_group(tenant_id), {"type": "wallboard.changed"})


def changed(tenant_id: int | None) -> None:
    if tenant_id is None:
        return
    connection = transaction.get_connection()
    pending = next((hook for _, hook, _ in connection.run_on_commit if isinstance(hook, Changed)), None)
    if pending is not None:
        pending.tenants.add(tenant_id)
        return
    pending = Changed()
    pending.tenants.add(tenant_id)  # before on_commit, which runs it at once outside a transaction
    transaction.on_commit(pending, robust=True)
