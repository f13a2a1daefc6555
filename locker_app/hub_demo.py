"""``locker hub demo``: a group hub on this machine and two demo nurseries shipping to it.

Everything is real: a throwaway PostgreSQL cluster (Debian's server, as the
tests use), the hub on waitress, two ``locker demo`` sites (daemon and panel
on simulated hardware) and one ``locker hub sync`` worker per site. Stopping
the demo (Ctrl-C or SIGTERM) stops every process it started and the cluster.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hub.accounts import add_account, add_site, create_token
from hub.cluster import ThrowawayCluster
from hub.db import HubDatabase
from locker.clock import Clock
from locker.config import parse_config

DEMO_SITES = ("Acorns", "Bluebells")
HUB_USER, HUB_PASSWORD = "group", "group-demo-password"
#: How long a demo site may take to start (its first run seeds a database).
SITE_START_S = 90


@dataclass
class HubDemo:
    """The processes and cluster of one running hub demo."""

    data_dir: Path
    hub_port: int
    site_ports: tuple[int, ...]
    #: The hub's clock (the demo's sites run their own simulated ones).
    clock: Clock
    cluster: ThrowawayCluster | None = None
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def hub_url(self) -> str:
        """The hub's address."""
        return f"http://127.0.0.1:{self.hub_port}"

    def start(self, echo: Callable[[str], None]) -> HubDatabase:
        """Start the cluster, prepare the hub and start both sites with their workers."""
        self.cluster = ThrowawayCluster().start()
        db = HubDatabase(self.cluster.create_database("hub"))
        db.migrate()
        now = self.clock.now()
        tokens = {}
        with db.session() as session:
            for name in DEMO_SITES:
                tokens[name] = add_site(session, name, now)
            add_account(session, HUB_USER, "group_admin", HUB_PASSWORD, [], now)
        with db.session() as session:
            (self.data_dir / "hub-token").write_text(create_token(session, HUB_USER, now) + "\n")
        for name, port in zip(DEMO_SITES, self.site_ports, strict=True):
            self._start_site(name, port, tokens[name])
            echo(f"  site {name}: http://127.0.0.1:{port}/  (manager / manager-demo)")
        return db

    def _start_site(self, name: str, port: int, token: str) -> None:
        site_dir = self.data_dir / name.lower()
        site_dir.mkdir(parents=True, exist_ok=True)
        token_file = site_dir / "hub-token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        env = {**os.environ, "LOCKER_CONFIG": str(site_dir / "config.toml")}
        demo = [sys.executable, "-m", "locker_app", "demo", "--data-dir", str(site_dir)]
        self.processes.append(
            subprocess.Popen([*demo, "--port", str(port)], env=env, start_new_session=True)
        )
        _wait_for(f"http://127.0.0.1:{port}/healthz", SITE_START_S)
        sync = [sys.executable, "-m", "locker_app", "hub", "sync"]
        sync += ["--url", self.hub_url, "--token-file", str(token_file)]
        self.processes.append(subprocess.Popen(sync, env=env, start_new_session=True))

    def stop(self) -> None:
        """Stop every process started (each in its own session: the demo's daemon too)."""
        for process in reversed(self.processes):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if self.cluster is not None:
            self.cluster.stop()


def hub_demo_config(database_url: str):
    """The demo hub's config (only ``[hub_server]``)."""
    return parse_config({"hub_server": {"database_url": database_url, "offline_after_s": 120}})


def _wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")
