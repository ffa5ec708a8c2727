"""The roles "Supervisor" and "Administrator" as Django groups (sessions_app/roles.py says what each may do)."""
from django.db import migrations

from sessions_app.roles import ROLES, make_roles


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("sessions_app", "0015_supervisor"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(lambda apps, schema_editor: make_roles(apps, strict=False), remove_roles)]
