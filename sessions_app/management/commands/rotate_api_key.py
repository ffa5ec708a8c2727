"""Give a tenant a new random API key and print it: how a server refused for the demo key gets going without admin."""
import json

from django.core.management.base import BaseCommand, CommandError

from sessions_app.models import Tenant, new_api_key


class Command(BaseCommand):
    help = "Give the tenant SDKAPPID a new random API key and print {SdkAppId, apiKey}; the old key stops working."

    def add_arguments(self, parser):
        parser.add_argument("sdk_app_id", metavar="SDKAPPID")

    def handle(self, sdk_app_id, **options):
        updated = Tenant.objects.filter(sdk_app_id=sdk_app_id).update(api_key=(key := new_api_key()))
        if not updated:
            raise CommandError(f"no tenant with SdkAppId {sdk_app_id!r}")
        self.stdout.write(json.dumps({"SdkAppId": sdk_app_id, "apiKey": key}))
