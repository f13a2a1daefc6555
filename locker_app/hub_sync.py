"""The site's sync worker: ships the log to the group hub, store-and-forward.

Its own process (``locker hub sync``, its own systemd unit), never the
controller loop: the hub is not in any unlock path, and a site works for
weeks with no link. The worker keeps nothing of its own: on every start, and
after every failure, it asks the hub for the newest event the hub holds and
resumes after it, so what was acknowledged is never sent again and what was
not is never lost. Batches are gzip-compressed JSON; a status snapshot goes
every ``[hub] snapshot_every_s``. While the hub cannot be reached the worker
waits longer each time (doubling up to ``[hub] max_backoff_s``).
"""

from __future__ import annotations

import gzip
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from locker.clock import Clock
from locker.config import Config
from locker.db import Database
from locker.errors import LockerError
from locker.live_status import read_live_status, status_path
from locker.shipping import next_batch, status_snapshot

log = logging.getLogger(__name__)

#: Seconds an HTTP call to the hub may take before it counts as a failure.
HTTP_TIMEOUT_S = 30
FIRST_BACKOFF_S = 1.0
#: Days of shifts the first snapshot after a start sends (the hub may have missed them).
FIRST_SHIFT_DAYS = 7


class HubUnreachable(LockerError, ConnectionError):
    """The hub did not answer, or answered with a server error."""


class HubRefused(LockerError, ValueError):
    """The hub answered 4xx: the batch (or the token) is refused; retrying will not help."""


@dataclass(frozen=True)
class HubLink:
    """How to reach the hub: its base URL and this site's token."""

    url: str
    token: str

    @classmethod
    def from_config(cls, config: Config, url: str = "", token_file: str = "") -> HubLink:
        """The link ``[hub]`` configures (``url`` / ``token_file`` override it)."""
        url = url or config.hub.url
        token_file = token_file or config.hub.token_file
        if not url or not token_file:
            raise LockerError("[hub] url and token_file are needed to ship to a hub")
        token = Path(token_file).read_text(encoding="utf-8").strip()
        if not token:
            raise LockerError(f"{token_file} is empty: put the site's token in it")
        return cls(url.rstrip("/"), token)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One JSON call to the hub (the body gzip-compressed); the decoded answer."""
        data = None
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        if body is not None:
            data = gzip.compress(json.dumps(body, separators=(",", ":")).encode("utf-8"), 5)
            headers["Content-Type"] = "application/json"
            headers["Content-Encoding"] = "gzip"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            if exc.code >= 500:
                raise HubUnreachable(f"the hub answered {exc.code}: {text[:200]}") from None
            try:
                message = json.loads(text).get("error", text)
            except (ValueError, AttributeError):
                message = text
            raise HubRefused(f"the hub refused {path} ({exc.code}): {message}") from None
        except (OSError, urllib.error.URLError) as exc:
            raise HubUnreachable(f"cannot reach the hub at {self.url}: {exc}") from None
        return json.loads(raw) if raw else None


@dataclass
class SyncReport:
    """What one :meth:`SyncWorker.run_once` did."""

    shipped: int = 0
    batches: int = 0
    snapshot_sent: bool = False
    head_id: int = 0


class SyncWorker:
    """Ships the site's log and snapshots to the hub; time comes from ``clock``."""

    def __init__(self, config: Config, db: Database, link: HubLink, clock: Clock):
        self.config = config
        self.db = db
        self.link = link
        self.clock = clock
        self.last_snapshot: datetime | None = None
        self.backoff_s = 0.0

    def run_once(self) -> SyncReport:
        """Ship every event the hub lacks, then a snapshot if one is due.

        Raises :class:`HubUnreachable` or :class:`HubRefused`; nothing is lost
        either way (the next run starts again from the hub's head).
        """
        report = SyncReport()
        head = self.link.call("GET", "/api/ingest/head")
        after = int(head["id"])
        while True:
            with self.db.read() as session:
                batch = next_batch(session, after, self.config.hub.batch_size)
            if not batch["events"]:
                break
            answer = self.link.call("POST", "/api/ingest/events", batch)
            after = int(answer["head"]["id"])
            report.shipped += answer["stored"]
            report.batches += 1
        report.head_id = after
        now = self.clock.now()
        due = self.config.hub.snapshot_every_s
        if self.last_snapshot is None or (now - self.last_snapshot).total_seconds() >= due:
            live = read_live_status(status_path(self.config.status_dir))
            with self.db.read() as session:
                snapshot = status_snapshot(
                    session, live, now, self.config.tz, shifts_from=self._shifts_from(now)
                )
            self.link.call("POST", "/api/ingest/status", snapshot)
            self.last_snapshot = now
            report.snapshot_sent = True
        return report

    def _shifts_from(self, now: datetime) -> date:
        """The first day of shifts to send: the day before the last snapshot the hub
        took (so the rota's late changes reach it), or a week back after a start."""
        since = self.last_snapshot or now - timedelta(days=FIRST_SHIFT_DAYS)
        return since.astimezone(self.config.tz).date() - timedelta(days=1)

    def step(self) -> float:
        """One run, logged; the seconds to wait before the next (backing off on failure)."""
        try:
            report = self.run_once()
        except (HubUnreachable, HubRefused) as exc:
            self.backoff_s = min(
                max(self.backoff_s * 2, FIRST_BACKOFF_S), self.config.hub.max_backoff_s
            )
            log.warning("%s; trying again in %.0f s", exc, self.backoff_s)
            return self.backoff_s
        self.backoff_s = 0.0
        if report.shipped:
            log.info("shipped %d events to the hub (head %d)", report.shipped, report.head_id)
        return min(self.config.hub.snapshot_every_s, 10.0)

    def run_forever(self, sleep: Callable[[float], None]) -> None:
        """Ship until stopped (SIGTERM ends the process)."""
        while True:
            sleep(self.step())
