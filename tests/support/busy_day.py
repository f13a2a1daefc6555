"""A busy morning played on a running demo through its JSON API, as the browser tests need.

Everybody deposits, a badge is refused, an emergency grant and a manager's
release open slots, a door is forced (an alert), an unknown card is tried
twice, a visitor signs in, and the clock runs on past the first breaks. The
pages then have every kind of row they show: slots in every state, alerts,
overrides, a log of a few hundred events, a report with timelines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from locker.demo import PEOPLE

#: The longest a step of the morning may take to show (only a failure waits that long).
WAIT_S = 30
#: The longest the daemon may take to play hours of the morning on a busy machine.
CLOCK_WAIT_S = 300
#: A panel account of each role the tests log in as, with its password.
ACCOUNTS = {"viewer": ("inspector", "inspector-pass-1"), "admin": ("owner", "owner-pass-12")}


def cli(data_dir: Path, *args: str, stdin: str = "") -> str:
    """Run ``locker ARGS`` against the demo's config; its standard output."""
    env = {**os.environ, "LOCKER_CONFIG": str(data_dir / "config.toml")}
    done = subprocess.run(
        [sys.executable, "-m", "locker_app", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


class Api:
    """The demo's JSON API with the manager's bearer token."""

    def __init__(self, url: str, token: str):
        self.url = url
        self.token = token

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request; its JSON answer (a 4xx raises)."""
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            },
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read() or b"null")

    def slots(self) -> dict[int, dict[str, Any]]:
        """The slots as ``/api/status`` shows them, by number."""
        return {s["number"]: s for s in self.call("GET", "/api/status")["slots"]}

    def badge(self, uid: str) -> None:
        """Hold a card to the reader."""
        self.call("POST", "/api/sim/badge", {"uid": uid})

    def slot(self, number: int, **move: Any) -> None:
        """Move a slot's door or device."""
        self.call("POST", f"/api/sim/slots/{number}", move)

    def advance(self, seconds: int) -> None:
        """Move the simulated clock on, and wait until it has (hours take the daemon a while)."""
        start = datetime.fromisoformat(self.call("GET", "/api/status")["now"])
        self.call("POST", "/api/sim/clock", {"advance_s": seconds})
        target = start + timedelta(seconds=seconds)
        wait_for(
            f"the clock at {target:%H:%M}",
            lambda: datetime.fromisoformat(self.call("GET", "/api/status")["now"]) >= target,
            within=CLOCK_WAIT_S,
        )


def wait_for(what: str, found: Callable[[], Any], within: float = WAIT_S) -> Any:
    """``found()``'s first truthy answer; the reader polls the card on its own time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        answer = found()
        if answer:
            return answer
        time.sleep(0.1)
    raise AssertionError(f"the demo did not get to: {what} within {within} s")


def deposit(api: Api, uid: str) -> int:
    """Badge ``uid``, put a device into the slot that opens and close it; the slot."""
    before = {n for n, s in api.slots().items() if s["state"] == "open_for_deposit"}
    api.badge(uid)

    def opened() -> set[int]:
        return {n for n, s in api.slots().items() if s["state"] == "open_for_deposit"} - before

    (number,) = wait_for(f"a slot opening for {uid}", opened)
    api.slot(number, door="open")
    api.slot(number, device=True)
    api.slot(number, door="closed")
    wait_for(f"slot {number} holding a device", lambda: api.slots()[number]["state"] == "held")
    return number


def play_busy_morning(url: str, data_dir: Path) -> None:
    """Play the morning described above on the demo at ``url``."""
    token = cli(data_dir, "token", "create", "manager").strip().split()[-1]
    for role, (name, password) in ACCOUNTS.items():
        cli(data_dir, "user", "add", name, "--role", role, stdin=password + "\n")
    api = Api(url, token)
    staff = [(name, uid) for name, role, uid, _ in PEOPLE if role == "staff"]
    slots = {name: deposit(api, uid) for name, uid in staff[:9]}
    api.badge(staff[0][1])  # on shift, not on a break: refused
    api.badge("DEADBEEF")
    api.badge("DEADBEF0")
    people = {p["name"]: p["id"] for p in api.call("GET", "/api/people")["people"]}
    chloe = "Chloe Evans"
    api.call(
        "POST",
        "/api/grants",
        {
            "person_id": people[chloe],
            "reason": "emergency",
            "note": "call from school",
            "open_now": True,
            "return_minutes": 20,
            "password": "manager-demo",
        },
    )
    api.slot(slots[chloe], door="open")
    api.slot(slots[chloe], device=False)
    api.slot(slots[chloe], door="closed")
    api.call(
        "POST",
        f"/api/slots/{slots['Sophie Turner']}/release",
        {"reason": "going home ill", "password": "manager-demo"},
    )
    api.slot(slots["Hannah Baker"], door="open")  # forced: an alert
    api.slot(slots["Hannah Baker"], door="closed")
    api.advance(4 * 3600)
