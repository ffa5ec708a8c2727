from django.db import migrations, models


class Migration(migrations.Migration):
    """The cloud API's CDR pages (DescribeTelCdr and its kin): a tenant's ended sessions begun within a range, in
    a stable order, counted and paged from one index (services/records.py); and by a customer's number (the Phones filter)."""

    dependencies = [
        ('sessions_app', '0024_staff_modified_at'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='session',
            index=models.Index(condition=models.Q(('state', 'ended')), fields=['tenant', 'created_at', 'id'],
                               include=('type',), name='session_cdr_page'),
        ),
        migrations.AddIndex(
            model_name='session',
            index=models.Index(fields=['tenant', 'caller_phone_number'], name='session_caller_number'),
        ),
        migrations.AddIndex(
            model_name='session',
            index=models.Index(fields=['tenant', 'callee_phone_number'], name='session_callee_number'),
        ),
    ]
