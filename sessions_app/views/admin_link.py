"""`/admin/link/<token>/`: a one-time sign-in link (CreateAdminURL, services/admin_links.py) signs its supervisor in
and lands on the admin index; a used, expired or forged link, or one whose account may no longer sign in, is
refused with a page saying so. GET only (HEAD, as a link preview sends it, is refused and spends nothing)."""
from __future__ import annotations

from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from ..services import admin_links
from ..services.errors import ServiceError


@never_cache
@require_GET
def sign_in(request, token: str):
    try:
        account = admin_links.redeem(token)
    except ServiceError as refused:
        return render(request, "admin/link_refused.html", {"reason": str(refused), "title": "Sign-in link"},
                      status=403)
    login(request, account, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("admin:index")
