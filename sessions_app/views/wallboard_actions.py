"""A supervisor's actions from the wallboard: the menu of an agent's or a live session's row, and its forms' posts.

Plain HTTP beside the board's socket, not messages over it: each action is one CSRF-protected POST that calls one
service (services/supervision.py, through the same actions as the admin pages' panel, supervision_admin.py) and
answers JSON `{"ok", "message"}` for the page to show as a notice. The socket stays a one-way push that any
number of pages share (consumers/wallboard.py), and what changes reaches the board by that push, whichever process
made it. The menu is fetched when opened (`menu`), so its choices (rest reasons, free agents, skill groups) are
those of now, while its forms carry the state the row showed: a row that has moved on since is refused with the
service's words, not acted on.

Staff only (anyone else gets 403, not admin's login page, since a script reads the answer); what a supervisor may
act on is the service's check (another tenant's agent or session is "not found").
"""
from __future__ import annotations

from django.http import HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from .. import supervision_admin as panels
from ..domain import session_state
from ..models import Agent, Session, found
from ..services import supervision, supervisors
from ..services.errors import NotFound, ServiceError

ACTIONS = {"agent": panels.AGENT_ACTIONS, "session": panels.SESSION_ACTIONS}


def _staff(request) -> bool:
    return request.user.is_active and request.user.is_staff


def _may_see(request, kind: str) -> bool:
    """As the admin pages' panel: acting on agents or sessions needs seeing them in admin (the roles give it)."""
    return request.user.has_perm(f"sessions_app.view_{kind}") or request.user.has_perm(f"sessions_app.change_{kind}")


def _agent_menu(request, agent_id: str) -> dict | None:
    if not (agent_id.isascii() and agent_id.isdigit()) or len(agent_id) > 18:
        return None
    agent = found(Agent.objects.filter(pk=int(agent_id), tenant__in=supervisors.tenants_visible_to(request.user)))
    if agent is None:
        return None
    return {"title": agent.nickname or agent.user_id, "agent": agent, "panel": panels.agent_panel(agent)}


def _session_menu(request, session_id: str) -> dict | None:
    if len(session_id) > 64 or "\x00" in session_id:  # PostgreSQL refuses a NUL in a query
        return None
    session = found(Session.objects.select_related("agent", "skill_group").filter(
        pk=session_id, tenant__in=supervisors.tenants_visible_to(request.user)))
    if session is None:
        return None
    shown = request.GET.get("state", "")
    return {"title": f"{session.get_type_display()} session {session.pk[:8]}", "session": session,
            "panel": panels.session_panel(session), "where": supervision.where(session),
            "monitor": panels.monitor_panel(session, request.user),
            "shown_state": shown if shown in session_state.OPEN else session.state}


MENUS = {"agent": _agent_menu, "session": _session_menu}
MENU = "admin/wallboard/action_menu.html"


@never_cache
def menu(request, kind: str, target_id: str):
    """The menu of one row: the actions that apply to the agent or session as it stands now; `?state=` is the
    state the row showed, which the session's forms send back as the state expected."""
    if not _staff(request):
        return HttpResponse("Sign in to admin as staff.", status=403, content_type="text/plain")
    if request.method != "GET":
        return HttpResponseNotAllowed(["GET"])
    if kind in MENUS and not _may_see(request, kind):
        return render(request, MENU, {"not_allowed": kind}, status=403)
    context = MENUS[kind](request, target_id) if kind in MENUS else None
    if context is None:
        return render(request, MENU, {"gone": True}, status=404)
    return render(request, MENU, context)


@never_cache
@csrf_protect
def act(request, kind: str, target_id: str, action: str):
    """Do one action and say how it went: 200 done; 409 refused (moved on, not possible now), 404 not found or not
    theirs, 400 an action that does not exist, 403 not staff or not allowed to see such rows; the message is the
    one to show."""
    if not _staff(request):
        return JsonResponse({"ok": False, "message": "Sign in to admin as staff to act."}, status=403)
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    chosen = ACTIONS.get(kind, {}).get(action)
    if chosen is None:
        return JsonResponse({"ok": False, "message": f"No action {action!r} for {kind}s."}, status=400)
    if not _may_see(request, kind):
        return JsonResponse({"ok": False, "message": f"Your account may not act on {kind}s: an administrator can give "
                                                    "it the Supervisor role."}, status=403)
    if "\x00" in target_id:  # PostgreSQL refuses a NUL in a query: no row has one
        return JsonResponse({"ok": False, "message": f"{chosen.label}: no {kind} {target_id!r}"}, status=404)
    try:
        done = chosen.perform(request.user.pk, target_id, request.POST)
    except NotFound as refused:
        return JsonResponse({"ok": False, "message": f"{chosen.label}: {refused}"}, status=404)
    except ServiceError as refused:
        return JsonResponse({"ok": False, "message": f"{chosen.label}: {refused}"}, status=409)
    return JsonResponse({"ok": True, "message": done})
