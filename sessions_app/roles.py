"""The two roles of a tenant's staff, as Django groups: "Supervisor" reads everything of the tenant (the cloud API's
call log too, not its key pairs), acts on its agents (force offline) and CDR pushes, and monitors calls (listen,
whisper, barge, take over: `monitor_calls`); "Administrator" also adds,
changes and deletes the tenant's configuration and its supervisors, and makes and revokes its cloud API key pairs.
Which tenant is theirs is their `Supervisor` row; what a role may do never reaches past it
(admin_scope.py). Django's users and groups stay with superusers.

Migration 0016 makes the groups; they are made again after every `migrate` (and a test database's flush), missing
permissions added, never removed, so a site's own additions to a group stay.
"""
from __future__ import annotations

from django.contrib.auth.management import create_permissions

READ = ["tenant", "skillgroup", "restreason", "cannedresponse", "numbergroup", "agent", "agentskill", "session",
        "serveparticipant", "sessionevent", "chatmessage", "cdr", "trunk", "ivrmenu", "ivrkey", "hotline",
        "numberlocation", "protectednumber", "supervisor", "auditentry", "cloudapicall", "recording", "monitoring"]
CONFIGURE = ["skillgroup", "restreason", "cannedresponse", "numbergroup", "agent", "agentskill", "trunk", "ivrmenu",
             "ivrkey", "hotline", "supervisor"]
ROLES = {
    "Supervisor": [*(f"view_{model}" for model in READ), "monitor_calls"],
    "Administrator": [*(f"view_{model}" for model in READ), "change_tenant",
                      *(f"{action}_{model}" for model in CONFIGURE for action in ("add", "change", "delete")),
                      "view_cloudkey", "add_cloudkey", "change_cloudkey",  # made and revoked, never deleted
                      "monitor_calls"],
}


def make_roles(apps, strict: bool = True) -> None:
    """The groups with their permissions, in `apps` (a migration's historical apps, or the project's own).
    Permissions are made after the last migration; the groups need them now, on a new database too. Not
    `strict` (in the migration), a permission of a model a later migration makes is left to the rebuild after
    `migrate`, which is strict: a role naming a permission no model has is a mistake."""
    app_config = apps.get_app_config("sessions_app")
    models_module = getattr(app_config, "models_module", None)
    app_config.models_module = models_module or True  # create_permissions skips an app without models
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = models_module
    group_model, permission_model = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        permissions = permission_model.objects.filter(content_type__app_label="sessions_app", codename__in=codenames)
        missing = set(codenames) - set(permissions.values_list("codename", flat=True))
        if missing and strict:
            raise LookupError(f"the {name} role names permissions no model has: {sorted(missing)}")
        group.permissions.add(*permissions)


def make_roles_after_migrate(sender, using, apps=None, **kwargs) -> None:
    from django.apps import apps as project_apps

    make_roles(apps or project_apps)
