"""The database is the truth: tenants, agents, skill groups, sessions, who served them, CDRs and deadlines.

Every timer of the product is a nullable deadline column here (`ivr_deadline`, `line_deadline`, `offer_deadline`,
`queue_deadline`, `arrange_deadline`, `offline_deadline`, `CdrPush.next_attempt_at`), swept by `services.deadlines`,
so a restart loses none and several processes can share the sweeping.
"""
import datetime
import secrets
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


def found(queryset):
    """The row a lookup by a unique key finds, or None. `.first()` would order by the primary key, which such
    a lookup does not need and which costs more to compile than SQLite takes to run the query."""
    return next(iter(queryset[:1]), None)


def new_api_key() -> str:
    return secrets.token_urlsafe(32)


def default_time_zone() -> str:
    return settings.TIME_ZONE


def validate_time_zone(name: str) -> None:
    """An IANA zone name the machine knows (`Europe/Berlin`), nothing else: the name becomes a file lookup."""
    if name not in zoneinfo.available_timezones():
        raise ValidationError(f"{name!r} is not an IANA time zone name, e.g. Europe/Berlin or Asia/Shanghai")


class Tenant(models.Model):
    """A company using the contact center: its SdkAppId, API key, allowed origins and CDR webhook, and the
    rules of its phone channel (number protection, outbound limits and calling hours)."""

    name = models.CharField(max_length=100)
    sdk_app_id = models.CharField("SdkAppId", max_length=32, unique=True)
    api_key = models.CharField("API key", max_length=128, unique=True, default=new_api_key)
    allowed_origins = models.TextField(
        blank=True,
        help_text="One origin per line, e.g. https://crm.example.com; a port of * allows any port "
                  "(http://127.0.0.1:*).")
    cdr_webhook_url = models.URLField("CDR webhook", blank=True)
    cdr_secret = models.CharField("CDR signing secret", max_length=128, default=new_api_key,
                                  help_text="Key of the HMAC-SHA256 signature sent with every CDR push.")
    protect_numbers = models.BooleanField(
        "number mapping", default=False,
        help_text="Agents see protectedCaller/protectedCallee ids instead of customers' phone numbers.")
    outbound_per_5_minutes = models.PositiveIntegerField(
        default=3, help_text="At most this many outbound calls to one number within any 5 minutes.")
    outbound_per_day = models.PositiveIntegerField(
        default=5, help_text="At most this many outbound calls to one number within any 24 hours.")
    calling_hours_start = models.TimeField(default=datetime.time(9, 0), help_text="Outbound calls start at (local time).")
    calling_hours_end = models.TimeField(default=datetime.time(21, 0), help_text="Outbound calls end at (local time); the same as the start: all day.")
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone],
                                 help_text="IANA name, e.g. Europe/Berlin: reports count days in this zone.")
    record_calls = models.BooleanField(
        default=False, help_text="Record every call from accept to end (a skill group may say otherwise).")
    recording_retention_days = models.PositiveIntegerField(
        "keep recordings (days)", default=0, help_text="Recordings older than this are deleted; 0 keeps them.")
    show_monitoring = models.BooleanField(
        "agents see when they are monitored", default=False,
        help_text="The workbench shows the agent \"Being monitored\" while a supervisor listens, whispers or barges.")

    def __str__(self):
        return f"{self.name} ({self.sdk_app_id})"

    @property
    def origin_patterns(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()]


