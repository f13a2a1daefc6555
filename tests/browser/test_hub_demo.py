"""Two real demo sites (daemon, panel, sync worker) ship to a real hub: ``locker hub demo``,
checked through the API and in Debian's chromium (the browser tests' own fixture)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request

import pytest
from playwright.sync_api import Browser

from locker_app.hub_demo import HUB_PASSWORD, HUB_USER
from tests.support.hub import free_port, log_in_browser

DEADLINE_S = 240


def get(url: str, token: str):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        body = answer.read().decode()
    return json.loads(body) if url.endswith(("/api/sites",)) or "/events" in url else body


@pytest.fixture
def hub_demo(tmp_path):
    ports = [free_port() for _ in range(3)]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "locker_app",
            "hub",
            "demo",
            "--port",
            str(ports[0]),
            "--site-ports",
            f"{ports[1]},{ports[2]}",
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process, f"http://127.0.0.1:{ports[0]}", tmp_path
    process.terminate()
    try:
        assert process.wait(timeout=60) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.stdout.close()


def site_chain(data_dir, through: int) -> list[tuple[int, str]]:
    with contextlib.closing(
        sqlite3.connect(f"file:{data_dir / 'locker.db'}?mode=ro", uri=True)
    ) as db:
        return db.execute(
            "SELECT id, hash FROM events WHERE id <= ? ORDER BY id", (through,)
        ).fetchall()


def test_two_demo_sites_ship_to_one_hub_and_its_pages_show_both(hub_demo, browser: Browser):
    process, hub, data_dir = hub_demo
    deadline = time.monotonic() + DEADLINE_S
    rows = []
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(process.stdout.read().decode())
        token_file = data_dir / "hub-token"
        try:
            token = token_file.read_text().strip()
            rows = get(f"{hub}/api/sites", token)
        except (OSError, ValueError):
            rows = []
        if len(rows) == 2 and all(r["events"] > 0 and r["online"] for r in rows):
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the sites did not ship within {DEADLINE_S} s: {rows}")
    assert [r["name"] for r in rows] == ["Acorns", "Bluebells"]
    assert all(r["chain_ok"] for r in rows)
    for row in rows:
        events = get(f"{hub}/api/sites/{row['name']}/events?after_id=0&limit=1000", token)
        shipped = [(e["id"], e["hash"]) for e in events]
        # What the hub holds is the site's own chain, event for event.
        assert shipped == site_chain(data_dir / row["name"].lower(), shipped[-1][0])
    page = get(f"{hub}/", token)
    assert 'data-site="Acorns"' in page and 'data-site="Bluebells"' in page
    site_page = get(f"{hub}/sites/Acorns", token)
    assert "system.started" in site_page
    in_a_browser(browser, hub)


def in_a_browser(browser: Browser, hub: str) -> None:
    """A group admin logs in with Debian's chromium and sees both sites, then one site,
    its day's report and the weekly group report."""
    page = log_in_browser(browser, hub, HUB_USER, HUB_PASSWORD)
    try:
        rows = page.locator("[data-testid=sites] tbody tr")
        assert rows.count() == 2
        assert "online" in rows.nth(0).inner_text()
        page.click("text=Bluebells")
        page.wait_for_url(f"{hub}/sites/Bluebells")
        assert page.locator("[data-testid=log] tbody tr").count() > 0
        # Its day rebuilt from what it shipped, and the group's week.
        page.click("text=Today's report")
        page.wait_for_url(f"{hub}/sites/Bluebells/report")
        assert "daily report for" in page.locator("h1").inner_text()
        assert page.locator("[data-testid=without-device] tbody tr").count() > 0
        page.click("text=Weekly report")
        page.wait_for_url(f"{hub}/reports/week")
        week = page.locator("[data-testid=week] tbody tr")
        assert week.count() == 2 and "Acorns" in week.nth(0).inner_text()
        page.click("text=Log out")
        page.wait_for_url(f"{hub}/login")
    finally:
        page.context.close()
