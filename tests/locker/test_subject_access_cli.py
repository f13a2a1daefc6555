"""``locker person export``: the ZIP, its mode, the log entry, and one-line errors."""

from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from locker import events as ev
from locker.config import load_config
from locker.db import Database
from locker.models import Event
from locker_app.cli import main


@pytest.fixture
def cli(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCKER_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("USER", "sam")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args):
        return runner.invoke(main, list(args), catch_exceptions=False)

    assert run("init").exit_code == 0
    assert run("staff", "add", "Aisha Khan", "--badge", "A4B5C6D7").exit_code == 0
    return run


def _last_event(tmp_path):
    db = Database(load_config(tmp_path / "config.toml").db_url)
    try:
        with db.read() as session:
            return session.scalars(select(Event).order_by(Event.id.desc())).first()
    finally:
        db.dispose()


def test_export_by_name_writes_a_private_zip_and_logs_it(cli, tmp_path):
    result = cli("person", "export", "Aisha Khan", "--out", "aisha.zip")
    assert result.exit_code == 0, result.output
    path = tmp_path / "aisha.zip"
    assert path.stat().st_mode & 0o777 == 0o600
    with zipfile.ZipFile(path) as archive:
        assert {"person.json", "badges.json", "events.json", "summary.html"} <= set(
            archive.namelist()
        )
        assert json.loads(archive.read("badges.json"))[0]["uid"] == "A4B5C6D7"
    event = _last_event(tmp_path)
    assert (event.kind, event.actor, event.person_id) == (ev.PERSON_EXPORTED, "cli:sam", 1)
    assert json.loads(event.details) == {"via": "cli"}


def test_export_by_id_names_the_file_without_the_name(cli, tmp_path):
    result = cli("--config", str(tmp_path / "config.toml"), "person", "export", "1")
    assert result.exit_code == 0, result.output
    [made] = tmp_path.glob("access-request-person1-*.zip")
    assert "Aisha" not in made.name


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Nobody"], "there is nobody with the name 'Nobody'"),
        (["1", "--out", "aisha.txt"], "should end in .zip"),
        (["1", "--out", "missing-dir/aisha.zip"], "No such file or directory"),
    ],
)
def test_mistakes_are_one_line_and_log_nothing(cli, tmp_path, args, message):
    before = _last_event(tmp_path).id
    result = cli("person", "export", *args)
    assert result.exit_code == 1
    assert result.output.startswith("error: ") and message in result.output
    assert "Traceback" not in result.output
    assert _last_event(tmp_path).id == before


def test_an_existing_file_is_never_overwritten(cli, tmp_path):
    (tmp_path / "aisha.zip").write_bytes(b"somebody else's export")
    result = cli("person", "export", "1", "--out", "aisha.zip")
    assert result.exit_code == 1 and "already exists" in result.output
    assert (tmp_path / "aisha.zip").read_bytes() == b"somebody else's export"