class SkillGroup(models.Model):
    KINDS = [("phone", "Phone"), ("im", "Web chat"), ("voip", "Web audio"), ("video", "Web video")]
    STRATEGIES = [("longest_idle", "Longest idle"), ("round_robin", "Round robin"),
                  ("fewest_served", "Fewest served today"), ("skill_priority", "Skill priority")]

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="skill_groups")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=KINDS)
    routing_strategy = models.CharField(max_length=16, choices=STRATEGIES, default="longest_idle")
    ring_timeout = models.PositiveIntegerField("ring timeout (s)", default=8,
                                               help_text="0 rings until someone answers.")
    wrap_up_seconds = models.PositiveIntegerField("wrap-up (s)", default=15)
    max_queue_wait = models.PositiveIntegerField("maximum queue wait (s)", default=300)
    service_level_seconds = models.PositiveIntegerField(
        "service level threshold (s)", default=20,
        help_text="A session answered within this many seconds of joining the queue counts toward the service level.")
    caller_numbers = models.TextField(blank=True, help_text="Outbound caller numbers bound to this group, one per line.")
    record_calls = models.BooleanField(
        null=True, blank=True, help_text="Record this group's calls; unknown (blank): as the tenant says.")
    modified_at = models.DateTimeField(default=timezone.now, editable=False,
                                       help_text="Its configuration's last change (the cloud API's LastModifyTimestamp).")

    class Meta:
        unique_together = [("tenant", "name")]

    def __str__(self):
        return f"{self.name} ({self.kind})"

    @property
    def caller_number_list(self) -> list[str]:
        return [n.strip() for n in self.caller_numbers.splitlines() if n.strip()]


class NumberGroup(models.Model):
    """A set of outbound caller numbers an agent can name with `servingNumberGroupIds`."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="number_groups")
    name = models.CharField(max_length=100)
    numbers = models.TextField(help_text="One number per line.")

    def __str__(self):
        return self.name

    @property
    def number_list(self) -> list[str]:
        return [n.strip() for n in self.numbers.splitlines() if n.strip()]


class Supervisor(models.Model):
    """A staff account of one tenant (a supervisor or an administrator): in admin and on the wallboard it sees
    and changes that tenant alone. Superusers belong to no tenant and see them all."""

    account = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="supervisor",
                                   help_text="The Django user the supervisor signs in to admin with.")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="supervisors")

    def __str__(self):
        return f"{self.account} ({self.tenant.name})"


class Agent(models.Model):
    STATUSES = [("offline", "Offline"), ("free", "Free"), ("rest", "Rest"), ("arrange", "After-call work"),
                ("notReady", "Not ready")]

    account = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent",
                                   help_text="The Django user the agent logs in with.")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="agents")
    user_id = models.CharField("userId", max_length=128, help_text="The agent's account as the SDK names it.")
    nickname = models.CharField(max_length=100, blank=True)
    staff_number = models.CharField(max_length=32, blank=True)
    mobile = models.CharField(max_length=32, blank=True)
    chat_capacity = models.PositiveIntegerField(default=5)
    status = models.CharField(max_length=10, choices=STATUSES, default="offline")
    status_since = models.DateTimeField(default=timezone.now)
    rest_reason = models.CharField(max_length=128, blank=True)
    available_since = models.DateTimeField(null=True, blank=True,
                                           help_text="When the agent last became free to take a call.")
    last_offered_at = models.DateTimeField(null=True, blank=True)
    offline_deadline = models.DateTimeField(null=True, blank=True)
    arrange_deadline = models.DateTimeField(null=True, blank=True)
    token_generation = models.PositiveIntegerField(
        default=0, editable=False,
        help_text="Carried in every login and resume token; raising it revokes them all (services/logins.py).")
    modified_at = models.DateTimeField(default=timezone.now, editable=False,
                                       help_text="Its profile's last change (the cloud API's LastModifyTimestamp).")
    skill_groups = models.ManyToManyField(SkillGroup, through="AgentSkill", related_name="agents")

    class Meta:
        unique_together = [("tenant", "user_id")]
        indexes = [models.Index(fields=["offline_deadline"]), models.Index(fields=["arrange_deadline"])]

    def __str__(self):
        return self.nickname or self.user_id


class WebProcess(models.Model):
    """A running server process, seen alive by its heartbeat; a process that stops beating (killed, or
    stopped without running its disconnect handlers) has its agents' connections reaped by the others."""

    id = models.CharField(primary_key=True, max_length=32)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)


