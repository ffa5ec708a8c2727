"""The Django accounts of a tenant's people, made in admin where the person is added: a supervisor's (staff, in
the "Supervisor" or "Administrator" group made by migration 0016) on the Supervisor page, an agent's (not staff:
the workbench only) on the Agent page when a supervisor adds one.

Only superusers manage Django users themselves (admin → Users): a supervisor's account is made here with a
username and a password, never picked among the server's accounts, so a supervisor can neither see another
tenant's accounts nor make anyone staff of another tenant or a superuser.
"""
from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import Group

ROLES = ("Supervisor", "Administrator")


class AccountFields(forms.ModelForm):
    """A username and a password making a new account on add; an optional new password on change."""

    staff = False
    username = forms.CharField(max_length=150, required=False, help_text="What the person signs in with.")
    password = forms.CharField(widget=forms.PasswordInput(render_value=False), strip=False, required=False,
                               help_text="On a change: leave empty to keep the current password.")

    def clean_username(self):
        username = self.cleaned_data["username"].strip()
        if self.instance.pk:
            return ""
        if not username:
            raise forms.ValidationError("Give the new account a username.")
        users = get_user_model()
        users.username_validator(username)
        if users.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("That username is taken.")
        return username

    def clean(self):
        cleaned = super().clean()
        password = cleaned.get("password")
        if not password and not self.instance.pk:
            self.add_error("password", "Give the new account a password.")
        elif password:
            account = self.instance.account if self.instance.pk else get_user_model()(
                username=cleaned.get("username") or "")
            try:
                password_validation.validate_password(password, account)
            except forms.ValidationError as error:
                self.add_error("password", error)
        return cleaned

    def save(self, commit=True):
        row = super().save(commit=False)
        password = self.cleaned_data.get("password")
        if not row.pk:
            row.account = get_user_model().objects.create_user(
                self.cleaned_data["username"], password=password, is_staff=self.staff)
        elif password:
            row.account.set_password(password)
            row.account.save()
        if commit:
            row.save()
            self.save_m2m()
        return row


class SupervisorForm(AccountFields):
    """A supervisor's account: staff, never a superuser, in one role."""

    staff = True
    role = forms.ModelChoiceField(queryset=Group.objects.filter(name__in=ROLES), empty_label=None,
                                  help_text="Supervisor: sees the tenant and acts on agents. Administrator: also "
                                            "changes the tenant's configuration and its supervisors.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["role"].initial = self.instance.account.groups.filter(name__in=ROLES).first()

    def save(self, commit=True):
        row = super().save(commit)
        account = row.account
        account.is_staff, account.is_superuser = True, False
        account.save()
        account.groups.remove(*Group.objects.filter(name__in=ROLES))
        account.groups.add(self.cleaned_data["role"])
        return row
