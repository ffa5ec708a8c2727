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
    def __init__(self, postgres: PostgresServer, redis: RedisServer, processes: int = 2, env: dict | None = None):
        self.database_url = postgres.create_database(f"cluster{next(_databases)}")
        self.env = {"DATABASE_URL": self.database_url, "REDIS_URL": redis.url, **(env or {})}
        self.servers = [LiveServer(env=self.env) for _ in range(processes)]

    def start(self) -> "Cluster":
        first = self.servers[0].start()
        for server in self.servers[1:]:
            server.start(demo=first.demo)
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

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
