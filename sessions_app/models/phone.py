"""The phone channel's configuration: the SIP trunk, hotline numbers and their IVR menus, the table that
tells a caller's location from their number's prefix, and the protected ids of number mapping."""
from django.core.exceptions import ValidationError
from django.db import models

from ..domain import inbound
from .core import SkillGroup, Tenant

DTMF_KEYS = [(k, k) for k in "1234567890*#"]


class Trunk(models.Model):
    """A SIP trunk: where outbound INVITEs go and the credentials for its digest challenges; and, for calls in,
    the addresses it calls from and the credentials it must prove (who may call: `domain.inbound`)."""

    TRANSPORTS = [("udp", "UDP"), ("tcp", "TCP")]

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="trunks")
    name = models.CharField(max_length=100)
    host = models.CharField(max_length=255, help_text="The provider's SIP server (name or address).")
    port = models.PositiveIntegerField(default=5060)
    transport = models.CharField(max_length=3, choices=TRANSPORTS, default="udp")
    username = models.CharField(max_length=128, blank=True, help_text="For the provider's digest challenges.")
    password = models.CharField(max_length=128, blank=True)
    enabled = models.BooleanField(default=True)
    allowed_sources = models.TextField(
        blank=True, help_text="Addresses and CIDRs the trunk sends its INVITEs from, separated by commas or lines "
                              "(203.0.113.5, 198.51.100.0/24; 0.0.0.0/0, ::/0 for anywhere). With none here nor in "
                              "SIP_ALLOW, only this machine may call.")
    inbound_username = models.CharField(max_length=128, blank=True,
                                        help_text="If set, INVITEs from this trunk must answer a digest challenge "
                                                  "with this username and the password below.")
    inbound_password = models.CharField(max_length=128, blank=True)

    def clean(self):
        try:
            inbound.parse_sources(self.allowed_sources)
        except inbound.SourceListError as error:
            raise ValidationError({"allowed_sources": str(error)}) from None
        if bool(self.inbound_username) != bool(self.inbound_password):
            raise ValidationError({"inbound_password": "Inbound credentials are a username and a password: "
                                                       "give both, or neither."})
        if self.inbound_username and not self.allowed_sources.strip():
            raise ValidationError({"allowed_sources": "Inbound credentials apply to the calls from the trunk's "
                                                      "sources: name them (0.0.0.0/0, ::/0 for anywhere)."})

    def __str__(self):
        return f"{self.name} ({self.host}:{self.port}/{self.transport})"


class IvrMenu(models.Model):
    """One menu of the IVR: a prompt, then the caller's key leads to another menu or a skill group's queue."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ivr_menus")
    name = models.CharField(max_length=100)
    prompt_text = models.TextField(blank=True, help_text="Spoken by espeak-ng when no audio file is uploaded.")
    prompt_audio = models.FileField(upload_to="ivr/", blank=True, help_text="A WAV file; replaces the text.")
    prompt_upload = models.ForeignKey("IvrAudio", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                      verbose_name="uploaded prompt",
                                      help_text="Or a file uploaded through the cloud API (UploadIvrAudio), played "
                                                "when no WAV file is given here.")
    timeout_seconds = models.PositiveIntegerField(default=5, help_text="Wait this long for a key after the prompt.")
    max_retries = models.PositiveIntegerField(default=2, help_text="Prompts repeated on no or an invalid key.")
    invalid_text = models.CharField(max_length=255, default="Sorry, that is not one of the choices.")
    goodbye_text = models.CharField(max_length=255, default="Goodbye.")

    def clean(self):
        if self.prompt_upload_id and self.tenant_id and self.prompt_upload.tenant_id != self.tenant_id:
            raise ValidationError({"prompt_upload": "That audio file belongs to another tenant."})

    def __str__(self):
        return self.name


class IvrKey(models.Model):
    menu = models.ForeignKey(IvrMenu, on_delete=models.CASCADE, related_name="keys")
    key = models.CharField(max_length=1, choices=DTMF_KEYS)
    label = models.CharField(max_length=64, help_text="What the key means; becomes ivrPath's label.")
    next_menu = models.ForeignKey(IvrMenu, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    skill_group = models.ForeignKey(SkillGroup, null=True, blank=True, on_delete=models.SET_NULL,
                                    limit_choices_to={"kind": "phone"})

    class Meta:
        constraints = [models.UniqueConstraint(fields=["menu", "key"], name="one_choice_per_key")]
        ordering = ["menu", "key"]

    def clean(self):
        if bool(self.next_menu_id) == bool(self.skill_group_id):
            raise ValidationError("A key leads to exactly one of: another menu, or a skill group.")

    def __str__(self):
        return f"{self.key}: {self.label}"


class Hotline(models.Model):
    """A number customers call: the trunk delivers INVITEs to it, and it starts an IVR menu or a queue."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="hotlines")
    number = models.CharField(max_length=64, unique=True)
    ivr_menu = models.ForeignKey(IvrMenu, null=True, blank=True, on_delete=models.SET_NULL)
    skill_group = models.ForeignKey(SkillGroup, null=True, blank=True, on_delete=models.SET_NULL,
                                    limit_choices_to={"kind": "phone"}, help_text="Without an IVR menu: this queue.")

    def clean(self):
        if not self.ivr_menu_id and not self.skill_group_id:
            raise ValidationError("A hotline starts an IVR menu or goes to a skill group.")

    def __str__(self):
        return self.number


class NumberLocation(models.Model):
    """Where numbers starting with `prefix` are from: the callIn's callerLocation (longest prefix wins)."""

    prefix = models.CharField(max_length=32, unique=True)
    location = models.CharField(max_length=128)

    def __str__(self):
        return f"{self.prefix}: {self.location}"


class ProtectedNumber(models.Model):
    """Number mapping: the id agents see and dial in place of a customer's real number."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="protected_numbers")
    number = models.CharField(max_length=64)
    protected_id = models.CharField(max_length=64, unique=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "number"], name="one_id_per_number")]

    def __str__(self):
        return self.protected_id


class IvrAudio(models.Model):
    """An audio file for IVR prompts, uploaded through the cloud API (UploadIvrAudio): fetched from the URL given,
    decoded and stored as a WAV in the storage IVR menus' prompts use (`ivr/`). Its id is Tencent's FileId."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="ivr_audios")
    custom_file_name = models.CharField(max_length=255, help_text="The name the uploader gave it (need not be unique).")
    audio = models.FileField(upload_to="ivr/")
    source_url = models.CharField(max_length=2048, help_text="Where it was fetched from.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant", "pk"]

    def __str__(self):
        return self.custom_file_name
