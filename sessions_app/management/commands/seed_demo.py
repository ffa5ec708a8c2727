"""Create the demo tenant the README documents, once; the last line printed is JSON for scripts.

`run.sh` runs it at every start, on whatever database it is given, so it never changes what exists: a tenant,
account or setting that is there stays as it is (a changed API key, origin list or password included), and the
demo accounts with their published password are made only together with the demo tenant, never again later.
The JSON line carries the tenant's current API key, whatever it is now, and its cloud API key pair: the demo one,
made with the tenant or for a demo tenant that never had any (null once revoked).
"""
import datetime
import json
import os

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from sessions_app.models import (Agent, AgentSkill, Hotline, IvrKey, IvrMenu, NumberGroup, NumberLocation, RestReason,
                                 SkillGroup, Supervisor, Tenant)
from sessions_app.services import cloud_keys, staff
from sessions_app.services.demo_secrets import (DEFAULT_API_KEY, DEFAULT_PASSWORD, DEFAULT_SECRET_ID, DEFAULT_SECRET_KEY,
                                                DEMO_AGENTS, DEMO_SDK_APP_ID, DEMO_SUPERVISOR, DEMO_TENANT_SUPERVISOR)

DEMO_API_KEY = os.environ.get("DEMO_API_KEY", DEFAULT_API_KEY)
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", DEFAULT_PASSWORD)
DEMO_SECRET_ID = os.environ.get("DEMO_SECRET_ID", DEFAULT_SECRET_ID)
DEMO_SECRET_KEY = os.environ.get("DEMO_SECRET_KEY", DEFAULT_SECRET_KEY)
HOTLINE = "008675586013388"
REST_REASONS = ["Lunch", "Short break", "Training", "Meeting"]
GROUPS = [("Phone support", "phone"), ("Web chat", "im"), ("Web audio", "voip"), ("Web video", "video")]
WELCOME = "Welcome to the demo company. For support, press 1. For orders and billing, press 2."
LOCATIONS = [("0086", "China"), ("008610", "Beijing"), ("008621", "Shanghai"), ("0086755", "Shenzhen, Guangdong"),
             ("0086138", "China Mobile"), ("001", "United States"), ("0044", "United Kingdom"), ("0049", "Germany")]


class Command(BaseCommand):
    help = "Create the demo tenant once: agents, a skill group of every kind, numbers, API key, allowed origins."

    @transaction.atomic
    def handle(self, *args, **options):
        if settings.PRODUCTION:
            raise CommandError("seed_demo makes a tenant and accounts whose secrets the README publishes: "
                               "it does not run with DJANGO_ENV=production")
        tenant, created = Tenant.objects.get_or_create(sdk_app_id=DEMO_SDK_APP_ID, defaults={
            "name": "Demo company", "api_key": DEMO_API_KEY,
            "allowed_origins": "http://127.0.0.1:*\nhttp://localhost:*\nhttp://[::1]:*",
            # A demo answers at any hour; a real tenant's default is 09:00-21:00.
            "calling_hours_start": datetime.time(0, 0), "calling_hours_end": datetime.time(0, 0),
            "record_calls": True})
        groups = {}
        for name, kind in GROUPS:
            groups[kind], _ = SkillGroup.objects.get_or_create(
                tenant=tenant, name=name, defaults={"kind": kind, "caller_numbers": HOTLINE if kind == "phone" else ""})
        NumberGroup.objects.get_or_create(tenant=tenant, name="Outbound", defaults={"numbers": HOTLINE})
        menu, _ = IvrMenu.objects.get_or_create(tenant=tenant, name="Main menu", defaults={"prompt_text": WELCOME})
        for key, label in (("1", "Support"), ("2", "Orders and billing")):
            IvrKey.objects.get_or_create(menu=menu, key=key, defaults={"label": label, "skill_group": groups["phone"]})
        Hotline.objects.get_or_create(number=HOTLINE, defaults={"tenant": tenant, "ivr_menu": menu})
        for prefix, location in LOCATIONS:
            NumberLocation.objects.get_or_create(prefix=prefix, defaults={"location": location})
        for position, label in enumerate(REST_REASONS):
            RestReason.objects.get_or_create(tenant=tenant, label=label, defaults={"position": position})
        if created:
            self.create_accounts(tenant, groups)
            self.stdout.write(f"Demo tenant created: supervisor '{DEMO_SUPERVISOR}' / '{DEMO_PASSWORD}' at /admin/ "
                              f"(and '{DEMO_TENANT_SUPERVISOR}', who sees the demo tenant only)")
        else:
            self.stdout.write("Demo tenant already there: left as it is")
        if not tenant.cloud_keys.exists():
            cloud_keys.make(tenant, "Demo", secret_id=DEMO_SECRET_ID, secret_key=DEMO_SECRET_KEY)
        key = tenant.cloud_keys.filter(secret_id=DEMO_SECRET_ID, revoked_at__isnull=True).first()
        self.stdout.write(json.dumps({
            "SdkAppId": tenant.sdk_app_id, "apiKey": tenant.api_key, "agents": [a[0] for a in DEMO_AGENTS],
            "skillGroups": {kind: group.pk for kind, group in groups.items()}, "hotline": HOTLINE,
            "supervisor": DEMO_TENANT_SUPERVISOR, "secretId": key.secret_id if key else None,
            "secretKey": cloud_keys.secret_key(key) if key else None}))

    def create_accounts(self, tenant, groups):
        """The demo agents, the superuser `admin` and the demo tenant's supervisor, with the demo password; an
        account of that name that exists already (a real `admin`, say) keeps its password and rights."""
        users = get_user_model()
        for user_id, nickname, staff_number in DEMO_AGENTS:
            skills = [(group, priority) for priority, group in enumerate(groups.values(), start=1)]
            user = users.objects.filter(username=user_id).first()
            if user is None:  # the way every agent is made (services/staff.py), with the published password
                staff.create(tenant, user_id=user_id, name=nickname, nickname=nickname, staff_number=staff_number,
                             skills=skills, password=DEMO_PASSWORD)
                continue
            agent, _ = Agent.objects.get_or_create(account=user, defaults={
                "tenant": tenant, "user_id": user_id, "nickname": nickname, "staff_number": staff_number})
            for group, priority in skills:
                AgentSkill.objects.get_or_create(agent=agent, skill_group=group, defaults={"priority": priority})
        admin, created = users.objects.get_or_create(
            username=DEMO_SUPERVISOR, defaults={"is_staff": True, "is_superuser": True})
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        supervisor, created = users.objects.get_or_create(username=DEMO_TENANT_SUPERVISOR, defaults={"is_staff": True})
        if created:
            supervisor.set_password(DEMO_PASSWORD)
            supervisor.save()
            supervisor.groups.add(*Group.objects.filter(name="Supervisor"))
            Supervisor.objects.create(account=supervisor, tenant=tenant)
