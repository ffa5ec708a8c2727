from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Contact center"

    def ready(self):
        from . import checks  # noqa: F401  (registers the deploy check)
        from . import receivers

        receivers.connect()
