"""A throwaway PostgreSQL cluster for tests: initdb in a temporary directory,
listening on a Unix socket only (no TCP port at all), stopped and removed
afterwards. The server refuses to run as root, so as root it runs as the
``postgres`` user."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path


class NoPostgres(RuntimeError):
    pass


def pg_bin() -> Path:
    """The directory of ``initdb`` and ``pg_ctl`` (on the PATH, or Debian's)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent  # Debian links it from its own directory
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if versions:
        return Path(versions[0]).parent
    raise NoPostgres("PostgreSQL's initdb is not installed (apt-get install postgresql)")


class Cluster:
    def __init__(self) -> None:
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="ingest-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)

    def _server(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> Cluster:
        self._server("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = f"-c listen_addresses='' -k {self.socket_dir} -c fsync=off"
        self._server(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "log"),
            "-o",
            options,
            "-w",
            "start",
        )
        return self

    def create_database(self, name: str) -> str:
        """A new database; its connection string."""
        subprocess.run(
            [str(self.bin / "createdb"), "-h", str(self.socket_dir), "-U", "postgres", name],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return self.conninfo(name)

    def conninfo(self, database: str) -> str:
        return f"dbname={database} host={self.socket_dir} user=postgres"

    def stop(self) -> None:
        try:
            self._server("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
