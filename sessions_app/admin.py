"""Django admin for supervisors: set up tenants, skill groups, numbers and agents; watch agents live; read
sessions (who served them, the timeline of what happened) and CDRs with their delivery to the webhook.

Sessions and CDRs are written by the services only, so here they are read-only; the two things a supervisor
may do to them, forcing an agent offline and retrying a CDR push, are admin actions calling the services.
"""
from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html

from .domain import agent_state
from .models import (Agent, AgentSkill, CannedResponse, Cdr, ChatMessage, NumberGroup, RestReason, ServeParticipant,
                     Session, SessionEvent, SkillGroup, Tenant)
from .services import logins, routing

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
class TenantAdmin(admin.ModelAdmin):
    list_display = ["sdk_app_id", "name", "cdr_webhook_url"]
    search_fields = ["sdk_app_id", "name"]
    fieldsets = [
        (None, {"fields": ["name", "sdk_app_id", "time_zone"]}),
        ("Server API", {"fields": ["api_key"]}),
        ("SDK", {"fields": ["allowed_origins"]}),
        ("CDR push", {"fields": ["cdr_webhook_url", "cdr_secret"]}),
        ("Phone", {"fields": ["protect_numbers", "outbound_per_5_minutes", "outbound_per_day",
                              ("calling_hours_start", "calling_hours_end")]}),
    ]


@admin.register(SkillGroup)
class SkillGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "routing_strategy", "ring_timeout", "wrap_up_seconds", "max_queue_wait",
                    "queued", "agents_online"]
    list_filter = ["kind", "routing_strategy"]
    search_fields = ["name"]

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
class RestReasonAdmin(admin.ModelAdmin):
    """The reasons agents pick in the workbench's status picker when they take a break."""

    list_display = ["label", "position", "tenant"]
    list_editable = ["position"]
    list_filter = ["tenant"]
    search_fields = ["label"]


@admin.register(CannedResponse)
class CannedResponseAdmin(admin.ModelAdmin):
    """Ready answers agents insert from the chat panel."""

    list_display = ["title", "excerpt", "tenant"]
    list_filter = ["tenant"]
    search_fields = ["title", "text"]

    @admin.display(description="text")
    def excerpt(self, response):
        return response.text if len(response.text) <= 80 else response.text[:79] + "…"


@admin.register(NumberGroup)
class NumberGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant"]
    search_fields = ["name", "numbers"]


class AgentSkillInline(admin.TabularInline):
    model = AgentSkill
    verbose_name, verbose_name_plural = "skill group", "skill groups"
    fields = ["skill_group", "priority"]
    extra = 1
    classes = ["uncaptioned"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["user_id", "nickname", "staff_number", "status_badge", "time_in_status", "rest_reason",
                    "open_connections", "skill_group_names"]
    list_filter = ["status", "skill_groups"]
    search_fields = ["user_id", "nickname", "staff_number"]
    inlines = [AgentSkillInline]
    actions = ["force_offline"]
    readonly_fields = ["status_badge", "time_in_status", "rest_reason", "available_since", "last_offered_at",
                       "offline_deadline", "arrange_deadline"]
    fieldsets = [
        (None, {"fields": ["account", "tenant", "user_id", "nickname", "staff_number", "mobile", "chat_capacity"]}),
        ("Status (set by the agent)", {"fields": readonly_fields}),
    ]

    def get_fieldsets(self, request, obj=None):
        """A new agent has no status to show yet."""
        return self.fieldsets if obj else self.fieldsets[:1]

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

    @admin.action(description="Force offline")
    def force_offline(self, request, queryset):
        """Offline, sessions ended, sockets closed and tokens revoked (services/logins.py), also for an agent shown
        offline: it may still have a socket open."""
        chosen = list(queryset.values_list("pk", flat=True))
        for agent_id in chosen:
            logins.force_offline(agent_id, supervisor_id=request.user.pk)
        self.message_user(request, f"{len(chosen)} agent{'' if len(chosen) == 1 else 's'} forced offline.",
                          messages.SUCCESS)


class ReadOnlyInline:
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


class ChatMessageInline(ReadOnlyInline, admin.TabularInline):
    """A web chat's conversation, in order (shown on im sessions only)."""

    model = ChatMessage
    verbose_name_plural = "Chat messages"
    fields = ["seq", "sender", "agent", "text", "sent"]
    readonly_fields = ["sent"]
    sent = to_the_second("created_at", "sent at")


class CdrPayload:
    """The CDR's JSON, pretty-printed, for the CDR page and the session page."""

    readonly_fields = ["payload_json"]

    @admin.display(description="payload")
    def payload_json(self, cdr):
        return format_html('<pre class="json">{}</pre>', json.dumps(cdr.payload, indent=2, ensure_ascii=False))


class CdrInline(CdrPayload, ReadOnlyInline, admin.StackedInline):
    model = Cdr
    verbose_name = verbose_name_plural = "CDR"
    fields = ["push_id", "delivered_at", "attempts", "next_attempt_at", "last_error", "payload_json"]


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    list_display = ["short_id", "type", "direction", "state", "skill_group", "agent", "caller", "queued_at",
                    "duration_display", "end_status", "close_by"]
    list_filter = ["type", "direction", "state", "end_status", "skill_group", "created_at"]
    list_select_related = ["skill_group", "agent", "caller_agent"]
    date_hierarchy = "created_at"
    search_fields = ["^id", "caller_phone_number", "callee_phone_number", "nickname", "uui"]
    inlines = [ServeParticipantInline, SessionEventInline, CdrInline]
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
class CdrAdmin(CdrPayload, admin.ModelAdmin):
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

    @admin.action(description="Retry push now")
    def retry_push(self, request, queryset):
        """Make undelivered pushes due now; the sweeper delivers them (a push needs the tenant's webhook)."""
        due = (queryset.filter(delivered_at__isnull=True).exclude(session__tenant__cdr_webhook_url="")
               .update(next_attempt_at=timezone.now()))
        self.message_user(request, f"{due} CDR push{'' if due == 1 else 'es'} due now.", messages.SUCCESS)


from . import phone_admin  # noqa: E402,F401  (trunks, hotlines, IVR menus: registered there)
