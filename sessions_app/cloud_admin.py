"""Django admin for Tencent's cloud API (sessions_app/cloud/): a tenant's key pairs, made here with their SecretKey
shown once (in the message after "Save", kept in the server-side session, never in a cookie) and masked on every
page after; revoked from the list (an action) or the key's page ("Revoke"), never deleted, so the call log keeps
naming them. The call log is read-only: one row per request, with the SecretId it named and never a secret.

Administrators make and revoke their tenant's keys; supervisors read the call log (sessions_app/roles.py); both
are scoped to their tenant like every tenant's rows (admin_scope.py).
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect

from .admin_scope import TenantScoped, WrittenByTheServer, masked
from .models import CloudApiCall, CloudKey
from .services import cloud_keys
from .services.errors import NotFound

KEY_FIELDS = ["secret_id", "secret_key_masked", "name", "tenant", "created_at", "created_by", "last_used_at",
              "revoked_at"]


@admin.register(CloudKey)
class CloudKeyAdmin(TenantScoped, admin.ModelAdmin):
    list_display = ["secret_id", "name", "tenant", "created_at", "last_used_at", "active"]
    list_filter = ["tenant", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["tenant"]
    search_fields = ["secret_id", "name"]
    actions = ["revoke"]
    change_form_template = "admin/sessions_app/cloudkey/change_form.html"

    def get_fields(self, request, obj=None):
        return ["tenant", "name"] if obj is None else KEY_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [field for field in KEY_FIELDS if field != "name"]

    def has_delete_permission(self, request, obj=None):
        return False  # revoked instead: the call log goes on naming the key

    @admin.display(description="active", boolean=True)
    def active(self, key):
        return key.active

    @admin.display(description="SecretKey")
    def secret_key_masked(self, key):
        return f"{masked(cloud_keys.secret_key(key) or '')} (shown once, when the pair was made)"

    def save_model(self, request, obj, form, change):
        """A new pair is made by the service (its SecretId and sealed SecretKey are the server's, not typed);
        its SecretKey is kept on the object for `response_add` to show once."""
        if change:
            return super().save_model(request, obj, form, change)
        made, secret_key = cloud_keys.make(obj.tenant, obj.name, created_by=request.user)
        for field in CloudKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(made, field.attname))
        obj._state.adding = False
        obj.shown_once = secret_key

    def response_add(self, request, obj, post_url_continue=None):
        self.message_user(request, f"New key pair of {obj.tenant}: SecretId {obj.secret_id}, SecretKey: "
                                   f"{obj.shown_once}. Copy it now: it is not shown again.", messages.WARNING)
        return super().response_add(request, obj, post_url_continue)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and object_id and "_revoke" in request.POST:
            key = self.get_object(request, object_id)  # 404 for another tenant's
            if not self.has_change_permission(request, key):
                return super().changeform_view(request, object_id, form_url, extra_context)  # refused there
            self._revoke(request, [key])
            return HttpResponseRedirect(request.path)
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.action(description="Revoke (the pair signs nothing from now on)", permissions=["change"])
    def revoke(self, request, queryset):
        self._revoke(request, queryset.filter(revoked_at__isnull=True))

    def _revoke(self, request, keys) -> None:
        revoked = []
        for key in keys:
            try:
                cloud_keys.revoke(key_id=key.pk)
            except NotFound:
                continue  # revoked already, meanwhile
            self.log_change(request, key, "Revoked")
            revoked.append(key.secret_id)
        if revoked:
            self.message_user(request, f"Revoked: {', '.join(revoked)}.", messages.SUCCESS)
        else:
            self.message_user(request, "Nothing to revoke: the key pair was revoked already.", messages.WARNING)


@admin.register(CloudApiCall)
class CloudApiCallAdmin(TenantScoped, WrittenByTheServer, admin.ModelAdmin):
    list_display = ["at", "action", "outcome", "secret_id", "tenant", "address", "milliseconds", "request_id"]
    list_filter = ["outcome", "action", "tenant"]
    list_select_related = ["tenant"]
    search_fields = ["=secret_id", "=request_id"]
    date_hierarchy = "at"
