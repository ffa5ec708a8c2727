"""Sum and keep every tenant's settled report days (services/reports.py), so that the first report over a long
range is as quick as the next. Run it nightly (cron, a systemd timer); reports keep the days they sum anyway."""
from django.core.management.base import BaseCommand, CommandError

from sessions_app.models import Tenant
from sessions_app.services import reports


class Command(BaseCommand):
    help = "Sum and keep each tenant's settled report days among the last DAYS (default 400)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=400, metavar="DAYS")

    def handle(self, days, **options):
        if not 1 <= days <= 4000:
            raise CommandError("--days is a number of days from 1 to 4000")
        for tenant in Tenant.objects.order_by("pk"):
            kept = reports.keep_days(tenant, days)
            self.stdout.write(f"{tenant.sdk_app_id}: {kept} of the last {days} days kept")
