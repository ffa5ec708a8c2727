"""Production mode (`DJANGO_ENV=production`): what it refuses, and when.

It refuses at the two moments daphne itself goes through, because daphne runs no system checks (only
`manage.py` commands do): importing the settings (the laptop defaults: the public development SECRET_KEY, no
ALLOWED_HOSTS, DEBUG, a plain-http PUBLIC_URL), and loading the ASGI application (the demo tenant's published
API key and passwords, which live in the database). Each refusal is an ImproperlyConfigured that names what to
set, so daphne, `manage.py` and a systemd unit all stop with that message instead of serving.

`manage.py check --deploy` reports the development SECRET_KEY in any mode (sessions_app/checks.py).
"""
from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

DEV_SECRET_KEY = "dev-only-secret-key-change-me-in-production-0123456789"
MODES = {"": False, "development": False, "production": True}
NEW_KEY = "python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"


def is_production(django_env: str) -> bool:
    if django_env not in MODES:
        raise ImproperlyConfigured(f"DJANGO_ENV={django_env!r} is not a mode: use DJANGO_ENV=production, or leave "
                                   "it unset for development")
    return MODES[django_env]


def settings_problems(*, secret_key: str, allowed_hosts: list[str], debug: bool, public_url: str) -> list[str]:
    """What in these settings production mode refuses, each saying what to set instead."""
    problems = []
    if not secret_key or secret_key == DEV_SECRET_KEY:
        problems.append(f"SECRET_KEY is {'unset' if not secret_key else 'the public development key'}: set it to "
                        f"a long random secret, the same in every process (e.g. {NEW_KEY})")
    elif len(secret_key) < 50 or len(set(secret_key)) < 5 or "CHANGE-ME" in secret_key:
        # Django's own deploy check (security.W009) calls such a key weak; a placeholder left in the example
        # environment file is one.
        problems.append(f"SECRET_KEY is too weak (under 50 characters, or a placeholder): set it to a long random "
                        f"secret (e.g. {NEW_KEY})")
    if not allowed_hosts:
        problems.append("ALLOWED_HOSTS is empty: set it to the host names the server is reached at, comma-separated "
                        "(e.g. ALLOWED_HOSTS=cc.example.com)")
    if debug:
        problems.append("DEBUG=1 shows settings and code to anyone who causes an error: unset it")
    if public_url and not public_url.startswith("https://"):
        problems.append(f"PUBLIC_URL={public_url!r} is not https: set it to the https address users reach "
                        "(e.g. PUBLIC_URL=https://cc.example.com)")
    return problems


def refuse(problems: list[str]) -> None:
    if problems:
        raise ImproperlyConfigured("DJANGO_ENV=production refuses to start:\n  - " + "\n  - ".join(problems))


def refuse_demo_secrets() -> None:
    """Refuse to serve a database in which the demo tenant's published API key or password still works. Called
    when the ASGI application loads, after Django is set up; the database must be migrated by then."""
    from django.db import DatabaseError, connection

    from sessions_app.services.demo_secrets import demo_secrets_in_use

    try:
        in_use = demo_secrets_in_use()
    except DatabaseError as failed:
        raise ImproperlyConfigured(f"DJANGO_ENV=production checks the database for the demo secrets before "
                                   f"serving and could not read it ({failed}): is it up, and migrated "
                                   "(manage.py migrate)?") from None
    finally:
        connection.close()  # this thread serves no requests: its connection would only idle
    refuse(in_use)
