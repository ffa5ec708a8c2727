from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Contact center"

    def ready(self):
        from django.db.models.signals import post_migrate

        from . import checks  # noqa: F401  (registers the deploy check)
        from . import receivers, roles

        receivers.connect()
        post_migrate.connect(roles.make_roles_after_migrate, sender=self)
