"""A TCP balancer for tests: what nginx or HAProxy does in front of several web processes, and no more.

Each new connection goes to the next backend in turn that accepts it (a dead one is skipped), with no
stickiness; bytes are copied both ways until either side closes. It remembers which backend took each
request, by the request line's path, so a test can kill the process holding an agent's websocket.
"""
from __future__ import annotations

import asyncio
import itertools
import threading

from .liveserver import LiveServer


class Balancer:
    def __init__(self, servers: list[LiveServer]):
        self.servers = servers
        self.demo = servers[0].demo
        self.taken: list[tuple[str, LiveServer]] = []  # (request line, backend), in order
        self._turn = itertools.count()
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(ready,), name="balancer", daemon=True)
        self.thread.start()
        ready.wait(5)
        self.url = f"http://127.0.0.1:{self.port}"

    # The same helpers as a server's, reaching whichever process the balancer picks.
    token = LiveServer.token
    api = LiveServer.api

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    def backend_of(self, path_prefix: str) -> LiveServer:
        """The backend that took the latest request whose path starts with `path_prefix`."""
        return next(server for line, server in reversed(self.taken) if line.split(" ")[1].startswith(path_prefix))

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        first = await client_reader.read(65536)
        if not first:
            client_writer.close()
            return
        for _ in self.servers:
            server = self.servers[next(self._turn) % len(self.servers)]
            try:
                backend_reader, backend_writer = await asyncio.open_connection("127.0.0.1", server.port)
                break
            except OSError:
                continue  # this process is down: the next one
        else:
            client_writer.close()
            return
        self.taken.append((first.split(b"\r\n", 1)[0].decode("latin-1"), server))
        backend_writer.write(first)
        await asyncio.gather(self._pipe(client_reader, backend_writer), self._pipe(backend_reader, client_writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    def stop(self) -> None:
        async def shut():
            self.server.close()
            relays = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in relays:
                task.cancel()
            await asyncio.gather(*relays, return_exceptions=True)
            self.loop.stop()

        asyncio.run_coroutine_threadsafe(shut(), self.loop)
        self.thread.join(5)
