"""``locker hub ...`` on a real PostgreSQL: init, sites, accounts, tokens, sync."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from hub.app import create_app
from hub.db import HubDatabase
from locker_app.cli import main
from tests.support.hub import serving


@pytest.fixture
def hub_cli(pg_cluster, tmp_path, monkeypatch):
    url = pg_cluster.create_database(f"hub_cli_{tmp_path.name[-12:].replace('-', '_')}")
    config = tmp_path / "hub.toml"
    config.write_text(
        f'[hub_server]\ndatabase_url = "{url}"\nsecret_key_file = "{tmp_path / "hub_key"}"\n'
    )
    monkeypatch.setenv("LOCKER_CONFIG", str(config))
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
    with serving(hub_db, clock.now) as hub:
        config = tmp_path / "oak" / "config.toml"
        config.write_text(
            f'data_dir = "{tmp_path / "oak"}"\n[hardware]\nbackend = "simulated"\n'
            f'[hub]\nurl = "{hub.url}"\ntoken_file = "{token_file}"\n'
            '[[slots]]\nnumber = 1\nkind = "staff"\nlock_pin = 17\ndoor_pin = 5\nsensor_pin = 16\n'
        )
        shipped = hub_cli("--config", str(config), "hub", "sync", "--once")
    assert shipped.exit_code == 0, shipped.output
    assert "shipped 12 events in 1 batches; the hub's head is event 12" in shipped.output
