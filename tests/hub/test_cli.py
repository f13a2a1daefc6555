"""``locker hub ...`` on a real PostgreSQL: init, sites, accounts, tokens, sync."""

from __future__ import annotations

from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from hub.accounts import find_site
from hub.alerts import sweep_offline
from hub.app import create_app
from hub.db import HubDatabase
from hub.models import HubAlert
from locker_app.cli import main
from tests.support.hub import hub_config, serving


@pytest.fixture
def hub_cli(pg_cluster, tmp_path, monkeypatch, clock):
    url = pg_cluster.create_database(f"hub_cli_{tmp_path.name[-12:].replace('-', '_')}")
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub_server]\ndatabase_url = "{url}"\nsecret_key_file = "{tmp_path / "hub_key"}"\n'
    )
    monkeypatch.setenv("LOCKER_CONFIG", str(config))
    # Every command's App takes the test's clock, as the daemon's and the panel's do.
    monkeypatch.setattr("locker_app.cli.SystemClock", lambda: clock)
    runner = CliRunner()

    def run(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    run.url = url
    return run


def test_init_site_user_and_token_make_a_working_hub(hub_cli, tmp_path):
    assert hub_cli("hub", "init").exit_code == 0
    assert (tmp_path / "hub_key").stat().st_mode & 0o777 == 0o600
    assert hub_cli("hub", "init").exit_code == 0  # again: nothing lost
    site = hub_cli("hub", "site", "add", "oak")
    assert site.exit_code == 0 and site.output.startswith("hs_")
    twice = hub_cli("hub", "site", "add", "oak")
    assert twice.exit_code == 1 and "already a site called 'oak'" in twice.output
    renewed = hub_cli("hub", "site", "new-token", "oak").output.strip()
    assert renewed.startswith("hs_") and renewed != site.output.strip()
    added = hub_cli(
        "hub",
        "user",
        "add",
        "arthur",
        "--role",
        "area_manager",
        "--site",
        "oak",
        input="long-enough-password\n",
    )
    assert added.exit_code == 0, added.output
    short = hub_cli("hub", "user", "add", "bea", "--role", "group_admin", input="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    nowhere = hub_cli(
        "hub",
        "user",
        "add",
        "cy",
        "--role",
        "area_manager",
        "--site",
        "ash",
        input="long-enough-password\n",
    )
    assert nowhere.exit_code == 1 and "no site called 'ash'" in nowhere.output
    token = hub_cli("hub", "token", "create", "arthur").output.strip()
    db = HubDatabase(hub_cli.url)
    app = create_app(__import__("locker.config").config.load_config(tmp_path / "hub.toml"), db)
    client = app.test_client()
    answer = client.get("/api/sites", headers={"Authorization": f"Bearer {token}"})
    assert [row["name"] for row in answer.json] == ["oak"]
    for old, code in ((site.output.strip(), 401), (renewed, 200)):
        head = client.get("/api/ingest/head", headers={"Authorization": f"Bearer {old}"})
        assert head.status_code == code
    db.dispose()


def test_serve_refuses_a_database_that_is_not_migrated(hub_cli):
    refused = hub_cli("hub", "serve", "--port", "1")
    assert refused.exit_code == 1
    assert "locker hub init" in refused.output


def test_sync_once_ships_a_sites_log(
    hub_cli, hub_db, sites, site_factory, clock, tmp_path, monkeypatch
):
    site = site_factory("oak")
    site.log(12)
    token_file = tmp_path / "oak-token"
    token_file.write_text(sites["oak"] + "\n")
    monkeypatch.setenv("LOCKER_CONFIG", site.config.path or "")
    with serving(hub_db, clock) as hub:
        config = tmp_path / "oak" / "config.toml"
        config.write_text(
            f'data_dir = "{tmp_path / "oak"}"\n[hardware]\nbackend = "simulated"\n'
            f'[hub]\nurl = "{hub.url}"\ntoken_file = "{token_file}"\n'
            '[[slots]]\nnumber = 1\nkind = "staff"\nlock_pin = 17\ndoor_pin = 5\nsensor_pin = 16\n'
        )
        shipped = hub_cli("--config", str(config), "hub", "sync", "--once")
    assert shipped.exit_code == 0, shipped.output
    assert "shipped 12 events in 1 batches; the hub's head is event 12" in shipped.output


def test_site_remove_asks_first_and_names_a_site_that_is_not_there(hub_cli):
    assert hub_cli("hub", "init").exit_code == 0
    assert hub_cli("hub", "site", "add", "oak").exit_code == 0
    kept = hub_cli("hub", "site", "remove", "oak", input="n\n")
    assert kept.exit_code == 1 and "nothing more was done" in kept.output
    assert "already a site called 'oak'" in hub_cli("hub", "site", "add", "oak").output
    gone = hub_cli("hub", "site", "remove", "oak", input="y\n")
    assert gone.exit_code == 0 and "site oak removed (nothing stored)" in gone.output
    missing = hub_cli("hub", "site", "remove", "oak", "--yes")
    assert missing.exit_code == 1 and "no site called 'oak'" in missing.output
    assert hub_cli("hub", "site", "add", "oak").exit_code == 0  # the name is free again


def test_commands_run_on_the_injected_clock_and_deactivation_refuses_tokens(hub_cli, clock):
    assert hub_cli("hub", "init").exit_code == 0
    assert hub_cli("hub", "site", "add", "oak").exit_code == 0
    hub_cli("hub", "user", "add", "gina", "--role", "group_admin", input="long-enough-password\n")
    token = hub_cli("hub", "token", "create", "gina").output.strip()
    db = HubDatabase(hub_cli.url)
    try:
        with db.session() as s:
            assert find_site(s, "oak").created_at == clock.now()
        clock.advance(3 * 3600)  # a silent site three hours after it was added
        with db.session() as s:
            assert sweep_offline(s, clock.now(), timedelta(minutes=10)) == 1
        with db.session() as s:
            (alert,) = s.scalars(select(HubAlert)).all()
        assert alert.opened_at == clock.now()
        assert "since 2026-03-02 07:00 UTC" in alert.message

        app = create_app(hub_config(hub_cli.url), db, clock=clock, secret_key="test " * 8)
        client = app.test_client()
        bearer = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/sites", headers=bearer).status_code == 200
        off = hub_cli("hub", "user", "deactivate", "gina")
        assert off.exit_code == 0 and "gina deactivated" in off.output
        assert client.get("/api/sites", headers=bearer).status_code == 401
        again = hub_cli("hub", "user", "deactivate", "gina")
        assert again.exit_code == 1 and "already deactivated" in again.output
        assert hub_cli("hub", "user", "activate", "gina").exit_code == 0
        # Deactivating revoked the token for good: an active account needs a new one.
        assert client.get("/api/sites", headers=bearer).status_code == 401
        fresh = hub_cli("hub", "token", "create", "gina").output.strip()
        fresh_bearer = {"Authorization": f"Bearer {fresh}"}
        assert client.get("/api/sites", headers=fresh_bearer).status_code == 200
        nobody = hub_cli("hub", "user", "deactivate", "nobody")
        assert nobody.exit_code == 1 and "no hub account called 'nobody'" in nobody.output
    finally:
        db.dispose()
