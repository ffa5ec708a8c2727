"""Admin → Reports (`/admin/reports/`): a tenant's figures for a date range, by day or week, with a chart beside
each table and each table as CSV (`/admin/reports/<table>.csv` with the same query).

A supervisor sees their own tenant only (`services/supervisors.py`); a superuser picks one. Every choice is
checked against the tenants the account may see, so a crafted URL reads nothing of another tenant.
"""
from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ..domain.reports import GROUPINGS, MAX_DAYS, RangeRefused
from ..models import Agent, SkillGroup, Tenant
from ..services import reports
from ..services.supervisors import tenants_visible_to
from ..ui.reports import tables


class ReportForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=Tenant.objects.none(), empty_label=None)
    first = forms.DateField(label="From", widget=forms.DateInput(attrs={"type": "date"}))
    last = forms.DateField(label="To", widget=forms.DateInput(attrs={"type": "date"}))
    grouping = forms.ChoiceField(label="By", choices=[(g, g.capitalize()) for g in GROUPINGS])
    skill_group = forms.ModelChoiceField(queryset=SkillGroup.objects.none(), required=False,
                                         empty_label="All skill groups")
    agent = forms.ModelChoiceField(queryset=Agent.objects.none(), required=False, empty_label="All agents")

    def __init__(self, data, *, user):
        super().__init__(data)
        visible = tenants_visible_to(user).order_by("name")
        self.fields["tenant"].queryset = visible
        tenant = visible.filter(pk=data.get("tenant")).first() if str(data.get("tenant", "")).isdigit() else None
        tenant = tenant or visible.first()
        self.fields["skill_group"].queryset = SkillGroup.objects.filter(tenant=tenant).order_by("name")
        self.fields["agent"].queryset = Agent.objects.filter(tenant=tenant).order_by("nickname", "user_id")

    def clean(self):
        cleaned = super().clean()
        first, last = cleaned.get("first"), cleaned.get("last")
        if first and last and last < first:
            raise forms.ValidationError("The range ends before it starts.")
        if first and last and (last - first).days + 1 > MAX_DAYS:
            raise forms.ValidationError(f"A report covers at most {MAX_DAYS} days.")
        return cleaned


def _form(request) -> ReportForm:
    """The query's choices: the account's first tenant by name, and its last seven days, unless chosen."""
    data = request.GET.copy()
    if "tenant" not in data:
        tenant = tenants_visible_to(request.user).order_by("name").first()
        data["tenant"] = str(tenant.pk) if tenant else ""
    if "first" not in data and "last" not in data:
        tenant = tenants_visible_to(request.user).filter(pk=data["tenant"]).first() if data["tenant"].isdigit() else None
        today = timezone.localdate(timezone=ZoneInfo(tenant.time_zone)) if tenant else timezone.localdate()
        data.update({"first": (today - timedelta(days=6)).isoformat(), "last": today.isoformat()})
    data.setdefault("grouping", "day")
    return ReportForm(data, user=request.user)


def _report(form: ReportForm):
    data = form.cleaned_data
    group, agent = data.get("skill_group"), data.get("agent")
    try:
        return reports.report(data["tenant"], data["first"], data["last"], data["grouping"],
                              skill_group_id=group.pk if group else None, agent_id=agent.pk if agent else None)
    except RangeRefused as refused:
        form.add_error(None, str(refused))
        return None


def page(request):
    context = {**admin.site.each_context(request), "title": "Reports", "is_nav_sidebar_enabled": False}
    if not tenants_visible_to(request.user).exists():
        return render(request, "admin/reports.html", {**context, "no_tenant": True}, status=403)
    form = _form(request)
    report = _report(form) if form.is_valid() else None
    context.update(form=form, report=report, tables=tables(report) if report else [],
                   query=form.data.urlencode() if report else "")
    return render(request, "admin/reports.html", context, status=200 if report else 400)


def csv_export(request, table: str):
    if not tenants_visible_to(request.user).exists():
        return HttpResponse("your account belongs to no tenant\n", status=403, content_type="text/plain; charset=utf-8")
    form = _form(request)
    report = _report(form) if form.is_valid() else None
    if report is None:
        return HttpResponse("; ".join(e for errors in form.errors.values() for e in errors) + "\n", status=400,
                            content_type="text/plain; charset=utf-8")
    found = next((t for t in tables(report) if t.slug == table), None)
    if found is None:
        raise Http404(f"no report table {table!r}")
    data = form.cleaned_data
    name = f"{table}-{report.tenant.sdk_app_id}-{data['first']}-{data['last']}.csv"
    response = HttpResponse(found.csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
