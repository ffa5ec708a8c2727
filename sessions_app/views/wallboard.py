"""The supervisors' wallboard page, `/admin/wallboard/`: one tenant's agents, queues and live sessions, kept
current by its socket (consumers/wallboard.py). Behind admin's own login (`admin.site.admin_view`): an account
that is not staff is sent to it. A superuser picks the tenant (`?tenant=<id>`); a supervisor sees their own."""
from __future__ import annotations

from django.contrib import admin
from django.http import Http404
from django.shortcuts import render
from django.utils.safestring import mark_safe

from ..services import supervisors
from ..services import wallboard as selectors
from ..ui import wallboard as wallboard_ui


def wallboard(request):
    requested = request.GET.get("tenant")
    tenant = selectors.tenant_shown(request.user, requested)
    context = {**admin.site.each_context(request), "title": "Wallboard"}
    if tenant is None:
        if requested is not None:
            raise Http404("No such tenant.")
        return render(request, "admin/wallboard/no_tenant.html", context, status=403)
    board = selectors.board(tenant.pk)
    choices = (list(supervisors.tenants_visible_to(request.user).order_by("name", "pk").values("pk", "name"))
               if request.user.is_superuser else [])
    response = render(request, "admin/wallboard/page.html", {
        **context, "tenant": tenant, "tenants": choices, "groups": board["groups"],
        "fragments": {name.removeprefix("wb-"): mark_safe(html)
                      for name, html in wallboard_ui.fragments(board).html.items()},
        "ws_path": f"/ws/wallboard/?tenant={tenant.pk}",
    })
    response["Cache-Control"] = "no-store"
    return response


page = admin.site.admin_view(wallboard)
