"""A throwaway PostgreSQL cluster on a temporary directory and a Unix socket.

The tests and ``locker hub demo`` run a real PostgreSQL from Debian's
``postgresql`` package: ``initdb`` and ``pg_ctl`` under
``/usr/lib/postgresql/<version>/bin``. ``initdb`` refuses to run as root, so
as root the cluster is made and run by the ``postgres`` user (the Debian
package creates it). Nothing listens on TCP: clients use the socket in the
cluster's own directory, with trust authentication, so only this machine's
processes that can reach that directory may connect.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from locker.errors import LockerError

#: Where Debian installs the server's programs, one directory per major version.
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
#: The unprivileged user a root process runs the cluster as.
CLUSTER_USER = "postgres"


class PostgresMissing(LockerError, FileNotFoundError):
    """PostgreSQL's server programs are not installed."""


def server_bin() -> Path:
    """The newest installed ``/usr/lib/postgresql/<version>/bin`` with ``initdb`` in it."""
    found = sorted(
        (p for p in DEBIAN_PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not found:
        raise PostgresMissing(
            f"PostgreSQL's server is not installed (no {DEBIAN_PG_ROOT}/*/bin/initdb): "
            "run scripts/test, or `apt-get install postgresql`"
        )
    return found[-1]


class ThrowawayCluster:
    """A PostgreSQL cluster that lives in a temporary directory until :meth:`stop`."""

    def __init__(self, *, base: str | None = None, durable: bool = False):
        self.bin = server_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="hub-pg-", dir=base))
        self.data = self.dir / "data"
        self.socket_dir = self.dir
        self.as_root = os.geteuid() == 0
        self.user = CLUSTER_USER if self.as_root else _login_name()
        #: Whether commits reach the disk (off for tests: a throwaway cluster needs no fsync).
        self.durable = durable
        self.running = False

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", CLUSTER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LockerError(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> ThrowawayCluster:
        """initdb, then start the server on the socket in :attr:`socket_dir`."""
        if self.as_root:
            shutil.chown(self.dir, user=CLUSTER_USER, group=CLUSTER_USER)
        self._run("initdb", "-D", str(self.data), "-U", self.user, "--auth=trust", "-E", "UTF8")
        options = f"-c listen_addresses='' -k {self.socket_dir}"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log = self.dir / "server.log"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-o", options, "-w", "start")
        self.running = True
        return self

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL for ``database`` on this cluster."""
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}"

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """Create ``name`` (from ``template`` if given); its URL."""
        import psycopg

        copy = f" TEMPLATE {template}" if template else ""
        with psycopg.connect(
            host=str(self.socket_dir), user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server (fast: no waiting for clients) and delete its directory."""
        if self.running:
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
            self.running = False
        shutil.rmtree(self.dir, ignore_errors=True)


def _login_name() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name
