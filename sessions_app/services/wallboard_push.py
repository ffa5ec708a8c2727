"""Tell a tenant's open wallboards that what they show has changed: one small `wallboard.changed` message per
tenant per transaction, after it commits, whichever process made the change.

The writers of what the wallboard shows call `changed(tenant_id)`: the session state's one owner
(`lifecycle.py`, at every move) and agent status changes (`agents.change_status`). A transaction that moves a
hundred sessions of one tenant sends one message; the wallboards' sockets (consumers/wallboard.py) re-read the
board at most every quarter second, so a burst of commits costs a few redraws.
"""
from __future__ import annotations

from .commit_hooks import once_per_transaction
from .outbox import group_send


def wallboard_group(tenant_id: int) -> str:
    return f"wallboard.{tenant_id}"


class Changed:
    """The tenants changed in one transaction; told once it commits (one per transaction:
    `commit_hooks.once_per_transaction`)."""

    def __init__(self):
        self.tenants: set[int] = set()

    def __call__(self) -> None:
        for tenant_id in sorted(self.tenants):
            group_send(wallboard_group(tenant_id), {"type": "wallboard.changed"})


def changed(tenant_id: int | None) -> None:
    if tenant_id is None:
        return
    once_per_transaction(Changed, lambda hook: hook.tenants.add(tenant_id))