class MediaWorker(models.Model):
    """A media worker process (`manage.py media_worker`, used when Redis is configured), seen alive by its
    heartbeat. Each web call's legs live on one worker; a worker that stops beating has its calls ended."""

    id = models.CharField(primary_key=True, max_length=32)
    channel_name = models.CharField(max_length=200)
    started_at = models.DateTimeField(default=timezone.now)
    last_seen = models.DateTimeField(default=timezone.now, db_index=True)
    calls = models.PositiveIntegerField(default=0, help_text="Calls with legs on it at its last heartbeat.")
    carries_sip = models.BooleanField(default=False, help_text="It runs the SIP gateway: phone calls live on it.")

    def __str__(self):
        return f"media worker {self.id[:8]}"


class AgentConnection(models.Model):
    """One open SDK websocket of an agent; when the last one goes, the offline grace period starts."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="connections")
    channel_name = models.CharField(max_length=200, unique=True)
    process = models.ForeignKey(WebProcess, on_delete=models.CASCADE, related_name="connections")
    opened_at = models.DateTimeField(default=timezone.now)


class AgentSkill(models.Model):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE)
    skill_group = models.ForeignKey(SkillGroup, on_delete=models.CASCADE)
    priority = models.PositiveSmallIntegerField(default=1, help_text="1 is offered first (skill priority routing).")

    class Meta:
        unique_together = [("agent", "skill_group")]

    def __str__(self):
        return f"{self.agent} in {self.skill_group.name} (priority {self.priority})"


def new_session_id() -> str:
    return uuid.uuid4().hex


class SessionQuerySet(models.QuerySet):
    def locked(self, *related: str):
        """Sessions locked until the transaction ends, with `related` rows joined in. Only the session rows are
        locked (`FOR UPDATE OF`): PostgreSQL refuses to lock the nullable side of the outer joins they need."""
        return self.select_for_update(of=("self",)).select_related(*related)


class Session(models.Model):
    TYPES = [("phone", "Phone"), ("im", "Web chat"), ("voip", "Web audio"), ("video", "Web video"),
             ("internal", "Internal")]
    DIRECTIONS = [("in", "Inbound"), ("out", "Outbound")]
    STATES = [("ivr", "In the IVR"), ("queued", "Queued"), ("ringing", "Ringing"), ("active", "Active"),
              ("ended", "Ended")]
    CLOSE_BY = [("seat", "Agent"), ("client", "Customer"), ("admin", "System")]

    objects = SessionQuerySet.as_manager()

    id = models.CharField(primary_key=True, max_length=64, default=new_session_id, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="sessions")
    type = models.CharField(max_length=8, choices=TYPES)
    direction = models.CharField(max_length=3, choices=DIRECTIONS, default="in")
    state = models.CharField(max_length=8, choices=STATES, default="queued")
    skill_group = models.ForeignKey(SkillGroup, null=True, blank=True, on_delete=models.SET_NULL)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="sessions",
                              help_text="The agent ringing or serving now.")
    caller_agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                     help_text="The agent who placed an internal or outbound call.")
    # callIn fields, by the spec's names.
    caller_phone_number = models.CharField(max_length=64, blank=True)
    callee_phone_number = models.CharField(max_length=64, blank=True)
    caller_location = models.CharField(max_length=128, blank=True)
    remark = models.CharField(max_length=1024, blank=True)
    ivr_path = models.JSONField(default=list, blank=True)
    protected_caller = models.CharField(max_length=64, blank=True)
    protected_callee = models.CharField(max_length=64, blank=True)
    nickname = models.CharField(max_length=128, blank=True)
    avatar = models.CharField(max_length=1024, blank=True)
    peer_source = models.CharField(max_length=128, blank=True)
    channel_name = models.CharField(max_length=128, blank=True)
    client_data = models.CharField(max_length=1024, blank=True)
    callee = models.CharField(max_length=128, blank=True)
    callee_remark = models.CharField(max_length=128, blank=True)
    customer_user_id = models.CharField("userId", max_length=128, blank=True)
    uui = models.CharField(max_length=1024, blank=True)
    transferred_by = models.CharField(max_length=128, blank=True, help_text="userId of a pending transfer's sender.")
    taken_over_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+", help_text="The supervisor serving a web chat or call they took over.")
    # Who started a web chat or call, for the limits on starts and messages (services/visitor_limits.py).
    visitor_id = models.CharField(max_length=64, blank=True, help_text="The web visitor's id, kept by their browser.")
    client_address = models.CharField(max_length=45, blank=True, help_text="The web customer's network address.")
    # Timeline.
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    ring_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_status = models.CharField(max_length=24, blank=True)
    close_by = models.CharField(max_length=6, choices=CLOSE_BY, blank=True)
    duration = models.FloatField(null=True, blank=True, help_text="Seconds from accept to end.")
    # Deadlines, swept.
    ivr_deadline = models.DateTimeField(null=True, blank=True, help_text="The latest a caller leaves the IVR.")
    line_deadline = models.DateTimeField(null=True, blank=True,
                                         help_text="A trunk call's: the latest its SIP gateway confirms it carries it.")
    offer_deadline = models.DateTimeField(null=True, blank=True)
    queue_deadline = models.DateTimeField(null=True, blank=True)
    # Call controls kept for the media layer.
    on_hold = models.BooleanField(default=False)
    mic_muted = models.BooleanField(default=False, help_text="The serving agent's microphone.")
    caller_mic_muted = models.BooleanField(default=False, help_text="The calling agent's, in an internal call.")
    media_worker = models.CharField(max_length=32, blank=True, help_text="The media worker carrying its legs.")
    video_muted = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "skill_group", "queued_at"]),
                   models.Index(fields=["offer_deadline"]), models.Index(fields=["queue_deadline"]),
                   models.Index(fields=["ivr_deadline"], name="session_ivr_deadline"),
                   models.Index(fields=["line_deadline"], name="session_line_deadline"),
                   models.Index(fields=["visitor_id", "created_at"]), models.Index(fields=["client_address", "created_at"]),
                   # Reports: a tenant's sessions begun within a date range.
                   models.Index(fields=["tenant", "created_at"], name="session_report"),
                   # The wallboard: a tenant's open sessions, a group's sessions queued today and those ended in
                   # the last seconds (services/queue_day.py), read without passing over every day before.
                   models.Index(fields=["tenant", "state"], name="session_open"),
                   models.Index(fields=["skill_group", "queued_at"], name="session_queued_day"),
                   models.Index(fields=["skill_group", "ended_at"], name="session_ended_day"),
                   # The cloud API's CDR pages (services/records.py): a tenant's ended sessions (each has its CDR)
                   # begun within a range, in (created_at, id) order, counted and skipped from the index alone.
                   models.Index(fields=["tenant", "created_at", "id"], include=["type"], name="session_cdr_page",
                                condition=models.Q(state="ended")),
                   # ... and those of a customer's number (DescribeTelCdr's Phones).
                   models.Index(fields=["tenant", "caller_phone_number"], name="session_caller_number"),
                   models.Index(fields=["tenant", "callee_phone_number"], name="session_callee_number")]

    def __str__(self):
        return f"{self.type} {self.id[:8]}"

    @property
    def is_call(self) -> bool:
        return self.type != "im"


class ServeParticipant(models.Model):
    """One agent offered or serving a session: the rows of the CDR's ServeParticipants."""

    OUTCOMES = [("ringing", "Ringing"), ("accepted", "Accepted"), ("timeout", "Not answered in time"),
                ("rejected", "Rejected"),
                ("cancelled", "Offer withdrawn"), ("transferred", "Transferred away"), ("ended", "Ended")]

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="participants")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="participations")
    skill_group = models.ForeignKey(SkillGroup, null=True, blank=True, on_delete=models.SET_NULL)
    sequence = models.PositiveIntegerField()
    outcome = models.CharField(max_length=12, choices=OUTCOMES, default="ringing")
    ring_at = models.DateTimeField(default=timezone.now)
    accept_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    transfer_from = models.CharField(max_length=128, blank=True, help_text="userId who transferred it here.")
    transfer_to = models.CharField(max_length=128, blank=True, help_text="userId or skill group it went to.")
    completed_at = models.DateTimeField(null=True, blank=True, help_text="After-call work finished.")
    hidden = models.BooleanField(default=False, help_text="Dropped from the agent's list by deleteCall.")

    class Meta:
        ordering = ["session", "sequence"]
        unique_together = [("session", "sequence")]
        indexes = [
            # Accept, reject and hang-up look for an agent's row of one session; SQLite, left to choose between
            # the session and the agent index, may take the agent's and walk the agent's whole history.
            models.Index(fields=["session", "agent"]),
            # After-call work still to finish: a few rows per agent, however long the agent's history.
            models.Index(fields=["agent"], condition=models.Q(completed_at__isnull=True),
                         name="participant_unfinished_work"),
            # Sessions an agent took today, for routing's "fewest served today".
            models.Index(fields=["agent", "accept_at"]),
            # Reports: what each agent was offered within a date range (SQLite probes it agent by agent,
            # PostgreSQL scans the range of the second).
            models.Index(fields=["agent", "ring_at"], name="participant_report"),
            models.Index(fields=["ring_at"], name="participant_ring"),
        ]

    def __str__(self):
        return f"#{self.sequence} {self.agent}: {self.outcome}"


