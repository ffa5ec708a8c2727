"""The two roles of a tenant's staff, as Django groups: "Supervisor" reads everything of the tenant and acts on its
agents (force offline) and CDR pushes; "Administrator" also adds, changes and deletes the tenant's configuration
and its supervisors. Which tenant is theirs is their `Supervisor` row; what a role may do never reaches past it
(sessions_app/admin_scope.py). Django's users and groups stay with superusers."""
from django.contrib.auth.management import create_permissions
from django.db import migrations

READ = ["tenant", "skillgroup", "restreason", "cannedresponse", "numbergroup", "agent", "agentskill", "session",
        "serveparticipant", "sessionevent", "chatmessage", "cdr", "trunk", "ivrmenu", "ivrkey", "hotline",
        "numberlocation", "protectednumber", "supervisor"]
CONFIGURE = ["skillgroup", "restreason", "cannedresponse", "numbergroup", "agent", "agentskill", "trunk", "ivrmenu",
             "ivrkey", "hotline", "supervisor"]
ROLES = {
    "Supervisor": [f"view_{model}" for model in READ],
    "Administrator": [*(f"view_{model}" for model in READ), "change_tenant",
                      *(f"{action}_{model}" for model in CONFIGURE for action in ("add", "change", "delete"))],
}


def make_roles(apps, schema_editor):
    """Permissions are made after the last migration; these groups need them now, on a new database too."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model, permission_model = apps.get_model("auth", "Group"), apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        permissions = permission_model.objects.filter(content_type__app_label="sessions_app", codename__in=codenames)
        assert permissions.count() == len(codenames), f"{name}: missing permissions"
        group.permissions.add(*permissions)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("sessions_app", "0015_supervisor"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(make_roles, remove_roles)]
