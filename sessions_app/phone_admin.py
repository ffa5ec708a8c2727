"""Django admin for the phone channel: the SIP trunk, hotline numbers, IVR menus with their keys, caller
locations by prefix, and the protected ids of number mapping (where supervisors see the real numbers).

Each is scoped to the supervisor's tenant (`admin_scope.py`) but the caller locations, which every tenant shares;
the trunk's passwords are written, never shown again."""
from __future__ import annotations

from django import forms
from django.contrib import admin

from .admin_scope import ScopedInline, SharedByAllTenants, TenantScoped, masked
from .models import Hotline, IvrKey, IvrMenu, NumberLocation, ProtectedNumber, Trunk


class TrunkForm(forms.ModelForm):
    """The trunk's passwords are typed in and never shown again (their last characters only); left empty they
    stay as they are, and go with their username when it is cleared."""

    SECRETS = {"password": "username", "inbound_password": "inbound_username"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for secret in self.SECRETS:
            if secret in self.fields:
                stored = getattr(self.instance, secret)
                self.fields[secret].widget = forms.PasswordInput(
                    render_value=False, attrs={"placeholder": f"{masked(stored)}: empty keeps it" if stored else ""})

    def clean(self):
        cleaned = super().clean()
        for secret, username in self.SECRETS.items():
            if secret not in cleaned:
                continue
            if not cleaned.get(username):
                cleaned[secret] = ""
            elif not cleaned[secret]:
                cleaned[secret] = getattr(self.instance, secret)
        return cleaned


@admin.register(Trunk)
class TrunkAdmin(TenantScoped, admin.ModelAdmin):
    form = TrunkForm
    list_display = ["name", "tenant", "host", "port", "transport", "enabled"]
    list_filter = ["enabled", "transport"]
    fieldsets = [
        (None, {"fields": ["tenant", "name", "enabled"]}),
        ("Calls out", {"fields": [("host", "port", "transport"), ("username", "password")]}),
        ("Calls in", {"fields": ["allowed_sources", ("inbound_username", "inbound_password")],
                      "description": "Who may call the tenant's hotlines through this trunk. SIP_ALLOW's sources "
                                     "may call every tenant's hotlines; with none named here nor there, only this "
                                     "machine may call."}),
    ]


class IvrKeyInline(ScopedInline, admin.TabularInline):
    model = IvrKey
    fk_name = "menu"
    extra = 1
    fields = ["key", "label", "next_menu", "skill_group"]


@admin.register(IvrMenu)
class IvrMenuAdmin(TenantScoped, admin.ModelAdmin):
    list_display = ["name", "tenant", "keys_summary", "timeout_seconds", "max_retries"]
    inlines = [IvrKeyInline]
    fieldsets = [
        (None, {"fields": ["tenant", "name"]}),
        ("Prompt", {"fields": ["prompt_text", "prompt_audio", "prompt_upload"],
                    "description": "An uploaded WAV file is played (or else audio uploaded through the cloud API); "
                                   "otherwise the text is spoken (espeak-ng)."}),
        ("Keys", {"fields": [("timeout_seconds", "max_retries"), "invalid_text", "goodbye_text"]}),
    ]

    @admin.display(description="keys")
    def keys_summary(self, menu: IvrMenu) -> str:
        return ", ".join(f"{key.key} {key.label}" for key in menu.keys.all()) or "none yet"


@admin.register(Hotline)
class HotlineAdmin(TenantScoped, admin.ModelAdmin):
    list_display = ["number", "tenant", "ivr_menu", "skill_group"]
    search_fields = ["number"]


@admin.register(NumberLocation)
class NumberLocationAdmin(SharedByAllTenants, admin.ModelAdmin):
    list_display = ["prefix", "location"]
    search_fields = ["prefix", "location"]


@admin.register(ProtectedNumber)
class ProtectedNumberAdmin(TenantScoped, admin.ModelAdmin):
    list_display = ["protected_id", "number", "tenant"]
    search_fields = ["protected_id", "number"]
    readonly_fields = ["tenant", "number", "protected_id"]

    def has_add_permission(self, request):
        return False  # made by the phone service when a number is first shown to an agent
