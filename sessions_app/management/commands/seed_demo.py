"""Create (or refresh) the demo tenant the README documents; the last line printed is JSON for scripts."""
import datetime
import json
import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from sessions_app.models import (Agent, AgentSkill, Hotline, IvrKey, IvrMenu, NumberGroup, NumberLocation, RestReason,
                                 SkillGroup, Tenant)

DEMO_SDK_APP_ID = "1400000001"
DEMO_API_KEY = os.environ.get("DEMO_API_KEY", "demo-api-key-change-me")
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-password")
HOTLINE = "008675586013388"
AGENTS = [("agent1@demo", "Alice", "1001"), ("agent2@demo", "Bob", "1002"), ("agent3@demo", "Chen", "1003")]
REST_REASONS = ["Lunch", "Short break", "Training", "Meeting"]
GROUPS = [("Phone support", "phone"), ("Web chat", "im"), ("Web audio", "voip"), ("Web video", "video")]
WELCOME = "Welcome to the demo company. For support, press 1. For orders and billing, press 2."
LOCATIONS = [("0086", "China"), ("008610", "Beijing"), ("008621", "Shanghai"), ("0086755", "Shenzhen, Guangdong"),
             ("0086138", "China Mobile"), ("001", "United States"), ("0044", "United Kingdom"), ("0049", "Germany")]


class Command(BaseCommand):
    help = "Create the demo tenant: agents, a skill group of every kind, numbers, API key, allowed origins."

    @transaction.atomic
    def handle(self, *args, **options):
        tenant, _ = Tenant.objects.update_or_create(sdk_app_id=DEMO_SDK_APP_ID, defaults={
            "name": "Demo company", "api_key": DEMO_API_KEY,
            "allowed_origins": "http://127.0.0.1:*\nhttp://localhost:*\nhttp://[::1]:*",
            # A demo answers at any hour; a real tenant's default is 09:00-21:00.
            "calling_hours_start": datetime.time(0, 0), "calling_hours_end": datetime.time(0, 0)})
        groups = {}
        for name, kind in GROUPS:
            group, _ = SkillGroup.objects.get_or_create(tenant=tenant, name=name, defaults={"kind": kind})
            if kind == "phone" and not group.caller_numbers:
                group.caller_numbers = HOTLINE
                group.save()
            groups[kind] = group
        NumberGroup.objects.get_or_create(tenant=tenant, name="Outbound", defaults={"numbers": HOTLINE})
        menu, _ = IvrMenu.objects.get_or_create(tenant=tenant, name="Main menu", defaults={"prompt_text": WELCOME})
        for key, label in (("1", "Support"), ("2", "Orders and billing")):
            IvrKey.objects.get_or_create(menu=menu, key=key, defaults={"label": label, "skill_group": groups["phone"]})
        Hotline.objects.get_or_create(number=HOTLINE, defaults={"tenant": tenant, "ivr_menu": menu})
        for prefix, location in LOCATIONS:
            NumberLocation.objects.get_or_create(prefix=prefix, defaults={"location": location})
        for position, label in enumerate(REST_REASONS):
            RestReason.objects.get_or_create(tenant=tenant, label=label, defaults={"position": position})
        users = get_user_model()
        for user_id, nickname, staff in AGENTS:
            user, created = users.objects.get_or_create(username=user_id, defaults={"first_name": nickname})
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            agent, _ = Agent.objects.get_or_create(account=user, defaults={
                "tenant": tenant, "user_id": user_id, "nickname": nickname, "staff_number": staff})
            for priority, group in enumerate(groups.values(), start=1):
                AgentSkill.objects.get_or_create(agent=agent, skill_group=group, defaults={"priority": priority})
        admin, created = users.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save()
        self.stdout.write(f"Demo tenant ready: supervisor 'admin' / '{DEMO_PASSWORD}' at /admin/")
        self.stdout.write(json.dumps({
            "SdkAppId": tenant.sdk_app_id, "apiKey": tenant.api_key, "agents": [a[0] for a in AGENTS],
            "skillGroups": {kind: group.pk for kind, group in groups.items()}, "hotline": HOTLINE}))
