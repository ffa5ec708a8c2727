from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('sessions_app', '0016_roles'),
    ]

    operations = [
        migrations.AddField(
            model_name='skillgroup',
            name='service_level_seconds',
            field=models.PositiveIntegerField(default=20, help_text='A session answered within this many seconds of joining the queue counts toward the service level.', verbose_name='service level threshold (s)'),
        ),
    ]
