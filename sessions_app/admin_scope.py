"""What a staff account may see and change in admin: a supervisor of one tenant sees that tenant's rows alone, a
superuser sees every tenant's, and the few models that belong to no tenant (Django's users and groups, the
sign-in lockouts, the caller locations shared by all tenants) are changed by superusers only.

Every admin of a tenant's rows inherits `TenantScoped`, which scopes the one queryset Django admin reads through
(lists, change, delete and history pages, actions, raw-id popups, autocomplete), the choices of every foreign key
and list filter, and sets the tenant of a row a supervisor adds. Which tenant a row belongs to is found from the
model itself (`tenant_path`), so a new model with a `tenant` key, or a key to a model that has one, is covered
without a word here. Secret columns (API keys, signing secrets, passwords and their hashes) are never filtered
on, not even through a relation (`?account__password__startswith=` would read an agent's password hash).
"""
from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q
from django.http import Http404

from .models import CloudKey, Tenant, Trunk
from .services.supervisors import tenant_of, tenants_visible_to

SECRET_FIELDS = {(Tenant, "api_key"), (Tenant, "cdr_secret"), (Trunk, "password"), (Trunk, "inbound_password"),
                 (CloudKey, "sealed_secret_key"), (get_user_model(), "password")}


def tenant_path(model: type[Model], depth: int = 3) -> str | None:
    """The lookup from `model` to its tenant ("pk" for a tenant, "tenant", "session__tenant"...), or None for a
    model of no tenant. A direct `tenant` key wins; otherwise the first key to a model that has a tenant."""
    if model is Tenant:
        return "pk"
    keys = [field for field in model._meta.get_fields()
            if field.many_to_one and field.concrete or field.one_to_one and field.concrete]
    for field in keys:
        if field.related_model is Tenant:
            return field.name
    if depth:
        for field in keys:
            further = tenant_path(field.related_model, depth - 1)
            if further and field.related_model is not model:
                return f"{field.name}__{further}"
    return None


def in_tenants_of(user, model: type[Model]) -> Q:
    """The condition that keeps `model`'s rows to the tenants `user` may see."""
    return Q(**{f"{tenant_path(model)}__in": tenants_visible_to(user)})


def accounts_of_tenants_of(user):
    """The Django accounts a supervisor may name: their tenant's agents' and supervisors' (never a superuser's)."""
    tenants = tenants_visible_to(user)
    return get_user_model().objects.filter(Q(agent__tenant__in=tenants) | Q(supervisor__tenant__in=tenants),
                                           is_superuser=False)


def masked(secret: str) -> str:
    """A secret as admin shows it after it was made: enough to tell two apart, never enough to use."""
    return f"•••• {secret[-4:]}" if secret else "-"


def names_a_secret(model: type[Model], lookup: str) -> bool:
    """Whether a changelist lookup (`tenant__api_key__startswith`) reads a secret column along its way."""
    for part in lookup.split("__"):
        if (model, part) in SECRET_FIELDS:
            return True
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False
        if not field.is_relation:
            return False
        model = field.related_model
    return False


class ScopedForms:
    """Foreign-key and many-to-many choices limited to the user's tenants (for admins and inlines alike); a
    supervisor's own tenant is set, not chosen, on what they add."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is None or request.user.is_superuser:
            return field
        related = db_field.remote_field.model
        if related is get_user_model():
            field.queryset = field.queryset.filter(pk__in=accounts_of_tenants_of(request.user))
        elif tenant_path(related):
            field.queryset = field.queryset.filter(in_tenants_of(request.user, related))
        if related is Tenant:
            field.initial, field.disabled = tenant_of(request.user), True
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        related = db_field.remote_field.model
        if field is not None and not request.user.is_superuser and tenant_path(related):
            field.queryset = field.queryset.filter(in_tenants_of(request.user, related))
        return field


class TenantScoped(ScopedForms):
    """The mixin of every admin of a tenant's rows: see the module's docstring."""

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(in_tenants_of(request.user, self.model))

    def get_object(self, request, object_id, from_field=None):
        """404 for a row of another tenant, as for one that does not exist: the two look alike from outside."""
        found = super().get_object(request, object_id, from_field)
        if found is None:
            raise Http404(f"No {self.opts.verbose_name} with that id.")
        return found

    def get_list_filter(self, request):
        """A related filter offers the rows of the user's tenants only (those the list's rows point to)."""
        filters = super().get_list_filter(request)
        if request.user.is_superuser:
            return filters
        return [(entry, admin.RelatedOnlyFieldListFilter) if isinstance(entry, str) and self._is_relation(entry)
                else entry for entry in filters]

    def lookup_allowed(self, lookup, value, request=None):
        if names_a_secret(self.model, lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    def _is_relation(self, name: str) -> bool:
        try:
            return self.model._meta.get_field(name).is_relation
        except FieldDoesNotExist:
            return False


class ScopedInline(ScopedForms):
    """The mixin of every inline of a tenant's rows: its own foreign keys offer the tenant's rows only (the rows
    shown are the parent's, which is scoped already)."""


class SharedByAllTenants:
    """A model every tenant uses alike (the caller locations): a supervisor may read it, only a superuser may
    change it, since a change would change every tenant's."""

    def has_add_permission(self, request, *args):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class WrittenByTheServer:
    """A log the server writes (the audit log, the cloud API's calls): read in admin, never added, changed or
    deleted there."""

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class SuperusersOnly:
    """An admin of accounts or of the whole server: shown to superusers alone, whatever permissions a staff
    account was given (a supervisor given `change_user` would otherwise make themselves a superuser)."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, *args):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


def restrict_to_superusers(site: admin.AdminSite, *models: type[Model]) -> None:
    """Register `models`' admins again (Django's user and group admins, django-axes'), for superusers only."""
    for model in models:
        if model in site._registry:
            current = type(site._registry[model])
            site.unregister(model)
            site.register(model, type(current.__name__, (SuperusersOnly, current), {}))
