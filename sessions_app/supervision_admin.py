"""A supervisor's actions on an agent's and a session's admin page: a small panel with the actions that apply to
the row as it stands (set the agent's status, force them offline; end, transfer or offer the session), each a
form posting to a view of its own that calls one service (services/supervision.py), shows the outcome as an
admin message and goes back to the page. A refusal (the row moved on, another tenant's, a crafted id) is an
error message, never a server error; the service has audited it either way. And the audit log, read-only.
"""
from __future__ import annotations

import json
from collections.abc import Callable

from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from .admin_scope import TenantScoped, WrittenByTheServer
from .models import Agent, AuditEntry, RestReason, Session, SkillGroup, found
from .services import media, monitoring, supervision
from .services.errors import ServiceError


class Action:
    """One action of the panel: its label, and the call a POST makes (supervisor's user id, the row's id, the
    form), which answers the success message or raises the service's refusal."""

    def __init__(self, label: str, perform: Callable[..., str]):
        self.label, self.perform = label, perform


class SupervisionPanel:
    """ModelAdmin mixin: the panel above the change form, and the URL its forms post to."""

    change_form_template = "admin/sessions_app/supervised_change_form.html"
    supervision_actions: dict[str, Action] = {}

    def panel(self, obj) -> dict | None:
        """What the panel shows for `obj` as it stands now (None: nothing to do)."""
        raise NotImplementedError

    def get_urls(self):
        opts = self.model._meta
        return [path("<path:object_id>/supervise/<str:action>/", self.admin_site.admin_view(self.supervise_view),
                     name=f"{opts.app_label}_{opts.model_name}_supervise"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        panel = self.panel(obj) if obj is not None else None
        if panel is not None:
            opts = self.model._meta
            panel["urls"] = {name: reverse(f"admin:{opts.app_label}_{opts.model_name}_supervise",
                                           args=[quote(object_id), name]) for name in self.supervision_actions}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "supervision": panel})

    def page_after(self, request, object_id) -> str:
        """Where an action leads back to: the row's page, or the list for a row the user cannot see (another
        tenant's, or none), which admin would answer 404."""
        opts = self.model._meta
        try:
            visible = self.get_object(request, object_id) is not None
        except Http404:
            visible = False
        if visible:
            return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[quote(object_id)])
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")

    def supervise_view(self, request, object_id, action):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_view_permission(request):
            raise PermissionDenied
        back = HttpResponseRedirect(self.page_after(request, object_id))
        chosen = self.supervision_actions.get(action)
        if chosen is None:
            self.message_user(request, f"no action {action!r}", messages.ERROR)
            return back
        try:
            done = chosen.perform(request.user.pk, object_id, request.POST)
        except ServiceError as refused:
            self.message_user(request, f"{chosen.label}: {refused}", messages.ERROR)
        else:
            self.message_user(request, done, messages.SUCCESS)
        return back


# Agents.

def status_choices(agent: Agent) -> list[tuple[str, str]]:
    """The statuses a supervisor may set, as `status` or `rest:reason` values."""
    reasons = list(RestReason.objects.filter(tenant_id=agent.tenant_id).values_list("label", flat=True))
    rests = [(f"rest:{reason}", f"Rest: {reason}") for reason in reasons] or [("rest:", "Rest")]
    return [("free", "Free"), *rests, ("notReady", "Not ready")]


def set_status(supervisor_id, agent_id, form) -> str:
    status, _, reason = form.get("status", "").partition(":")
    supervision.set_agent_status(supervisor_id=supervisor_id, agent_id=agent_id, status=status, rest_reason=reason)
    return f"Status set to {status}{f' ({reason})' if reason else ''}."


def force_offline(supervisor_id, agent_id, form) -> str:
    supervision.force_offline(supervisor_id=supervisor_id, agent_id=agent_id)
    return "Forced offline: sessions in progress ended, logins revoked, sockets closed."


AGENT_ACTIONS = {
    "status": Action("Set status", set_status),
    "offline": Action("Force offline", force_offline),
}


def agent_panel(agent: Agent) -> dict:
    """The actions on `agent` as they stand, for their admin page and the wallboard's menu."""
    current = f"rest:{agent.rest_reason}" if agent.status == "rest" else agent.status
    return {"kind": "agent", "current": current,
            "status_choices": status_choices(agent) if agent.status != "offline" else []}


class AgentSupervision(SupervisionPanel):
    supervision_actions = AGENT_ACTIONS

    def panel(self, agent: Agent) -> dict:
        return agent_panel(agent)


# Sessions.

def end_session(supervisor_id, session_id, form) -> str:
    supervision.end_session(supervisor_id=supervisor_id, session_id=session_id,
                            expected_state=form.get("state") or None)
    return "Session ended."


