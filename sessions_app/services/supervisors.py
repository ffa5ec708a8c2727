"""Which tenant a staff account works for: a supervisor's (their `Supervisor` row), an agent's own when their
account is staff too, or every tenant for a superuser. Admin, the wallboard and the reports scope every query
by it, so a supervisor of one company never reads or changes another's."""
from __future__ import annotations

from django.db.models import QuerySet

from ..models import Agent, Supervisor, Tenant


def tenants_visible_to(user) -> QuerySet[Tenant]:
    """The tenants `user` may see and change: all for a superuser, their own for a supervisor (or a staff agent),
    none for anybody else."""
    if not user.is_active or not user.is_staff:
        return Tenant.objects.none()
    if user.is_superuser:
        return Tenant.objects.all()
    tenant_id = (Supervisor.objects.filter(account=user).values_list("tenant_id", flat=True).first()
                 or Agent.objects.filter(account=user).values_list("tenant_id", flat=True).first())
    return Tenant.objects.filter(pk=tenant_id) if tenant_id else Tenant.objects.none()


def tenant_of(user) -> Tenant | None:
    """The one tenant a staff account belongs to; None for a superuser (who picks one) and for an account of none."""
    if user.is_superuser:
        return None
    return tenants_visible_to(user).first()
