"""One contact center over several web processes: PostgreSQL, Redis and N daphne processes on them, as a
company that outgrows one process runs it (README, "Several processes").

The first process migrates and seeds; the others only serve. Each process can be killed with kill -9 and
started again on its port, as a supervisor (systemd, a container runtime) would restart it.
"""
from __future__ import annotations

import itertools

import psycopg

from .liveserver import LiveServer
from .postgres_server import PostgresServer
from .redis_server import RedisServer

_databases = itertools.count(1)


class Cluster:
    def __init__(self, postgres: PostgresServer, redis: RedisServer, processes: int = 2, env: dict | None = None,
                 behind_proxy: bool = False):
        self.database_url = postgres.create_database(f"cluster{next(_databases)}")
        self.env = {"DATABASE_URL": self.database_url, "REDIS_URL": redis.url, **(env or {})}
        self.servers = [LiveServer(env=self.env, behind_proxy=behind_proxy) for _ in range(processes)]

    def start(self) -> "Cluster":
        first = self.servers[0].start()
        for server in self.servers[1:]:
            server.start(demo=first.demo)
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def log_marks(self) -> list[int]:
        """Where each process's log ends now, for `print_logs_since`."""
        return [server.log_path.stat().st_size if server.log_path.exists() else 0 for server in self.servers]

    def print_logs_since(self, marks: list[int], most: int = 6000) -> None:
        """The end of what each process logged since `marks`; pytest shows it when the test fails (a crash
        test's failure in CI otherwise leaves nothing to read: the logs go with the temporary folder)."""
        for index, (server, mark) in enumerate(zip(self.servers, marks)):
            with open(server.log_path, errors="replace") as log:
                log.seek(mark)
                print(f"--- process {index} ({server.url}) logged during the test ---\n{log.read()[-most:]}")

    def sql(self, query: str, *params) -> list[tuple]:
        """Rows of a query on the cluster's database, read the way an operator would check it."""
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            cursor = connection.execute(query, params)
            return cursor.fetchall() if cursor.description else []

    def count(self, table: str, where: str = "TRUE", *params) -> int:
        return self.sql(f"SELECT count(*) FROM sessions_app_{table} WHERE {where}", *params)[0][0]

    def __getitem__(self, index: int) -> LiveServer:
        return self.servers[index]


def phone_session(server) -> str:
    """A phone session created through `POST /api/sessions` on `server` (a process, or the balancer)."""
    group = str(server.demo["skillGroups"]["phone"])
    return server.api("POST", "/api/sessions", {"type": "phone", "skillGroupId": group,
                                               "callerPhoneNumber": "13800000000",
                                               "calleePhoneNumber": "4008000000"})["sessionId"]
