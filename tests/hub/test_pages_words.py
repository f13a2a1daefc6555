"""The hub's log and overrides pages say events as a site's panel does: in words, at the
site's own time, with a panel account and a sealed event said for what they are."""

from __future__ import annotations

from locker.log import LogEntry, append
from locker.shipping import next_batch, status_snapshot
from tests.support.hub import PASSWORD, log_in, send, utc


def ship(client, site, token) -> None:
    with site.db.read() as session:
        batch = next_batch(session, 0, 100)
        snapshot = status_snapshot(session, None, site.clock.now(), site.config.tz)
    assert send(client, token, "/api/ingest/events", batch).status_code == 200
    assert send(client, token, "/api/ingest/status", snapshot).status_code == 204


def test_the_site_log_and_the_overrides_say_what_happened_at_the_sites_time(
    hub_app, hub_accounts, sites, site_factory, clock
):
    oak = site_factory("oak")
    summer = utc("2026-06-02T11:05")  # 12:05 at a nursery in England
    oak.log_at(summer, "release.grant", slot=1, marker="dentist")
    with oak.db.write() as session:
        # Done through a panel account: its user name stays at the site.
        entry = LogEntry("release.manager", "@account", 1, None, {"actor": "mrs-hughes"})
        append(session, entry, utc("2026-06-02T11:10"))
        # A badge's number: the event ships sealed.
        append(
            session, LogEntry("badge.unknown", "daemon", None, None, {"uid": "04A1B2C3"}), summer
        )
        session.commit()
    clock.advance((utc("2026-06-02T11:30") - clock.now()).total_seconds())
    client = hub_app.test_client()
    ship(client, oak, sites["oak"])
    log_in(client, "gina", PASSWORD)

    log = client.get("/sites/oak").get_data(as_text=True)
    assert "When (Europe/London)" in log
    assert "Released on a manager&#39;s grant" in log and "marker: dentist" in log
    assert "12:05:00 BST" in log
    assert "Released by a manager" in log and "A manager&#39;s panel account" in log
    assert "mrs-hughes" not in log and "@account" not in log
    assert "(sealed at the site)" in log and "04A1B2C3" not in log
    assert ">release.grant<" not in log and '"marker"' not in log  # no raw kinds, no JSON

    overrides = client.get("/overrides").get_data(as_text=True)
    assert "Released on a manager&#39;s grant" in overrides and "12:05:00 BST" in overrides
    assert "A manager&#39;s panel account" in overrides and "@account" not in overrides
    # The kind filter offers words and sends the kind.
    assert '<option value="release.grant">Released on a manager&#39;s grant</option>' in overrides
    chosen = client.get("/overrides?kind=release.manager").get_data(as_text=True)
    assert "Released by a manager" in chosen and "marker: dentist" not in chosen
