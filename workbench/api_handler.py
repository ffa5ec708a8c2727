"""Django's ASGI handler for the server API (`/api/`), without the browser pages' middleware.

Sessions, CSRF, authentication, messages, clickjacking and htmx mean nothing to a server-to-server call with
an API key, and each of their sync hooks costs the request a hop to a thread of the request's own (Django
runs sync middleware that way under ASGI): ~2 ms of ~20 ms of CPU per session in `bench/callin_latency.py`.
SecurityMiddleware stays, so the API keeps the site's HTTPS redirect and security headers.

Nor does an API request get a thread of its own: Django's handler gives each request a context in which
`sync_to_async` starts a new thread (for its request_started/request_finished signals here, the views' work
being on the database thread already, `sessions_app/views/api.py`), and the event loop waits for every such
thread to start: ~1 ms of ~16 ms of CPU per session, and every websocket stalled meanwhile. Without that
context those few sync calls run on the process's one database thread, whose connection they look after.
"""
from django.core.handlers.asgi import ASGIHandler
from django.test.utils import override_settings

API_MIDDLEWARE = ["django.middleware.security.SecurityMiddleware"]


class ApiHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        # Django builds the chain from settings.MIDDLEWARE alone; this handler's chain is built from its own list.
        with override_settings(MIDDLEWARE=API_MIDDLEWARE):
            super().load_middleware(is_async)

    async def __call__(self, scope, receive, send):
        # ASGIHandler.__call__ without its ThreadSensitiveContext (see above); the router sends only HTTP here.
        await self.handle(scope, receive, send)
