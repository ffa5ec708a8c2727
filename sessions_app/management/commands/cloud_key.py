"""Make or revoke a tenant's cloud API key pair from the shell: how a deployment gets going without admin, and how
a server refused for the demo key pair (production mode) is let start."""
import json

from django.core.management.base import BaseCommand, CommandError

from sessions_app.models import CloudKey, Tenant
from sessions_app.services import cloud_keys
from sessions_app.services.errors import NotFound


class Command(BaseCommand):
    help = ("'make SDKAPPID [--name NAME]' prints a new key pair {SdkAppId, secretId, secretKey} (the SecretKey is "
            "not shown again); 'revoke SECRETID' makes a pair sign nothing from now on.")

    def add_arguments(self, parser):
        commands = parser.add_subparsers(dest="command", required=True)
        make = commands.add_parser("make")
        make.add_argument("sdk_app_id", metavar="SDKAPPID")
        make.add_argument("--name", default="", help="what will use it")
        revoke = commands.add_parser("revoke")
        revoke.add_argument("secret_id", metavar="SECRETID")

    def handle(self, command, **options):
        if command == "make":
            tenant = Tenant.objects.filter(sdk_app_id=options["sdk_app_id"]).first()
            if tenant is None:
                raise CommandError(f"no tenant with SdkAppId {options['sdk_app_id']!r}")
            key, secret_key = cloud_keys.make(tenant, options["name"][:100])
            self.stdout.write(json.dumps({"SdkAppId": tenant.sdk_app_id, "secretId": key.secret_id,
                                          "secretKey": secret_key}))
            return
        key_id = CloudKey.objects.filter(secret_id=options["secret_id"]).values_list("pk", flat=True).first()
        try:
            if key_id is None:
                raise NotFound(f"no cloud API key {options['secret_id']!r}")
            cloud_keys.revoke(key_id=key_id)
        except NotFound as missing:
            raise CommandError(str(missing)) from None
        self.stdout.write(json.dumps({"secretId": options["secret_id"], "revoked": True}))
