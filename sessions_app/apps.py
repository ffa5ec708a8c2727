from django.apps import AppConfig


class SessionsAppConfig(AppConfig):
    name = "sessions_app"
    verbose_name = "Contact center"

    def ready(self):
        from . import receivers

        receivers.connect()
