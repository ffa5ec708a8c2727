"""WhiteNoise as an async middleware, so that Django runs the whole middleware chain on the event loop.

WhiteNoise's middleware is sync only. One sync middleware makes Django run the chain on a thread of the
request's own and call async views back through `async_to_sync`: two thread hops per request, and every
`sync_to_async` inside the view then lands on that request's thread, with a database connection of its own
(sessions_app/views/api.py wants its work on the one database thread instead).
"""
from asgiref.sync import markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class AsyncWhiteNoiseMiddleware(WhiteNoiseMiddleware):
    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        super().__init__(get_response)
        markcoroutinefunction(self)

    async def __call__(self, request):
        if self.autorefresh:  # DEBUG: looks on disk
            static_file = await sync_to_async(self.find_file, thread_sensitive=False)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is None:
            return await self.get_response(request)
        # Opens the file (and stats it): off the event loop.
        return await sync_to_async(self.serve, thread_sensitive=False)(static_file, request)
