"""`/try/`: the demo tenant's customer side, so a newcomer who ran `scripts/run.sh` can be the customer too.

The page carries the chat and call widgets exactly as a company's site would (one script tag each); it is
served on this server's own origin, which the demo tenant's allow-list names (http://127.0.0.1:*,
http://localhost:*). Without the demo tenant (a real deployment never runs `seed_demo`) there is no page.
"""
from __future__ import annotations

from django.conf import settings
from django.http import Http404
from django.shortcuts import render

from ..models import Hotline, Tenant, found
from ..services.demo_secrets import DEMO_AGENTS, DEMO_SDK_APP_ID


def try_it(request):
    tenant = found(Tenant.objects.filter(sdk_app_id=DEMO_SDK_APP_ID))
    if tenant is None:
        raise Http404("there is no demo tenant: run `manage.py seed_demo` for one")
    sip_host = settings.SIP_PUBLIC_HOST or settings.SIP_HOST
    if sip_host in ("", "0.0.0.0", "::"):  # listening everywhere: the host this page was reached at answers too
        sip_host = request.get_host().rsplit(":", 1)[0]
    hotline = Hotline.objects.filter(tenant=tenant).order_by("pk").values_list("number", flat=True).first()
    return render(request, "try_it.html", {
        "tenant": tenant, "agent": DEMO_AGENTS[0][0], "hotline": hotline,
        "sip": f"{sip_host}:{settings.SIP_PORT}" if settings.SIP_PORT and hotline else None,
    })