class SessionEvent(models.Model):
    """The read-only timeline supervisors see in admin: what happened to a session, in order."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(default=timezone.now)
    what = models.CharField(max_length=200)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self):
        return self.what


class Cdr(models.Model):
    """A session's call detail record and its push to the tenant's webhook (at least once)."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="cdr")
    push_id = models.UUIDField(default=uuid.uuid4, unique=True)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="Empty once delivered or if no webhook.")
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "CDR"
        indexes = [models.Index(fields=["next_attempt_at"])]

    def __str__(self):
        return f"CDR of {self.session}"


class ChatMessage(models.Model):
    """One message of a web chat, in order (`seq` per session). Sent messages carry the sender's own id
    (`client_id`) so a resend after a reconnect is stored once."""

    SENDERS = [("visitor", "Visitor"), ("agent", "Agent"), ("supervisor", "Supervisor"), ("system", "System")]

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="messages")
    seq = models.PositiveIntegerField()
    sender = models.CharField(max_length=10, choices=SENDERS)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    supervisor_name = models.CharField(max_length=150, blank=True, help_text="Who wrote a supervisor's message.")
    text = models.TextField()
    client_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seq"], name="chat_message_seq"),
            models.UniqueConstraint(fields=["session", "sender", "client_id"], condition=~models.Q(client_id=""),
                                    name="chat_message_client_id"),
        ]

    def __str__(self):
        return f"{self.sender}: {self.text[:40]}"


class ChatReadMark(models.Model):
    """How far each side of a chat has read (read receipts): the highest `seq` seen."""

    session = models.OneToOneField(Session, on_delete=models.CASCADE, related_name="read_mark")
    visitor_seq = models.PositiveIntegerField(default=0)
    agent_seq = models.PositiveIntegerField(default=0)


class CannedResponse(models.Model):
    """A ready answer agents insert from the chat panel."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="canned_responses")
    title = models.CharField(max_length=100)
    text = models.TextField(max_length=2000)

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title


class RestReason(models.Model):
    """A reason agents pick when they take a rest (status picker)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="rest_reasons")
    label = models.CharField(max_length=64)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "label"]
        unique_together = [("tenant", "label")]

    def __str__(self):
        return self.label
