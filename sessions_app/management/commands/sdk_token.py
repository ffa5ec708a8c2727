"""Print an SDK login token for an agent, the same JSON `POST /api/sdk-login-token` answers."""
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from sessions_app.models import Agent
from sessions_app.services import tokens
from sessions_app.services.errors import ServiceError

LOCAL_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Print {Token, ExpiredTime, SdkURL} for the agent USERID."

    def add_arguments(self, parser):
        parser.add_argument("user_id", metavar="USERID")
        parser.add_argument("--sdk-app-id", help="Needed only when several tenants have an agent USERID.")
        parser.add_argument("--base-url", default=settings.PUBLIC_URL or ("" if settings.PRODUCTION else LOCAL_URL),
                            help="The server's address as browsers reach it (default: PUBLIC_URL, else "
                                 f"{LOCAL_URL} outside production mode).")

    def handle(self, user_id, sdk_app_id=None, base_url="", **options):
        if not base_url:
            raise CommandError("set PUBLIC_URL to the https address browsers reach the server at "
                               "(e.g. PUBLIC_URL=https://cc.example.com), or give --base-url")
        agents = Agent.objects.filter(user_id=user_id)
        if sdk_app_id:
            agents = agents.filter(tenant__sdk_app_id=sdk_app_id)
        if agents.count() != 1:
            raise CommandError(f"no agent {user_id!r}" if not agents else f"{user_id!r} is ambiguous: give --sdk-app-id")
        agent = agents.get()
        try:
            answer = tokens.login_token_response(agent.tenant, user_id, base_url.rstrip("/") + "/sdk/tccc.js")
        except ServiceError as refused:
            raise CommandError(str(refused)) from None
        self.stdout.write(json.dumps(answer))
