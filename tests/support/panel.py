"""Test kit for the panel: a small bank's config, passwords, a logged-in client, a fake daemon."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hardware.backend import Backend
from hardware.pins import SimulatedPinFactory
from locker.clock import SimulatedClock
from locker.config import Config, parse_config
from locker.controller import Controller
from locker.daemon import Daemon
from locker.db import Database
from locker.decisions import BadgeRead, DeviceChanged, DoorChanged, SensorReading
from locker.log.personal import ShownEvent, shown_events
from locker.models import Alert, Command, Event, Slot
from tests.support.live import publish

LONDON = ZoneInfo("Europe/London")
# A Monday in winter, so local time is UTC.
MONDAY = date(2026, 1, 5)
PASSWORDS = {
    "manager": "manager-password",
    "viewer": "viewer-password",
    "admin": "admin-password!",
}
SECRET = "test-secret-key-of-at-least-32-characters"


def at(hhmm: str, day: date = MONDAY) -> datetime:
    """Local ``hh:mm`` on ``day`` as an aware UTC time."""
    return datetime.combine(day, time.fromisoformat(hhmm), tzinfo=LONDON).astimezone(UTC)


#: The bank of :func:`make_config`: three staff slots and one visitor slot.
KINDS = ("staff", "staff", "staff", "visitor")


def make_config(tmp_path, *, kinds=KINDS, **web) -> Config:
    """Slots of ``kinds`` (three staff, one visitor) on simulated hardware, data in
    ``tmp_path``."""
    slots = [
        {
            "number": n,
            "kind": kind,
            "lock_pin": 3 * n,
            "door_pin": 3 * n + 1,
            "sensor_pin": 3 * n + 2,
        }
        for n, kind in enumerate(kinds, start=1)
    ]
    return parse_config(
        {
            "site_name": "Test Nursery",
            "data_dir": str(tmp_path),
            "hardware": {"backend": "simulated"},
            "web": web,
            "slots": slots,
        }
    )


_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class AuthActions:
    """Logs the test client in and out, and fetches the CSRF token a form would carry."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, page: str = "/login") -> str:
        html = self.client.get(page).get_data(as_text=True)
        return _CSRF_META.search(html).group(1)

    def login(self, username: str = "manager", password: str | None = None):
        token = self.csrf_token()
        password = PASSWORDS.get(username, "") if password is None else password
        return self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": token}
        )

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf_token("/")})

    def post(self, path: str, data: dict | None = None, **kwargs):
        """A form post with the CSRF token of the logged-in session."""
        return self.client.post(
            path, data={"csrf_token": self.csrf_token("/"), **(data or {})}, **kwargs
        )

    def post_json(self, path: str, body=None, **kwargs):
        """A JSON post from the logged-in session, with the CSRF header."""
        headers = {"X-CSRFToken": self.csrf_token("/")}
        return self.client.post(path, json=body, headers=headers, **kwargs)


class FakeDaemon:
    """The controller without its loop: runs commands at once and writes heartbeats."""

    def __init__(self, config: Config, db: Database, clock: SimulatedClock):
        self.config = config
        self.db = db
        self.clock = clock
        self.controller = Controller(config, db, clock)
        self.controller.start({s.number: SensorReading(False, False) for s in config.slots})
        self.heartbeat()

    def heartbeat(self) -> None:
        """Publish the daemon's live status as the real daemon does."""
        publish(
            self.config,
            heartbeat_at=self.clock.now().isoformat(),
            simulated=True,
            clock_synchronised=self.controller.clock_trusted,
            controller_now=self.clock.now().isoformat(),
        )

    def wait_for_command(self, command_id: int):
        """Stand-in for ``web.commands.wait_for_command``: run the command, report its row."""
        self.controller.run_command(command_id)
        with self.db.read() as session:
            command = session.get(Command, command_id)
            return command.status, dict(command.result)

    def deposit(self, uid: str, slot: int) -> None:
        """The owner of ``uid`` badges, opens ``slot``, puts a device in and closes it."""
        self.controller.handle(BadgeRead(uid))
        self.put_in(slot)

    def put_in(self, slot: int) -> None:
        """Somebody opens the unlocked ``slot``, puts a device in and closes it."""
        self.controller.handle(DoorChanged(slot, True))
        self.controller.handle(DeviceChanged(slot, True))
        self.controller.handle(DoorChanged(slot, False))
        self.heartbeat()

    def advance(self, seconds: float) -> None:
        """Move the clock on, let the controller's timers fire, and beat."""
        self.clock.advance(seconds)
        self.controller.tick()
        self.heartbeat()


def events(db, kind: str | None = None) -> list[Event]:
    """Logged events, oldest first, of one kind if given."""
    with db.read() as session:
        query = select(Event).order_by(Event.id)
        if kind:
            query = query.where(Event.kind == kind)
        return list(session.scalars(query))


def shown(db, kind: str | None = None) -> list[ShownEvent]:
    """Logged events as the panel reads them (actors and personal values resolved)."""
    with db.read() as session:
        return shown_events(session, events(db, kind))


def raise_alert(db, at: datetime, alert: str = "door_forced", slot: int | None = 1, **kw) -> int:
    """Store an open alert as the controller would; its id."""
    with db.write() as session:
        row = Alert(alert=alert, slot=slot, details={"message": "test"}, raised_at=at, **kw)
        session.add(row)
        session.commit()
        return row.id


def page(response) -> str:
    """A page's text with its HTML entities read (``&#39;`` as ``'``)."""
    return html.unescape(response.get_data(as_text=True))


def slot_state(db, number: int) -> str:
    """The stored state of slot ``number``."""
    with db.read() as session:
        return session.get(Slot, number).state


def commands(db) -> list[Command]:
    """Every command the panel queued, oldest first."""
    with db.read() as session:
        return list(session.scalars(select(Command).order_by(Command.id)))


class InertTimer:
    """The locks' real-time safety cap, which never fires in a test."""

    def __init__(self, interval, function):
        self.daemon = False

    def start(self) -> None:
        pass

    def cancel(self) -> None:
        pass


class World:
    """The real daemon on simulated hardware, stepped by hand as the panel asks it to act
    (the ``world`` fixture)."""

    def __init__(self, config, db, clock, data_dir):
        self.config = config
        self.db = db
        self.clock = clock
        self.pins = SimulatedPinFactory()
        self.backend = Backend.from_config(
            config,
            clock,
            data_dir=data_dir,
            pin_factory=self.pins,
            timer_factory=InertTimer,
            reader_clock=clock,
        )
        self.daemon = Daemon(Controller(config, db, clock), self.backend, real_clock=clock)
        self.daemon.begin(reader_thread=False)
        for _ in range(3):  # the reader's first polls after opening ignore a resting card
            self.backend.poll_reader()
        self.beat()

    def beat(self) -> None:
        """Stamp the heartbeat with the test's clock, which is the panel's real clock too."""
        publish(self.config, heartbeat_at=self.clock.now().isoformat())

    def wait_for_command(self, command_id: int):
        """Stand-in for ``web.commands.wait_for_command``: the daemon's loop runs once."""
        self.daemon.run_commands()
        # What the reader thread does next: poll, and hand over the card it read.
        for _ in range(3):
            for event in self.backend.poll_reader():
                self.daemon.emit(event)
        self.daemon.step(0)
        self.beat()
        with self.db.read() as session:
            command = session.get(Command, command_id)
            return command.status, dict(command.result)

    def close(self) -> None:
        self.daemon.finish()
        self.pins.close()
