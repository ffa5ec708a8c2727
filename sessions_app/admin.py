"""Django admin for supervisors: set up tenants, skill groups, numbers and agents; watch agents live; read
sessions (who served them, the timeline of what happened) and CDRs with their delivery to the webhook.

Sessions and CDRs are written by the services only, so here they are read-only; what a supervisor does to agents
and sessions (status, force offline, end, transfer, offer) is a panel on their pages (supervision_admin.py) and
admin actions, calling the audited services; retrying a CDR push is an admin action.
A supervisor of a tenant sees and changes that tenant's rows alone (`admin_scope.py`); keys and secrets are shown
once, when made, and masked afterwards.
"""
from __future__ import annotations

import json

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q
from django.http import Http404
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from .admin_accounts import ROLES, AccountFields, SupervisorForm
from .admin_scope import ScopedInline, TenantScoped, masked, restrict_to_superusers
from .domain import agent_state
from .models import (Agent, AgentSkill, CannedResponse, Cdr, ChatMessage, Monitoring, NumberGroup, Recording,
                     RestReason, ServeParticipant, Session, SessionEvent, SkillGroup, Supervisor, Tenant, found)
from .services import routing, supervision, tenant_secrets
from .services.errors import ServiceError
from .supervision_admin import AgentSupervision, SessionSupervision
from .views.ranged import ranged_file

admin.site.site_header = "Contact center"
admin.site.site_title = "Contact center"
admin.site.index_title = "Supervision"


def humanize_seconds(seconds: float) -> str:
    """A span as a supervisor reads it at a glance: 45 s, 3 min, 2 h 5 min, 3 d 4 h."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


@admin.register(Tenant)
class TenantAdmin(TenantScoped, admin.ModelAdmin):
    """A tenant's settings. Its API key and CDR secret are made by the server, shown once (when the tenant is added
    or the key rotated) and masked afterwards, to everyone."""

    list_display = ["sdk_app_id", "name", "cdr_webhook_url"]
    search_fields = ["sdk_app_id", "name"]
    ordering = ["name"]
    actions = ["rotate_api_key", "rotate_cdr_secret"]
    readonly_fields = ["api_key_masked", "cdr_secret_masked"]
    fieldsets = [
        (None, {"fields": ["name", "sdk_app_id", "time_zone"]}),
        ("Server API", {"fields": ["api_key_masked"]}),
        ("SDK", {"fields": ["allowed_origins"]}),
        ("CDR push", {"fields": ["cdr_webhook_url", "cdr_secret_masked"]}),
        ("Phone", {"fields": ["protect_numbers", "outbound_per_5_minutes", "outbound_per_day",
                              ("calling_hours_start", "calling_hours_end")]}),
        ("Recording", {"fields": ["record_calls", "recording_retention_days"]}),
        ("Monitoring", {"fields": ["show_monitoring"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        """A supervisor changes their tenant's settings, not the SdkAppId the SDK and the API know it by."""
        if request.user.is_superuser:
            return self.readonly_fields
        return [*self.readonly_fields, "sdk_app_id"]

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    @admin.display(description="API key")
    def api_key_masked(self, tenant):
        return masked(tenant.api_key) if tenant.pk else "made when the tenant is saved, and shown once"

    @admin.display(description="CDR signing secret")
    def cdr_secret_masked(self, tenant):
        return masked(tenant.cdr_secret) if tenant.pk else "made when the tenant is saved, and shown once"

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"{obj}: API key {obj.api_key} and CDR signing secret {obj.cdr_secret}. "
                                   "Copy them now: they are not shown again.", messages.WARNING)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description="Rotate API key (the old one stops working)", permissions=["change"])
    def rotate_api_key(self, request, queryset):
        for tenant in queryset:
            key = tenant_secrets.rotate_api_key(tenant_id=tenant.pk)
            self.log_change(request, tenant, "Rotated the API key")
            self.message_user(request, f"New API key of {tenant}: {key}. Copy it now: it is not shown again.",
                              messages.WARNING)

    @admin.action(description="Rotate CDR signing secret (pushes are signed with the new one)",
                  permissions=["change"])
    def rotate_cdr_secret(self, request, queryset):
        for tenant in queryset:
            secret = tenant_secrets.rotate_cdr_secret(tenant_id=tenant.pk)
            self.log_change(request, tenant, "Rotated the CDR signing secret")
            self.message_user(request, f"New CDR signing secret of {tenant}: {secret}. Copy it now: it is not "
                                       "shown again.", messages.WARNING)


