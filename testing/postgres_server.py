"""A real PostgreSQL for tests (Debian's postgresql): a fresh cluster in a temporary folder, listening on a
free loopback port with trust authentication, no fsync (a test cluster need not survive the machine), stopped
and removed at the end.

PostgreSQL refuses to run as root, so when the tests run as root (CI does) the cluster runs as the `postgres`
account the Debian package creates.
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile

from .liveserver import free_port


def postgres_bin() -> str | None:
    """The newest installed server's bin folder (Debian keeps them in /usr/lib/postgresql/<version>/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


class PostgresServer:
    def __init__(self, database: str = "tccc"):
        self.port = free_port()
        self.database = database
        self.user = "tccc"
        self.url = self.url_of(database)
        self.folder = tempfile.mkdtemp(prefix="tccc-postgres-")
        self.data = os.path.join(self.folder, "data")
        self.bin = postgres_bin()
        self.started = False

    def _run(self, *command: str) -> None:
        runner = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*runner, *command], check=True, capture_output=True, text=True)

    def start(self) -> "PostgresServer":
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        self._run(f"{self.bin}/initdb", "-D", self.data, "-U", self.user, "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-w", "-t", "30", "-l", os.path.join(self.folder, "log"),
                  "-o", f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} -c fsync=off "
                        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
                  "start")
        self.started = True
        self.create_database(self.database)
        return self

    def url_of(self, database: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, database: str) -> str:
        """A new empty database on this server; returns its DATABASE_URL."""
        self._run(f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, database)
        return self.url_of(database)

    def stop(self) -> None:
        if self.started:
            try:
                self._run(f"{self.bin}/pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop")
            except subprocess.CalledProcessError:
                pass
            self.started = False
        shutil.rmtree(self.folder, ignore_errors=True)
