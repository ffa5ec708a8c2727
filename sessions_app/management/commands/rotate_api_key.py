"""Give a tenant a new random API key and print it: how a server refused for the demo key gets going without admin."""
import json

from django.core.management.base import BaseCommand, CommandError

from sessions_app.models import Tenant
from sessions_app.services import tenant_secrets


class Command(BaseCommand):
    help = "Give the tenant SDKAPPID a new random API key and print {SdkAppId, apiKey}; the old key stops working."

    def add_arguments(self, parser):
        parser.add_argument("sdk_app_id", metavar="SDKAPPID")

    def handle(self, sdk_app_id, **options):
        tenant_id = Tenant.objects.filter(sdk_app_id=sdk_app_id).values_list("pk", flat=True).first()
        if tenant_id is None:
            raise CommandError(f"no tenant with SdkAppId {sdk_app_id!r}")
        key = tenant_secrets.rotate_api_key(tenant_id=tenant_id)
        self.stdout.write(json.dumps({"SdkAppId": sdk_app_id, "apiKey": key}))