class TracksModification:
    """A row whose change in admin moves its `modified_at` (the cloud API's LastModifyTimestamp and ModifiedTime
    filter): its own fields or its inlines changed."""

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.has_changed() or any(formset.has_changed() for formset in formsets):
            type(form.instance).objects.filter(pk=form.instance.pk).update(modified_at=timezone.now())


@admin.register(SkillGroup)
class SkillGroupAdmin(TenantScoped, TracksModification, admin.ModelAdmin):
    list_display = ["name", "kind", "routing_strategy", "ring_timeout", "wrap_up_seconds", "max_queue_wait",
                    "queued", "agents_online"]
    list_filter = ["kind", "routing_strategy"]
    search_fields = ["name"]
    ordering = ["name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            queued_count=Count("session", filter=Q(session__state="queued"), distinct=True),
            online_count=Count("agents", filter=~Q(agents__status="offline"), distinct=True))

    @admin.display(description="queued", ordering="queued_count")
    def queued(self, group):
        return group.queued_count

    @admin.display(description="agents online", ordering="online_count")
    def agents_online(self, group):
        return group.online_count


@admin.register(RestReason)
class RestReasonAdmin(TenantScoped, admin.ModelAdmin):
    """The reasons agents pick in the workbench's status picker when they take a break."""

    list_display = ["label", "position", "tenant"]
    list_editable = ["position"]
    list_filter = ["tenant"]
    search_fields = ["label"]


