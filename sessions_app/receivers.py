"""What the contact center does when Django's own user accounts change: a deactivated account or a new password
ends the agent's logins (services/logins.py), wherever the change was made (admin, `changepassword`, code).
And a recording's file leaves the storage with its row, however the row goes (retention, a session or tenant
deleted in admin), once the deletion commits.

A user saved with `update_fields` that names neither field (a login's `last_login`) costs nothing; any other
save of an existing user reads its stored password and flag once, to compare.
"""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save

from .models import Recording
from .services import logins

WATCHED = {"password", "is_active"}


def note_account_change(sender, instance, update_fields=None, **kwargs) -> None:
    instance._ends_logins = None
    if instance._state.adding or (update_fields is not None and not WATCHED & set(update_fields)):
        return
    stored = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    if stored is None:
        return
    deactivated = stored["is_active"] and not instance.is_active
    if deactivated or (stored["password"] != instance.password and not rehashed(instance, update_fields)):
        instance._ends_logins = {"deactivated": deactivated}


def rehashed(user, update_fields) -> bool:
    """Django's own upgrade of a password's hash as the user logs in (`check_password`), which it does not count
    as a password change either: it saves the password alone, with the raw password set_password keeps until
    the save (`_password`, which Django's password validators read) already cleared."""
    return update_fields is not None and set(update_fields) == {"password"} and user._password is None


def end_logins(sender, instance, created=False, **kwargs) -> None:
    change = getattr(instance, "_ends_logins", None)
    if change is not None:
        instance._ends_logins = None
        logins.account_changed(instance.pk, **change)


def delete_recording_file(sender, instance, **kwargs) -> None:
    if instance.file:
        storage, name = instance.file.storage, instance.file.name
        transaction.on_commit(lambda: storage.delete(name), robust=True)


def connect() -> None:
    post_delete.connect(delete_recording_file, sender=Recording, dispatch_uid="tccc.delete_recording_file")
    user_model = get_user_model()
    pre_save.connect(note_account_change, sender=user_model, dispatch_uid="tccc.note_account_change")
    post_save.connect(end_logins, sender=user_model, dispatch_uid="tccc.end_logins")
