"""`manage.py check --deploy`: the development SECRET_KEY is public, in any mode.

Django's own check (security.W009) passes it, being long and varied; but it is in the repository, so anyone can
sign login and resume tokens for any agent with it. Production mode refuses it outright (workbench/production.py).
"""
from django.conf import settings
from django.core.checks import Error, Tags, register

from workbench.production import DEV_SECRET_KEY, NEW_KEY


@register(Tags.security, deploy=True)
def secret_key_is_not_the_public_one(app_configs, **kwargs):
    if settings.SECRET_KEY != DEV_SECRET_KEY:
        return []
    return [Error("SECRET_KEY is the development key published in the repository: anyone can forge login and "
                  "resume tokens with it.", hint=f"Set SECRET_KEY to a long random secret, e.g. {NEW_KEY}",
                  id="sessions_app.E001")]
