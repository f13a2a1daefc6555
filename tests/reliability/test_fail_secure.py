"""Fail-secure with real processes: stale and repeated commands, a second daemon, a kill.

Each test runs the real ``locker daemon`` executable on a simulated bank
(:class:`~tests.support.crash_site.Site`) and acts on it as the panel and
an installer would: rows in ``commands``, the doorbell, the panel's own app
on the same database, ``locker safe-locks`` after a SIGKILL.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import time
import tomllib
from datetime import UTC, datetime, timedelta

import pytest
import tomli_w
from sqlalchemy import select

from locker import events as ev
from locker.accounts import add_account, create_token
from locker.config import load_config
from locker.live_status import read_live_status, status_path
from locker.log import verify
from locker.log.personal import is_ref
from locker.models import Command, Event, Grant
from locker_app.log_check import ProcessLogCheck
from tests.support.crash_site import LOCKER, Site
from web import create_app

ANN = "A0000001"
FAY = "F0000006"


@pytest.fixture
def site(tmp_path):
    built = Site(tmp_path / "site", days=2)
    yield built
    built.dispose()


def slot_of(site: Site, state: str) -> int | None:
    for number, row in site.slots().items():
        if row["state"] == state:
            return number
    return None


def run(site: Site, kind: str, payload: dict) -> tuple[str, dict]:
    command_id = site.command(kind, payload)
    site.wait(lambda: site.settled(command_id), f"command {kind}")
    return site.command_status(command_id)


def badge_until_a_slot_opens(site: Site, uid: str = ANN) -> int:
    """Tap ``uid`` until a slot opens for it (the first polls after a start ignore a
    card already on the reader, however long the machine takes over them)."""
    for _ in range(20):
        run(site, "sim_badge", {"uid": uid})
        try:
            site.wait(lambda: slot_of(site, "open_for_deposit") is not None, "a slot", 2.0)
        except AssertionError:
            continue
        return slot_of(site, "open_for_deposit")
    raise AssertionError(f"no slot opened for {uid}:\n{site.daemon_log()}")


def deposit(site: Site, uid: str = ANN) -> int:
    """``uid`` badges, puts a phone in the slot that opened and shuts it; the slot."""
    number = badge_until_a_slot_opens(site, uid)
    run(site, "sim_slot", {"slot": number, "device": True})
    run(site, "sim_slot", {"slot": number, "door": "closed"})
    site.wait(lambda: site.slots()[number]["state"] == "held", "the deposit")
    return number


def unlock_counts(site: Site) -> dict[int, int]:
    return {n: s["unlock_count"] for n, s in site.world()["slots"].items()}


def logged(site: Site, kind: str) -> list[dict]:
    """Details of the events of ``kind``, personal values read back from beside the chain."""
    with site.connect() as conn:
        rows = conn.execute("SELECT details FROM events WHERE kind = ?", (kind,)).fetchall()
        values = dict(conn.execute("SELECT id, value FROM personal_values").fetchall())
    return [
        {k: values.get(v["ref"]) if is_ref(v) else v for k, v in json.loads(r[0]).items()}
        for r in rows
    ]


def test_a_release_all_queued_while_the_daemon_was_down_opens_nothing(site):
    site.start(None)
    number = deposit(site)
    site.stop()
    before = unlock_counts(site)
    # A request left from before the daemon went down (the panel now refuses
    # new ones while it is down): 61 s old by the time the daemon is back.
    asked = datetime.now(UTC) - timedelta(seconds=61)
    with site.db.write() as session:
        row = Command(
            kind="release_all",
            payload={"reason": "fire alarm", "confirm": True},
            account="mary",
            created_at=asked,
            requested_at=asked,
        )
        session.add(row)
        session.commit()
        command_id = row.id
    site.start(None)
    site.wait(lambda: site.settled(command_id), "the daemon to reach the old command")
    status, result = site.command_status(command_id)
    assert status == "expired" and "nothing was opened" in result["error"]
    (expired,) = logged(site, ev.COMMAND_EXPIRED)
    assert expired["command"] == "release_all" and expired["age_s"] >= 61
    assert logged(site, ev.RELEASE_ALL) == []
    assert unlock_counts(site) == before
    assert site.slots()[number]["state"] == "held"


def test_five_concurrent_open_now_grants_open_once_and_leave_no_live_grant(site):
    site.start(None)
    number = deposit(site)
    before = unlock_counts(site)[number]
    config = load_config(site.config_path)
    now = datetime.now(UTC)
    with site.db.write() as session:
        add_account(session, "mary", "manager", "mary-password-1", at=now, actor="test")
        token = create_token(session, "mary", at=now, actor="test")
        session.commit()
    app = create_app({"SECRET_KEY": "s" * 40}, config=config)
    body = {"person_id": site.people["Ann"], "reason": "emergency", "open_now": True}
    answers = []

    def ask():
        client = app.test_client()
        answers.append(
            client.post("/api/grants", json=body, headers={"Authorization": f"Bearer {token}"})
        )

    threads = [threading.Thread(target=ask) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    app.extensions["locker_db"].dispose()
    assert sorted(a.status_code for a in answers) == [200] * 5, [a.json for a in answers]
    assert sum(not a.json["result"].get("same_grant") for a in answers) == 1
    with site.db.read() as session:
        grants = session.scalars(select(Grant)).all()
        assert len(grants) == 1 and grants[0].used_at is not None
        assert len(session.scalars(select(Event).where(Event.kind == ev.RELEASE_GRANT)).all()) == 1
    # The answer comes once the decision is committed, which is before the daemon
    # drives the coil (logged first): the simulated world sees the pulse a moment later.
    site.wait(lambda: unlock_counts(site)[number] > before, "the slot's one pulse")
    assert unlock_counts(site)[number] == before + 1


def test_a_second_daemon_on_the_same_database_is_refused(site):
    site.start(None)
    env = {**os.environ, "LOCKER_CONFIG": str(site.config_path)}
    second = subprocess.run([LOCKER, "daemon"], env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 1
    assert f"another locker daemon (pid {site.pid}) is already running" in second.stderr
    assert "Traceback" not in second.stderr
    assert site.alive()


def test_a_kill_in_mid_pulse_leaves_no_coil_on_after_the_stop_helper(site):
    raw = tomllib.loads(site.config_path.read_text())
    # A long pulse, so the kill lands inside it.
    raw["lock"].update({"unlock_pulse_s": 5.0, "max_energised_s": 10.0})
    site.config_path.write_text(tomli_w.dumps(raw))
    site.start(None)
    number = badge_until_a_slot_opens(site)
    site.wait(lambda: site.world()["slots"][number]["coil_on"], "the pulse to start")
    site.kill()
    # What the GPIO library left on the pin: the coil stays on with no daemon.
    assert site.world()["slots"][number]["coil_on"] is True
    env = {**os.environ, "LOCKER_CONFIG": str(site.config_path)}
    helper = subprocess.run(
        [LOCKER, "safe-locks"], env=env, capture_output=True, text=True, timeout=60
    )
    assert helper.returncode == 0, helper.stderr
    world = site.world()["slots"]
    assert not any(slot["coil_on"] for slot in world.values())


def test_the_stop_helper_refuses_to_fight_a_running_daemon(site):
    site.start(None)
    env = {**os.environ, "LOCKER_CONFIG": str(site.config_path)}
    helper = subprocess.run(
        [LOCKER, "safe-locks"], env=env, capture_output=True, text=True, timeout=60
    )
    assert helper.returncode == 1 and "already running" in helper.stderr


def live_storage(site: Site) -> str | None:
    status = read_live_status(status_path(site.root))
    return None if status is None else status.get("storage")


def test_a_database_locked_for_40_s_keeps_the_daemon_up_and_the_badge_on_record(site):
    site.start(None)
    number = deposit(site)
    before = unlock_counts(site)
    config = load_config(site.config_path)
    app = create_app({"SECRET_KEY": "s" * 40}, config=config)
    # Fay has nothing in the bank: with a log, her badge would open a slot.
    command_id = site.command("sim_badge", {"uid": FAY})
    other = sqlite3.connect(site.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        site.wait(lambda: live_storage(site) == "failing", "the daemon to report the fault")
        health = app.test_client().get("/healthz").json
        assert (health["daemon"], health["storage"]) == ("ok", "failing")
        held_until = time.monotonic() + 40
        while time.monotonic() < held_until:
            assert site.alive(), site.daemon_log()
            assert unlock_counts(site) == before
            time.sleep(1)
    finally:
        other.execute("ROLLBACK")
        other.close()
    site.wait(lambda: live_storage(site) == "ok", "storage to come back", timeout=30)
    site.wait(lambda: site.settled(command_id), "the card's command to be recorded")
    app.extensions["locker_db"].dispose()
    assert unlock_counts(site) == before and site.slots()[number]["state"] == "held"
    (alert,) = [a for a in logged(site, ev.ALERT_RAISED) if a["alert"] == "storage"]
    assert "database is locked" in alert["message"]
    late = [d for d in logged(site, ev.BADGE_REFUSED) if d.get("recorded_late")]
    assert [d["uid"] for d in late] == [FAY] and late[0]["reason"] == "storage"
    assert slot_of(site, "open_for_deposit") is None
    # The tap was carried out once: no second reading of the card after the fault.
    with site.connect() as conn:
        taps = conn.execute(
            "SELECT COUNT(*) FROM events WHERE kind LIKE 'badge.%' AND id > "
            "(SELECT MAX(id) FROM events WHERE kind = 'deposit.confirmed')"
        ).fetchone()[0]
    assert taps == 1
    assert logged(site, ev.STORAGE_RECOVERED)
    with site.db.read() as session:
        assert verify(session).ok


def test_the_nightly_log_check_runs_as_its_own_process(site):
    # Only events, no daemon: the check reads the file as the daemon's child would.
    config = load_config(site.config_path)
    started = datetime.now(UTC)
    check = ProcessLogCheck(config, started)
    check.start()
    check.join(120)
    report = check.result()
    assert report.ok and report.checked > 0 and check.integrity is None
    assert check.process.pid != os.getpid()
    # Nightly it resumes from the last verified checkpoint (none yet here: a whole walk).
    assert check.process.args[-3:] == ["verify", "--json", "--incremental"]
    assert report.resumed_from is None
    with site.connect() as conn:
        conn.execute("UPDATE events SET details = '{\"edited\":true}' WHERE id = 3")
    again = ProcessLogCheck(config, started)
    again.start()
    again.join(120)
    broken = again.result()
    assert not broken.ok and broken.first_bad_id == 3
