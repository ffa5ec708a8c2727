"""`/admin/link/<token>/`: a one-time sign-in link (CreateAdminURL, services/admin_links.py). Opening it (GET)
shows whom it signs in and a button; the button's POST (CSRF-checked) spends the link, signs that account in
and lands on the admin index. So a link fetched by a preview, or loaded by another site in an image or a frame,
signs no browser in and stays unspent; only a person who clicks signs in. A used, expired or forged link, or
one whose account may no longer sign in, is refused with a page saying so."""
from __future__ import annotations

from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ..services import admin_links
from ..services.errors import ServiceError
from ..services.supervisors import tenant_of


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request, token: str):
    try:
        if request.method == "GET":
            account = admin_links.account_of(token)
            return render(request, "admin/link_confirm.html", {
                "title": "Sign in", "account": account.get_username(), "tenant": tenant_of(account)})
        account = admin_links.redeem(token)
    except ServiceError as refused:
        return render(request, "admin/link_refused.html", {"reason": str(refused), "title": "Sign-in link"},
                      status=403)
    login(request, account, backend="django.contrib.auth.backends.ModelBackend")
    return redirect("admin:index")
