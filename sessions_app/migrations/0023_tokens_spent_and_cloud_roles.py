"""The spent one-use tokens (OnlyOnce SDK login tokens, admin sign-in links), and the roles' cloud API permissions."""

from django.db import migrations, models

from sessions_app.roles import make_roles


class Migration(migrations.Migration):

    dependencies = [
        ('sessions_app', '0022_cloud_keys'),
        ('auth', '0012_alter_user_first_name_max_length'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.CreateModel(
            name='SpentToken',
            fields=[
                ('id', models.CharField(max_length=32, primary_key=True, serialize=False)),
                ('expires_at', models.DateTimeField(db_index=True)),
            ],
        ),
        # The roles' cloud API permissions (sessions_app/roles.py): Administrators manage the key pairs, both
        # roles read the call log.
        migrations.RunPython(lambda apps, schema_editor: make_roles(apps, strict=False), migrations.RunPython.noop),
    ]
