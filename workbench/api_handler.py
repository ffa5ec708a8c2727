"""Django's ASGI handler for the server API (`/api/`), without the browser pages' middleware.

Sessions, CSRF, authentication, messages, clickjacking and htmx mean nothing to a server-to-server call with
an API key, and each of their sync hooks costs the request a hop to a thread of the request's own (Django
runs sync middleware that way under ASGI): ~2 ms of ~20 ms of CPU per session in `bench/callin_latency.py`.
SecurityMiddleware stays, so the API keeps the site's HTTPS redirect and security headers.
"""
from django.core.handlers.asgi import ASGIHandler
from django.test.utils import override_settings

API_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]


class ApiHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        # Django builds the chain from settings.MIDDLEWARE alone; this handler's chain is built from its own list.
        with override_settings(MIDDLEWARE=API_MIDDLEWARE):
            super().load_middleware(is_async)