@admin.register(CannedResponse)
class CannedResponseAdmin(TenantScoped, admin.ModelAdmin):
    """Ready answers agents insert from the chat panel."""

    list_display = ["title", "excerpt", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["title", "text"]

    @admin.display(description="text")
    def excerpt(self, response):
        return response.text if len(response.text) <= 80 else response.text[:79] + "…"


@admin.register(NumberGroup)
class NumberGroupAdmin(TenantScoped, admin.ModelAdmin):
    list_display = ["name", "tenant"]
    search_fields = ["name", "numbers"]


class AgentSkillInline(ScopedInline, admin.TabularInline):
    model = AgentSkill
    verbose_name, verbose_name_plural = "skill group", "skill groups"
    fields = ["skill_group", "priority"]
    extra = 1
    classes = ["uncaptioned"]


@admin.register(Agent)
class AgentAdmin(TenantScoped, AgentSupervision, TracksModification, admin.ModelAdmin):
    list_display = ["user_id", "nickname", "staff_number", "status_badge", "time_in_status", "rest_reason",
                    "open_connections", "skill_group_names"]
    list_filter = ["status", "skill_groups"]
    search_fields = ["user_id", "nickname", "staff_number"]
    ordering = ["user_id"]
    inlines = [AgentSkillInline]
    actions = ["force_offline"]
    readonly_fields = ["status_badge", "time_in_status", "rest_reason", "available_since", "last_offered_at",
                       "offline_deadline", "arrange_deadline"]
    fieldsets = [
        (None, {"fields": ["account", "tenant", "user_id", "nickname", "staff_number", "mobile", "chat_capacity"]}),
        ("Status (set by the agent or a supervisor)", {"fields": readonly_fields}),
    ]

    def get_fieldsets(self, request, obj=None):
        """A new agent has no status to show yet. A supervisor makes the agent's account here (a username and a
        password) rather than picking one of the server's accounts, and may give it a new password later."""
        fieldsets = self.fieldsets if obj else self.fieldsets[:1]
        if request.user.is_superuser:
            return fieldsets
        first = [*fieldsets[0][1]["fields"]]
        first[0:1] = ["account", "password"] if obj else ["username", "password"]
        return [(None, {"fields": first}), *fieldsets[1:]]

    def get_readonly_fields(self, request, obj=None):
        if request.user.is_superuser or obj is None:
            return self.readonly_fields
        return [*self.readonly_fields, "account"]

    def get_form(self, request, obj=None, **kwargs):
        if not request.user.is_superuser:
            kwargs["form"] = AccountFields
        return super().get_form(request, obj, **kwargs)

    def get_queryset(self, request):
        on_call = routing.busy_call_sessions().filter(Q(agent=OuterRef("pk")) | Q(caller_agent=OuterRef("pk")))
        return (super().get_queryset(request).prefetch_related("skill_groups")
                .annotate(connection_count=Count("connections", distinct=True), on_call=Exists(on_call)))

    def changelist_view(self, request, extra_context=None):
        return super().changelist_view(request, {"title": "Live agents", **(extra_context or {})})

    @admin.display(description="status", ordering="status")
    def status_badge(self, agent):
        status = agent_state.reported_status(agent.status, agent.on_call)
        label = "Busy" if status == "busy" else agent.get_status_display()
        return format_html('<span class="badge status-{}">{}</span>', status, label)

    @admin.display(description="in status for", ordering="status_since")
    def time_in_status(self, agent):
        return humanize_seconds((timezone.now() - agent.status_since).total_seconds())

    @admin.display(description="connections", ordering="connection_count")
    def open_connections(self, agent):
        return agent.connection_count

    @admin.display(description="skill groups")
    def skill_group_names(self, agent):
        return ", ".join(group.name for group in agent.skill_groups.all())

    @admin.action(description="Force offline", permissions=["view"])
    def force_offline(self, request, queryset):
        """Offline, sessions ended, sockets closed and tokens revoked (services/logins.py), also for an agent shown
        offline: it may still have a socket open. Each is audited (services/supervision.py)."""
        done = 0
        for agent_id in queryset.values_list("pk", flat=True):
            try:
                supervision.force_offline(supervisor_id=request.user.pk, agent_id=agent_id)
                done += 1
            except ServiceError as refused:
                self.message_user(request, f"Force offline: {refused}", messages.ERROR)
        if done:
            self.message_user(request, f"{done} agent{'' if done == 1 else 's'} forced offline.", messages.SUCCESS)


@admin.register(Supervisor)
class SupervisorAdmin(TenantScoped, admin.ModelAdmin):
    """A tenant's supervisors and administrators, each with a staff account made here (see admin_accounts.py)."""

    form = SupervisorForm
    list_display = ["account", "tenant", "role"]
    list_filter = ["tenant"]
    search_fields = ["account__username"]
    list_select_related = ["account", "tenant"]

    def get_fields(self, request, obj=None):
        return ["account", "password", "role", "tenant"] if obj else ["username", "password", "role", "tenant"]

    def get_readonly_fields(self, request, obj=None):
        return ["account"] if obj else []

    def get_queryset(self, request):
        """A superuser's account never shows as a tenant's supervisor to anyone but a superuser."""
        queryset = super().get_queryset(request).prefetch_related("account__groups")
        return queryset if request.user.is_superuser else queryset.filter(account__is_superuser=False)

    @admin.display(description="role")
    def role(self, supervisor):
        return ", ".join(group.name for group in supervisor.account.groups.all() if group.name in ROLES) or "-"

    def delete_model(self, request, obj):
        """The account was made for this supervisor alone: it goes with them."""
        obj.account.delete()

    def delete_queryset(self, request, queryset):
        get_user_model().objects.filter(supervisor__in=queryset).delete()


class ReadOnlyInline(ScopedInline):
    """An inline that shows rows the services wrote, without letting anyone add, edit or delete them."""

    extra = 0
    can_delete = False
    classes = ["uncaptioned"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def to_the_second(column: str, description: str):
    """A read-only column showing a moment with its seconds, which the default format leaves out."""
    @admin.display(description=description)
    def moment(self, row):
        value = getattr(row, column)
        return date_format(timezone.localtime(value), "Y-m-d H:i:s") if value else "-"
    return moment


class ServeParticipantInline(ReadOnlyInline, admin.TabularInline):
    model = ServeParticipant
    verbose_name_plural = "Agents offered or serving"
    fields = ["sequence", "agent", "skill_group", "outcome", "rang", "accepted", "ended", "transfer_from",
              "transfer_to", "completed"]
    readonly_fields = ["rang", "accepted", "ended", "completed"]
    rang = to_the_second("ring_at", "rang at")
    accepted = to_the_second("accept_at", "accepted at")
    ended = to_the_second("end_at", "ended at")
    completed = to_the_second("completed_at", "after-call work done at")


class SessionEventInline(ReadOnlyInline, admin.TabularInline):
    model = SessionEvent
    verbose_name_plural = "Timeline"
    fields = ["moment", "what"]
    readonly_fields = ["moment"]
    moment = to_the_second("at", "at")


class MonitoringInline(ReadOnlyInline, admin.TabularInline):
    """Supervisors who listened to, whispered in, barged into or took over the call (services/monitoring.py)."""
    model = Monitoring
    verbose_name_plural = "Monitored by"
    fields = ["supervisor_name", "mode", "started", "ended"]
    readonly_fields = ["started", "ended"]
    started = to_the_second("started_at", "started at")
    ended = to_the_second("ended_at", "ended at")


class ChatMessageInline(ReadOnlyInline, admin.TabularInline):
    """A web chat's conversation, in order (shown on im sessions only)."""

    model = ChatMessage
    verbose_name_plural = "Chat messages"
    fields = ["seq", "sender", "agent", "supervisor_name", "text", "sent"]
    readonly_fields = ["sent"]
    sent = to_the_second("created_at", "sent at")


class CdrPayload:
    """The CDR's JSON, pretty-printed, for the CDR page and the session page."""

    readonly_fields = ["payload_json"]

    @admin.display(description="payload")
    def payload_json(self, cdr):
        return format_html('<pre class="json">{}</pre>', json.dumps(cdr.payload, indent=2, ensure_ascii=False))


class RecordingInline(ReadOnlyInline, admin.StackedInline):
    """The call's recording: played (and seeked, the file is served with HTTP Range) and downloaded here, by
    those who may view recordings of the session's tenant."""

    model = Recording
    verbose_name = verbose_name_plural = "Recording"
    fields = ["player", "started_at", "duration_display", "partial", "paused_spans"]
    readonly_fields = ["player", "duration_display"]

    @admin.display(description="recording")
    def player(self, recording):
        if not recording.file:
            return "being recorded" if recording.stored_at is None else "lost: its file was never written"
        url = reverse("admin:sessions_app_session_recording", args=[quote(recording.session_id)])
        return format_html('<audio controls preload="metadata" src="{}"></audio> <a href="{}?download=1">Download</a>',
                           url, url)

    @admin.display(description="length")
    def duration_display(self, recording):
        return None if recording.duration is None else humanize_seconds(recording.duration)


class CdrInline(CdrPayload, ReadOnlyInline, admin.StackedInline):
    model = Cdr
    verbose_name = verbose_name_plural = "CDR"
    fields = ["push_id", "delivered_at", "attempts", "next_attempt_at", "last_error", "payload_json"]


@admin.register(Session)
class SessionAdmin(TenantScoped, SessionSupervision, admin.ModelAdmin):
    list_display = ["short_id", "type", "direction", "state", "skill_group", "agent", "caller", "queued_at",
                    "duration_display", "end_status", "close_by"]
    list_filter = ["type", "direction", "state", "end_status", "skill_group", "created_at"]
    list_select_related = ["skill_group", "agent", "caller_agent"]
    date_hierarchy = "created_at"
    search_fields = ["^id", "caller_phone_number", "callee_phone_number", "nickname", "uui"]
    inlines = [ServeParticipantInline, MonitoringInline, RecordingInline, SessionEventInline, CdrInline]
    fieldsets = [
        (None, {"fields": ["id", "tenant", "type", "direction", "state", "skill_group", "agent", "caller_agent",
                           "end_status", "close_by", "duration"]}),
        ("Times", {"fields": ["created_at", "queued_at", "ring_at", "accepted_at", "ended_at", "ivr_deadline",
                              "offer_deadline", "queue_deadline", "line_deadline"]}),
        ("Call controls", {"fields": ["on_hold", "mic_muted", "video_muted", "transferred_by"],
                           "classes": ["collapse"]}),
    ]
    customer_fields = ["caller_phone_number", "callee_phone_number", "caller_location", "nickname",
                       "customer_user_id", "peer_source", "channel_name", "client_data", "callee", "callee_remark",
                       "remark", "ivr_path", "protected_caller", "protected_callee", "uui"]

    def get_inlines(self, request, obj):
        if obj is not None and obj.type == "im":
            return [ServeParticipantInline, ChatMessageInline, SessionEventInline, CdrInline]
        return self.inlines

    def get_fieldsets(self, request, obj=None):
        """Only the customer's fields the session has: each channel fills a few of them."""
        customer = [name for name in self.customer_fields if getattr(obj, name, None)]
        if not customer:
            return self.fieldsets
        return [self.fieldsets[0], ("Customer", {"fields": customer}), *self.fieldsets[1:]]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_urls(self):
        return [path("<path:object_id>/recording/", self.admin_site.admin_view(self.recording_view),
                     name="sessions_app_session_recording"), *super().get_urls()]

    def recording_view(self, request, object_id):
        """The session's recording file (Ogg Opus), with HTTP Range; `?download=1` as an attachment. Another
        tenant's session, or one without a stored recording, is not found."""
        session = self.get_object(request, unquote(object_id))
        if session is None or not request.user.has_perm("sessions_app.view_recording"):
            raise Http404("no such recording")
        recording = found(Recording.objects.filter(session=session).exclude(file=""))
        if recording is None:
            raise Http404("no such recording")
        storage, name = recording.file.storage, recording.file.name
        return ranged_file(request, storage.open(name, "rb"), storage.size(name), "audio/ogg", f"{session.pk}.ogg",
                           download=request.GET.get("download") == "1")

    @admin.display(description="session", ordering="id")
    def short_id(self, session):
        return session.id[:8]

    @admin.display(description="caller")
    def caller(self, session):
        calling_agent = session.caller_agent.user_id if session.caller_agent else ""
        return session.caller_phone_number or session.nickname or session.customer_user_id or calling_agent

    @admin.display(description="duration", ordering="duration")
    def duration_display(self, session):
        return None if session.duration is None else humanize_seconds(session.duration)


class DeliveryFilter(admin.SimpleListFilter):
    title = "delivery"
    parameter_name = "delivery"

    STATES = {
        "delivered": Q(delivered_at__isnull=False),
        "pending": Q(next_attempt_at__isnull=False),
        "unsent": Q(delivered_at__isnull=True, next_attempt_at__isnull=True),
    }

    def lookups(self, request, model_admin):
        return [("delivered", "Delivered"), ("pending", "Pending"), ("unsent", "Not pushed (no webhook)")]

    def queryset(self, request, queryset):
        if self.value() in self.STATES:
            return queryset.filter(self.STATES[self.value()])
        return queryset


@admin.register(Cdr)
class CdrAdmin(TenantScoped, CdrPayload, admin.ModelAdmin):
    list_display = ["session", "created_at", "delivered_at", "attempts", "next_attempt_at", "last_error"]
    list_filter = [DeliveryFilter]
    list_select_related = ["session"]
    search_fields = ["^session__id"]
    actions = ["retry_push"]
    fields = ["session", "push_id", "created_at", "delivered_at", "attempts", "next_attempt_at", "last_error",
              "payload_json"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry push now", permissions=["view"])
    def retry_push(self, request, queryset):
        """Make undelivered pushes due now; the sweeper delivers them (a push needs the tenant's webhook)."""
        due = (queryset.filter(delivered_at__isnull=True).exclude(session__tenant__cdr_webhook_url="")
               .update(next_attempt_at=timezone.now()))
        self.message_user(request, f"{due} CDR push{'' if due == 1 else 'es'} due now.", messages.SUCCESS)


from . import phone_admin  # noqa: E402,F401  (trunks, hotlines, IVR menus: registered there)

# Django's users and groups and django-axes' lockouts belong to no tenant: superusers alone manage them.
restrict_to_superusers(admin.site,
                       *[model for model in admin.site._registry if model._meta.app_label != "sessions_app"])
from . import cloud_admin  # noqa: E402,F401  (the cloud API's key pairs and call log: registered there)
