"""The group hub's test parts: a real PostgreSQL, a site's real log, a hub on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from hub.app import create_app
from hub.cluster import PostgresMissing, ThrowawayCluster
from hub.db import HubDatabase
from locker.clock import Clock, SimulatedClock
from locker.config import Config, parse_config
from locker.db import Database, alembic_config, migrate
from locker.decisions import LogEntry
from locker.log import append
from web.server import create_server

#: Every hub account's password in the tests.
PASSWORD = "group-password-1"
#: The kinds a simulated day of a site cycles through (each with a person).
DAY_KINDS = ("badge.granted", "slot.unlocked", "door.opened", "deposit.confirmed", "slot.locked")


def hub_config(database_url: str) -> Config:
    """A hub's config: only ``[hub_server]``."""
    return parse_config({"hub_server": {"database_url": database_url, "offline_after_s": 600}})


class Site:
    """A site's real database and log (SQLite, migrated), whose events the test appends."""

    def __init__(self, directory: Path, clock: SimulatedClock, revision: str = "head"):
        """``revision``: the schema to build (an older one plays a site before an upgrade)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.config = parse_config(
            {
                "data_dir": str(directory),
                "hardware": {"backend": "simulated"},
                "slots": [
                    {"number": 1, "kind": "staff", "lock_pin": 17, "door_pin": 5, "sensor_pin": 16}
                ],
            }
        )
        self.db = Database(self.config.db_url)
        command.upgrade(alembic_config(self.db.engine), revision)
        self.clock = clock

    def upgrade(self) -> None:
        """Migrate the site's database to the newest revision, as an upgrade does."""
        migrate(self.db.engine)

    def log(self, count: int, *, every: timedelta = timedelta(minutes=7), **details) -> None:
        """Append ``count`` events, the clock moving ``every`` between them."""
        with self.db.write() as session:
            for i in range(count):
                kind = DAY_KINDS[i % len(DAY_KINDS)]
                entry = LogEntry(kind, "daemon", slot=1, person_id=1 + i % 3, details=details)
                append(session, entry, self.clock.now())
                self.clock.advance(every.total_seconds())
            session.commit()

    def log_at(self, when: datetime, kind: str, person_id=None, slot=None, **details) -> None:
        """Append one ``kind`` event logged at ``when`` (the site's clock is not moved)."""
        with self.db.write() as session:
            append(session, LogEntry(kind, "daemon", slot, person_id, details), when)
            session.commit()

    def worker(self, url: str, token: str):
        """The site's sync worker shipping to the hub at ``url`` with ``token``."""
        from locker_app.hub_sync import HubLink, SyncWorker

        return SyncWorker(self.config, self.db, HubLink(url, token), self.clock)

    def head(self) -> tuple[int, str]:
        """The site's newest event id and hash."""
        from locker.log import head

        with self.db.read() as session:
            return head(session)


class HubServer:
    """The hub app served by waitress on 127.0.0.1 in a thread; stop and start it again."""

    def __init__(self, db: HubDatabase, clock: Clock, port: int = 0):
        self.app = create_app(
            hub_config(str(db.engine.url)), db, clock=clock, secret_key="test " * 8
        )
        self.port = port
        self.server = None
        self.thread: threading.Thread | None = None

    def start(self) -> HubServer:
        """Listen (on the same port as before, if it ran already)."""
        self.server = create_server(self.app, host="127.0.0.1", port=self.port)
        self.port = self.server.effective_port
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        """The hub's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop listening (what a site sees of a hub that is down)."""
        self.server.close()
        self.thread.join(timeout=10)


@contextmanager
def serving(db: HubDatabase, clock: Clock) -> Iterator[HubServer]:
    """A running :class:`HubServer` for the block, timed by ``clock``."""
    server = HubServer(db, clock).start()
    try:
        yield server
    finally:
        server.stop()


def start_cluster() -> ThrowawayCluster:
    """A started throwaway PostgreSQL cluster. PostgreSQL is a real part of the hub's
    tests: when its server is not installed they fail (never skip) and say how to install it."""
    try:
        return ThrowawayCluster().start()
    except PostgresMissing as exc:
        pytest.fail(str(exc))


def utc(text: str) -> datetime:
    """An aware UTC time from ``YYYY-MM-DDTHH:MM``."""
    from datetime import UTC

    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_in(client, name: str, password: str):
    """Post the login form as a browser does, with the page's CSRF token."""
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token})


def log_in_browser(browser, url: str, name: str, password: str, viewport=None):
    """A Playwright page of a new browser context logged in to the hub at ``url``
    (through its front page, which sends a stranger to the login form)."""
    options = {"base_url": url} | ({"viewport": viewport} if viewport else {})
    context = browser.new_context(**options)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")
    return page


def send(client, token: str, path: str, body):
    """Post ``body`` as a site does: gzipped JSON with the site's token."""
    import gzip
    import json

    headers = {"Authorization": f"Bearer {token}", "Content-Encoding": "gzip"}
    return client.post(path, data=gzip.compress(json.dumps(body).encode()), headers=headers)


def every_text_at_the_hub(hub_db) -> str:
    """Every text, varchar and JSON column of every table of the hub, as one string."""
    found = []
    with hub_db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for column in inspect(conn).get_columns(table):
                kind = str(column["type"]).upper()
                if any(word in kind for word in ("CHAR", "TEXT", "JSON")):
                    rows = conn.execute(text(f'SELECT "{column["name"]}"::text FROM "{table}"'))
                    found.extend(value for (value,) in rows if value is not None)
    return "\n".join(found)
