"""A real panel on 127.0.0.1 and a small HTTP browser, for tests written as the attack was.

:class:`LivePanel` runs ``locker web`` as its own process on a free loopback
port, with real argon2 costs. :class:`ThreadedPanel` serves a test's app with
the same waitress settings in this process, where a test can count calls.
:class:`Browser` speaks plain HTTP from a chosen loopback address (all of
127.0.0.0/8 reaches the panel), keeping the session cookie like a browser.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import tomli_w
from argon2 import PasswordHasher

from locker.accounts import add_account
from locker.clock import SystemClock
from locker.config import load_config
from locker.db import Database, migrate
from locker_app.private_files import private_database, write_secret_key
from tests.support.panel import PASSWORDS

HOST = "127.0.0.1"
#: How long the panel may take to start, and any one request to answer.
START_TIMEOUT_S = 30
REQUEST_TIMEOUT_S = 10
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
_COOKIE = re.compile(r"locker_session=([^;]*)")


def free_port() -> int:
    """A TCP port nothing listens on just now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def write_live_config(data_dir: Path, port: int, **web) -> Path:
    """A config file for a small simulated bank whose panel listens on ``port``."""
    kinds = ["staff", "staff", "staff", "visitor"]
    slots = [
        {"number": n, "kind": k, "lock_pin": 3 * n, "door_pin": 3 * n + 1, "sensor_pin": 3 * n + 2}
        for n, k in enumerate(kinds, start=1)
    ]
    raw = {
        "site_name": "Live Nursery",
        "data_dir": str(data_dir),
        "hardware": {"backend": "simulated"},
        "web": {"host": HOST, "port": port, "secret_key_file": str(data_dir / "secret_key"), **web},
        "slots": slots,
    }
    path = data_dir / "config.toml"
    path.write_bytes(tomli_w.dumps(raw).encode("utf-8"))
    return path


class LivePanel:
    """``locker web`` in its own process, with the test kit's three accounts."""

    def __init__(self, data_dir: Path, **web):
        self.port = free_port()
        self.config_path = write_live_config(data_dir, self.port, **web)
        self.config = load_config(self.config_path)
        write_secret_key(self.config)
        private_database(self.config.db_url)
        self.db = Database(self.config.db_url)
        migrate(self.db.engine)
        real = PasswordHasher()  # what production uses, whatever a fixture patched in
        with self.db.write() as session:
            for role, password in PASSWORDS.items():
                account = add_account(
                    session, role, role, password, at=SystemClock().now(), actor="test"
                )
                account.password_hash = real.hash(password)
            session.commit()
        self.env = {**os.environ, "LOCKER_CONFIG": str(self.config_path)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "locker_app", "web"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"locker web exited: {self.process.stderr.read().decode()}")
            try:
                if Browser(self.port).get("/healthz").status == 200:
                    return
            except OSError:
                time.sleep(0.1)  # polling for the server to listen, not for time to pass
        raise RuntimeError("locker web did not answer /healthz in time")

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        """Run ``locker ARGS`` on this panel's config."""
        return subprocess.run(
            [sys.executable, "-m", "locker_app", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def stop(self) -> None:
        """Stop the panel's process (and close the test's own database handle)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process.stderr.close()
        self.db.dispose()


class ThreadedPanel:
    """A test's Flask app on waitress (the panel's settings) in a thread of this process."""

    def __init__(self, app):
        from web.server import create_server

        self.server = create_server(app, host=HOST, port=0)
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Close the listening socket and every connection, then wait for the loop to end."""
        self.server.close()
        self.server.task_dispatcher.shutdown()
        self.thread.join(timeout=10)


class Answer:
    """One HTTP answer: status, headers and body."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes, seconds: float):
        self.status = status
        self.headers = headers
        self.body = body
        #: Wall time from sending the request to the end of the answer.
        self.seconds = seconds

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        return json.loads(self.body)


class Browser:
    """Plain HTTP to the panel from ``source`` (a loopback address), with a cookie jar."""

    def __init__(self, port: int, source: str = HOST):
        self.port = port
        self.source = source
        self.cookie: str | None = None

    def request(self, method: str, path: str, body=None, headers=None) -> Answer:
        conn = http.client.HTTPConnection(
            HOST, self.port, timeout=REQUEST_TIMEOUT_S, source_address=(self.source, 0)
        )
        headers = dict(headers or {})
        if self.cookie is not None:
            headers["Cookie"] = f"locker_session={self.cookie}"
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        seconds = time.perf_counter() - started
        found = _COOKIE.search(response.getheader("Set-Cookie") or "")
        if found:
            self.cookie = found[1] or None
        return Answer(response.status, dict(response.getheaders()), data, seconds)

    def get(self, path: str, headers=None) -> Answer:
        return self.request("GET", path, headers=headers)

    def csrf_token(self, page: str = "/login") -> str:
        return _CSRF_META.search(self.get(page).text)[1]

    def post_form(self, path: str, fields: dict[str, str], csrf: str | None = None) -> Answer:
        body = urlencode({"csrf_token": csrf or self.csrf_token("/"), **fields})
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.request("POST", path, body=body, headers=headers)

    def post_json(self, path: str, data, headers=None) -> Answer:
        headers = {"Content-Type": "application/json", **(headers or {})}
        return self.request("POST", path, body=json.dumps(data), headers=headers)

    def login(self, username: str, password: str) -> Answer:
        """A login as a browser makes it: the form (for its CSRF token), then the post."""
        token = self.csrf_token()
        return self.post_form("/login", {"username": username, "password": password}, token)


def logged_in(answer: Answer) -> bool:
    """True for a login's answer that went on to the panel."""
    return answer.status == 302 and "/login" not in answer.headers.get("Location", "")
