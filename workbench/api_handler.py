"""Django's ASGI handler for the server API (`/api/`), without the browser pages' middleware or request signals.

Sessions, CSRF, authentication, messages, clickjacking and htmx mean nothing to a server-to-server call with
an API key, and each of their sync hooks costs the request a hop to a thread of the request's own (Django
runs sync middleware that way under ASGI): ~2 ms of ~20 ms of CPU per session in `bench/callin_latency.py`.
SecurityMiddleware stays, so the API keeps the site's HTTPS redirect and security headers, but runs on the
event loop (`SecurityHeaders`).

Nor does an API request get a thread of its own: Django's handler gives each request a context in which
`sync_to_async` starts a new thread, and the event loop waits for every such thread to start (~1 ms of ~16 ms
of CPU per session, and every websocket stalled meanwhile).

Nor does it send `request_started` and `request_finished`. Their receivers (Django's: close stale database
connections, reset the query log, close caches, reset the URLconf) are sync, so each send is a hop to the
process's one database thread, where it queues behind other sessions' work: at 40 sessions/s over two
processes, the request_started hop and SecurityMiddleware's (below) held a POST 22 ms at p50 and 121 ms at
p99 before its view ran. The API's views do their database work through `sessions_app/views/api.py`'s
`on_database_thread` (channels' DatabaseSyncToAsync), which closes stale connections before and after each
call itself.
"""
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.exceptions import RequestAborted
from django.middleware.security import SecurityMiddleware
from django.test.utils import override_settings
from django.urls import set_script_prefix


class SecurityHeaders(SecurityMiddleware):
    """SecurityMiddleware with its hooks called on the event loop. They only read settings and the request and
    set headers, but Django's async path (MiddlewareMixin.__acall__) runs each through `sync_to_async`, a hop
    to the database thread before the view and another after it, queued behind sessions' work like the
    request signals above."""
    sync_capable = False

    async def __acall__(self, request):
        response = self.process_request(request)
        response = response or await self.get_response(request)
        return self.process_response(request, response)


API_MIDDLEWARE = ["workbench.api_handler.SecurityHeaders"]


class ApiHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        # Django builds the chain from settings.MIDDLEWARE alone; this handler's chain is built from its own list.
        with override_settings(MIDDLEWARE=API_MIDDLEWARE):
            super().load_middleware(is_async)

    async def __call__(self, scope, receive, send):
        # ASGIHandler.__call__ without its ThreadSensitiveContext (see above); the router sends only HTTP here.
        await self.handle(scope, receive, send)

    async def handle(self, scope, receive, send):
        """ASGIHandler.handle without the request signals (see above). A client that leaves early is not
        watched for: the view's database work finishes either way, and daphne drops a reply to a closed
        connection."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            response = error_response if request is None else await self.run_get_response(request)
            await self.send_response(response, send)
        finally:
            body_file.close()
