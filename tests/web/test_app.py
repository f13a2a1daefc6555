"""Creating the app: the secret key, the schema, headers and templates that keep the CSP."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from locker.db import Database
from locker.errors import ConfigError, LockerError
from tests.support.panel import make_config
from web import create_app
from web.security import SECURITY_HEADERS

TEMPLATES = Path(__file__).parents[2] / "web" / "templates"


def production_app(config, **test_config):
    """``create_app`` as production runs it (not TESTING); disposes the database after."""
    app = create_app(test_config or None, config=config)
    app.extensions["locker_db"].dispose()
    return app


def test_production_refuses_to_start_without_a_secret_key(tmp_path, db):
    config = make_config(tmp_path)
    with pytest.raises(ConfigError, match=r"web\.secret_key_file: not set"):
        production_app(config)


def test_production_refuses_a_missing_key_file(tmp_path, db):
    config = make_config(tmp_path, secret_key_file=str(tmp_path / "no-such-key"))
    with pytest.raises(ConfigError, match=r"web\.secret_key_file: .*no-such-key does not exist"):
        production_app(config)


def test_production_refuses_a_short_key(tmp_path, db):
    key = tmp_path / "secret_key"
    key.write_text("dev\n")
    config = make_config(tmp_path, secret_key_file=str(key))
    with pytest.raises(ConfigError, match=r"web\.secret_key_file: .* too short"):
        production_app(config)


def test_production_refuses_a_short_key_in_the_test_config(tmp_path, db):
    with pytest.raises(ConfigError, match="too short"):
        production_app(make_config(tmp_path), SECRET_KEY="dev")


def test_production_reads_the_key_file(tmp_path, db):
    key = tmp_path / "secret_key"
    key.write_text("k" * 64 + "\n")
    app = production_app(make_config(tmp_path, secret_key_file=str(key)))
    assert app.config["SECRET_KEY"] == "k" * 64
    assert not app.testing


def test_the_config_comes_from_locker_config(tmp_path, db, monkeypatch):
    key = tmp_path / "secret_key"
    key.write_text("k" * 64)
    path = tmp_path / "config.toml"
    path.write_text(
        f'data_dir = "{tmp_path}"\n[hardware]\nbackend = "simulated"\n'
        f'[web]\nsecret_key_file = "{key}"\n'
        '[[slots]]\nnumber = 1\nkind = "staff"\nlock_pin = 1\ndoor_pin = 2\nsensor_pin = 3\n'
    )
    monkeypatch.setenv("LOCKER_CONFIG", str(path))
    app = create_app()
    assert app.extensions["locker_config"].path == str(path)
    app.extensions["locker_db"].dispose()


def test_a_database_without_the_schema_is_refused(tmp_path):
    config = make_config(tmp_path)
    Database(config.db_url).dispose()
    with pytest.raises(LockerError, match="locker init"):
        create_app({"TESTING": True}, config=config)


def test_one_database_per_app(app, client, auth):
    db = app.extensions["locker_db"]
    auth.login()
    client.get("/")
    assert app.extensions["locker_db"] is db


@pytest.mark.parametrize("path", ["/login", "/healthz", "/api/status", "/", "/static/panel.css"])
def test_every_response_carries_the_security_headers(client, path):
    with client.get(path) as response:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
    assert "default-src 'self'" in SECURITY_HEADERS["Content-Security-Policy"]


def test_errors_carry_the_security_headers_too(client, auth):
    auth.login()
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Error 404" in response.get_data(as_text=True)


def test_pages_are_not_cached(client, auth):
    auth.login()
    assert client.get("/").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.html")), ids=lambda p: p.name)
def test_templates_keep_to_the_content_security_policy(template):
    text = template.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", text), "inline script"
    assert not re.search(r"\son[a-z]+=", text), "inline event handler"
    assert not re.search(r"\sstyle=", text), "inline style"
    assert "|safe" not in text and "Markup(" not in text
    assert "http://" not in text and "https://" not in text
