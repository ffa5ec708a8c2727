"""One commit hook per transaction for what is told once however many changes the transaction makes (a
session's final state, a queue's new places, a wallboard's redraw).

The hook of a kind is found again in Django's list of the transaction's commit hooks (`run_on_commit`, as its
own `captureOnCommitCallbacks` reads it) and given the new change; the first change of a transaction makes
and registers it. Outside a transaction Django runs a hook at once, so the change is added before it is
registered.
"""
from __future__ import annotations

from typing import Callable, TypeVar

from django.db import transaction

Hook = TypeVar("Hook", bound=Callable[[], None])


def once_per_transaction(kind: type[Hook], add: Callable[[Hook], None], make: Callable[[], Hook] | None = None,
                         matches: Callable[[Hook], bool] = lambda hook: True) -> None:
    """Give the change to this transaction's hook of `kind` (that `matches`), made by `make` (or `kind()`) and
    registered, robust, if there is none yet."""
    pending = next((hook for _, hook, _ in transaction.get_connection().run_on_commit
                    if isinstance(hook, kind) and matches(hook)), None)
    if pending is not None:
        add(pending)
        return
    pending = make() if make else kind()
    add(pending)
    transaction.on_commit(pending, robust=True)
