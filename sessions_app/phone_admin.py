"""Django admin for the phone channel: the SIP trunk, hotline numbers, IVR menus with their keys, caller
locations by prefix, and the protected ids of number mapping (where supervisors see the real numbers)."""
from __future__ import annotations

from django.contrib import admin

from .models import Hotline, IvrKey, IvrMenu, NumberLocation, ProtectedNumber, Trunk


@admin.register(Trunk)
class TrunkAdmin(admin.ModelAdmin):
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


class IvrKeyInline(admin.TabularInline):
    model = IvrKey
    fk_name = "menu"
    extra = 1
    fields = ["key", "label", "next_menu", "skill_group"]


@admin.register(IvrMenu)
class IvrMenuAdmin(admin.ModelAdmin):
    list_display = ["name", "tenant", "keys_summary", "timeout_seconds", "max_retries"]
    inlines = [IvrKeyInline]
    fieldsets = [
        (None, {"fields": ["tenant", "name"]}),
        ("Prompt", {"fields": ["prompt_text", "prompt_audio"],
                    "description": "An uploaded WAV file is played; otherwise the text is spoken (espeak-ng)."}),
        ("Keys", {"fields": [("timeout_seconds", "max_retries"), "invalid_text", "goodbye_text"]}),
    ]

    @admin.display(description="keys")
    def keys_summary(self, menu: IvrMenu) -> str:
        return ", ".join(f"{key.key} {key.label}" for key in menu.keys.all()) or "none yet"


@admin.register(Hotline)
class HotlineAdmin(admin.ModelAdmin):
    list_display = ["number", "tenant", "ivr_menu", "skill_group"]
    search_fields = ["number"]


@admin.register(NumberLocation)
class NumberLocationAdmin(admin.ModelAdmin):
    list_display = ["prefix", "location"]
    search_fields = ["prefix", "location"]


@admin.register(ProtectedNumber)
class ProtectedNumberAdmin(admin.ModelAdmin):
    list_display = ["protected_id", "number", "tenant"]
    search_fields = ["protected_id", "number"]
    readonly_fields = ["tenant", "number", "protected_id"]

    def has_add_permission(self, request):
        return False  # made by the phone service when a number is first shown to an agent