def transfer_session(supervisor_id, session_id, form) -> str:
    kind, _, target_id = form.get("target", "").partition(":")
    if kind not in ("agent", "group") or not target_id:
        raise ServiceError("choose an agent or a skill group to transfer to")
    supervision.transfer_session(supervisor_id=supervisor_id, session_id=session_id,
                                 expected_state=form.get("state") or None,
                                 **({"agent_id": target_id} if kind == "agent" else {"skill_group_id": target_id}))
    return f"Session transferred: it is {where_now(session_id)}."


def offer_session(supervisor_id, session_id, form) -> str:
    if not form.get("agent"):
        raise ServiceError("choose an agent to offer it to")
    supervision.offer_session(supervisor_id=supervisor_id, session_id=session_id, agent_id=form["agent"])
    return f"Session offered: it is {where_now(session_id)}."


def where_now(session_id: str) -> str:
    return supervision.where(Session.objects.select_related("agent", "skill_group").get(pk=session_id))


def stop_monitoring(supervisor_id, session_id, form) -> str:
    monitoring.stop(supervisor_id=supervisor_id, session_id=session_id)
    return "You stopped monitoring the call."


SESSION_ACTIONS = {
    "end": Action("End session", end_session),
    "transfer": Action("Transfer", transfer_session),
    "offer": Action("Offer", offer_session),
    "stop_monitoring": Action("Stop", stop_monitoring),
}


def monitor_panel(session: Session, user) -> dict | None:
    """The monitoring buttons of a call in progress, for a supervisor allowed to monitor calls: links to the
    call's monitor page starting in each mode, and Stop while they monitor it (None: no buttons)."""
    if (session.state != "active" or session.type not in media.MEDIA_TYPES
            or not user.has_perm(monitoring.PERMISSION)):
        return None
    mode = found(session.monitorings.filter(supervisor=user, ended_at__isnull=True).values_list("mode", flat=True))
    url = reverse("call-monitor", args=[session.pk])
    return {"url": url, "mode": mode or "", "modes": [(name, label, f"{url}?mode={name}") for name, label in (
        ("listen", "Listen"), ("whisper", "Whisper"), ("barge", "Barge"), ("takeover", "Take over"))]}


def session_panel(session: Session) -> dict | None:
    """The actions on `session` as it stands (None once it has ended), for its admin page and the wallboard's
    menu."""
    if session.state == "ended":
        return None
    transferable = (session.state in supervision.TRANSFERABLE and session.type != "internal"
                    and not session.caller_agent_id)
    online = Agent.objects.filter(tenant_id=session.tenant_id).exclude(status="offline").exclude(
        pk=session.agent_id or 0).order_by("user_id")
    groups = SkillGroup.objects.filter(tenant_id=session.tenant_id).order_by("name")
    groups = groups.filter(kind="im") if session.type == "im" else groups.exclude(kind="im")
    return {
        "kind": "session", "state": session.state,
        "transfer_agents": [(a.pk, f"{a.user_id} ({a.get_status_display().lower()})") for a in online]
        if transferable else [],
        "transfer_groups": [(g.pk, g.name) for g in groups] if transferable else [],
        "offer_agents": [(a.pk, a.user_id) for a in online if a.status == "free"]
        if session.state == "queued" else [],
        "watch_url": reverse("chat-watch", args=[session.pk]) if session.type == "im" else "",
    }


class SessionSupervision(SupervisionPanel):
    supervision_actions = SESSION_ACTIONS

    def panel(self, session: Session) -> dict | None:
        return session_panel(session)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        monitor = monitor_panel(obj, request.user) if obj is not None else None
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "monitor": monitor})


# The audit log.

@admin.register(AuditEntry)
class AuditEntryAdmin(TenantScoped, WrittenByTheServer, admin.ModelAdmin):
    """Every supervisor action, done or refused: written by the services, never changed or deleted here."""

    list_display = ["when", "supervisor_name", "action", "target", "tenant_name", "outcome", "message"]
    list_filter = ["action", "outcome", "tenant", "at"]
    list_select_related = ["tenant"]
    date_hierarchy = "at"
    search_fields = ["supervisor_name", "target_id", "target_label", "message"]
    fields = ["at", "supervisor", "supervisor_name", "cloud_key", "action", "target_kind", "target_id", "target_label",
              "tenant", "outcome", "message", "details_json"]
    readonly_fields = fields

    @admin.display(description="when", ordering="at")
    def when(self, entry):
        return date_format(timezone.localtime(entry.at), "Y-m-d H:i:s")

    @admin.display(description="tenant", ordering="tenant__name")
    def tenant_name(self, entry):
        return entry.tenant.name if entry.tenant else "-"

    @admin.display(description="target", ordering="target_label")
    def target(self, entry):
        """The agent's or session's page, for a target that was found; a refused id as it was given."""
        if not entry.target_label:
            return entry.target_id
        url = reverse(f"admin:sessions_app_{entry.target_kind}_change", args=[quote(entry.target_id)])
        return format_html('<a href="{}">{}</a>', url, entry.target_label)

    @admin.display(description="details")
    def details_json(self, entry):
        return format_html('<pre class="json">{}</pre>', json.dumps(entry.details, indent=2, ensure_ascii=False))
