"""The command line: what works, and one-line errors for a user's mistakes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from locker.accounts import check_password, find_account, list_tokens
from locker.db import Database
from locker_app.cli import main


def test_init_writes_config_secret_and_database(cli, tmp_path):
    assert (tmp_path / "config.toml").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "locker.db").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "locker.db").exists()
    again = cli("init")
    assert again.exit_code == 0 and "wrote a default config" not in again.output


def test_init_takes_the_world_off_an_old_database_and_makes_a_new_data_dir_private(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("LOCKER_CONFIG", str(tmp_path / "etc" / "config.toml"))
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    database = tmp_path / "etc" / "locker.db"
    database.chmod(0o644)
    assert runner.invoke(main, ["init"]).exit_code == 0
    assert database.stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "etc").stat().st_mode & 0o007 == 0
    for name in ("config.toml", "locker.db", "secret_key"):
        assert (tmp_path / "etc" / name).stat().st_mode & 0o007 == 0, name


def test_staff_badges_and_listing(cli):
    assert cli("staff", "add", "Alice Smith", "--badge", "de:ad:be:ef").exit_code == 0
    assert cli("staff", "add", "Mary", "--role", "manager", "--slot", "2").exit_code == 0
    listing = cli("staff", "list").output
    assert "Alice Smith" in listing and "DEADBEEF" in listing and "manager" in listing
    assert cli("badge", "revoke", "DEADBEEF").exit_code == 0
    assert "DEADBEEF" not in cli("staff", "list").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("staff", "add", "Bob", "--badge", "xyz"), "is not 4, 7 or 10 bytes of hex"),
        (("staff", "add", "Bob", "--slot", "99"), "there is no slot 99"),
        (("badge", "revoke", "01020304"), "no badge 01020304"),
        (("token", "create", "nobody"), "no panel account 'nobody'"),
        (("rota", "import", "/nonexistent.csv"), "No such file"),
    ],
)
def test_user_mistakes_are_one_line_errors(cli, args, message):
    result = cli(*args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_duplicate_name_and_badge_are_refused(cli):
    cli("staff", "add", "Alice", "--badge", "A1A1A1A1")
    assert "already somebody called" in cli("staff", "add", "Alice").output
    assert "already in use" in cli("staff", "add", "Bob", "--badge", "A1A1A1A1").output


def test_user_add_reads_the_password_from_stdin_and_token_create(cli):
    assert cli("user", "add", "mary", "--role", "manager", input="a long password\n").exit_code == 0
    assert "at least 10" in cli("user", "add", "bob", "--role", "viewer", input="short\n").output
    token = cli("token", "create", "mary").output.strip()
    assert token.startswith("lk_") and len(token) > 30


def tokens(tmp_path) -> dict[int, tuple[str, bool]]:
    """Every token: id -> (account, revoked)."""
    db = Database(f"sqlite:///{tmp_path / 'locker.db'}")
    try:
        with db.read() as session:
            return {t.id: (t.username, t.revoked_at is not None) for t in list_tokens(session)}
    finally:
        db.dispose()


def test_token_list_and_revoke(cli, tmp_path):
    assert "no API tokens yet" in cli("token", "list").output
    cli("user", "add", "mary", "--role", "manager", input="a long password\n")
    cli("user", "add", "tim", "--role", "viewer", input="a long password\n")
    secret = cli("token", "create", "mary").output.strip()
    cli("token", "create", "tim")
    listing = cli("token", "list").output.splitlines()
    assert listing[0].split() == ["id", "account", "created", "last", "used", "revoked"]
    assert listing[1].split()[:2] == ["1", "mary"] and listing[1].endswith(" -")
    assert secret not in cli("token", "list").output
    done = cli("token", "revoke", "1")
    assert done.exit_code == 0 and "token 1 of mary revoked" in done.output
    assert tokens(tmp_path) == {1: ("mary", True), 2: ("tim", False)}
    assert not cli("token", "list").output.splitlines()[1].endswith(" -")
    again = cli("token", "revoke", "1")
    assert again.exit_code == 1 and "already revoked" in again.output
    assert "there is no API token 9" in cli("token", "revoke", "9").output
    assert cli("token", "revoke", "x").exit_code == 2


def test_user_deactivate_and_activate(cli, tmp_path):
    cli("user", "add", "mary", "--role", "manager", input="a long password\n")
    cli("token", "create", "mary")
    done = cli("user", "deactivate", "mary")
    assert done.exit_code == 0 and "tokens are revoked" in done.output
    assert tokens(tmp_path) == {1: ("mary", True)}
    assert "already deactivated" in cli("user", "deactivate", "mary").output
    assert "is deactivated" in cli("token", "create", "mary").output
    assert "can log in again" in cli("user", "activate", "mary").output
    assert "already active" in cli("user", "activate", "mary").output
    assert "no panel account 'bob'" in cli("user", "deactivate", "bob").output


def test_a_new_password_revokes_the_accounts_tokens(cli, tmp_path):
    cli("user", "add", "mary", "--role", "manager", input="a long password\n")
    cli("token", "create", "mary")
    cli("user", "passwd", "mary", input="another long password\n")
    assert tokens(tmp_path) == {1: ("mary", True)}


def test_user_passwd_sets_a_new_password(cli, tmp_path):
    cli("user", "add", "mary", "--role", "manager", input="a long password\n")
    done = cli("user", "passwd", "mary", input="another long password\n")
    assert done.exit_code == 0 and "new password set for mary" in done.output
    assert "at least 10" in cli("user", "passwd", "mary", input="short\n").output
    assert "no panel account 'bob'" in cli("user", "passwd", "bob", input="long enough pw\n").output
    db = Database(f"sqlite:///{tmp_path / 'locker.db'}")
    try:
        with db.read() as session:
            mary = find_account(session, "mary")
            assert check_password(mary, "another long password")
            assert not check_password(mary, "a long password")
    finally:
        db.dispose()


def test_rota_import_rejects_a_bad_file_naming_rows(cli, tmp_path):
    cli("staff", "add", "Alice")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,name,start,end,breaks\n"
        "2026-01-05,Alice,08:00,16:00,12:00-12:30\n"
        "2026-01-06,Zed,08:00,16:00,\n"
    )
    result = cli("rota", "import", str(bad))
    assert result.exit_code == 1
    assert "line 3" in result.output and "Zed" in result.output
    good = tmp_path / "good.csv"
    good.write_text("date,name,start,end,breaks\n2026-01-05,Alice,08:00,16:00,12:00-12:30\n")
    assert "1 added" in cli("rota", "import", str(good)).output
    assert "1 unchanged" in cli("rota", "import", str(good)).output


def test_log_verify_and_export(cli):
    cli("staff", "add", "Alice", "--badge", "A1A1A1A1")
    verified = cli("log", "verify")
    assert verified.exit_code == 0 and verified.output.startswith("ok: 2 events")
    lines = cli("log", "export", "--format", "jsonl").output.strip().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["config.changed"] * 2
    csv_out = cli("log", "export", "--since", "2000-01-01").output
    assert csv_out.splitlines()[0].startswith("id,ts,kind")
    assert "not a date" in cli("log", "export", "--since", "yesterday").output


def test_bad_config_is_a_one_line_error(cli, tmp_path):
    (tmp_path / "config.toml").write_text("colour = 'red'\n")
    result = cli("staff", "list")
    assert result.exit_code == 1
    assert result.output.strip() == "error: colour: unknown key"


_COLUMNS = ("ts", "kind", "actor", "slot", "person_id", "details", "prev_hash", "hash")
SWAP_ROWS_2_AND_3 = "CREATE TEMP TABLE t AS SELECT * FROM events WHERE id IN (2, 3);" + "".join(
    f"UPDATE events SET {', '.join(f'{c} = (SELECT {c} FROM t WHERE id = {b})' for c in _COLUMNS)}"
    f" WHERE id = {a};"
    for a, b in ((2, 3), (3, 2))
)


@pytest.mark.parametrize(
    ("tamper", "first_bad"),
    [
        ("UPDATE events SET actor = 'someone else' WHERE id = 3", 3),
        # The chain holds a commitment to the name: altering it shows.
        ('UPDATE events SET details = replace(details, \'"c":"\', \'"c":"0\') WHERE id = 3', 3),
        ("DELETE FROM events WHERE id = 2", 2),
        (
            "UPDATE events SET id = -1 WHERE id = 2; UPDATE events SET id = 2 WHERE id = 3;"
            "UPDATE events SET id = 3 WHERE id = -1",
            2,
        ),
        (SWAP_ROWS_2_AND_3, 2),
        (
            "INSERT INTO events SELECT 99, ts, kind, actor, slot, person_id, details, prev_hash,"
            " hash FROM events WHERE id = 6",
            7,
        ),
    ],
)
def test_log_verify_catches_edits_to_the_database_file(cli, tmp_path, tamper, first_bad):
    """An attacker with the database file edits, deletes or reorders rows."""
    import sqlite3

    for name, uid in (("Ann", "A1A1A1A1"), ("Bea", "B1B1B1B1"), ("Cal", "C1C1C1C1")):
        cli("staff", "add", name, "--badge", uid)
    assert cli("log", "verify").exit_code == 0
    with sqlite3.connect(tmp_path / "locker.db") as conn:
        conn.executescript(tamper)
    result = cli("log", "verify")
    assert result.exit_code == 3
    assert f"chain broken at event {first_bad}" in result.output


def take_checkpoint(tmp_path) -> tuple[int, str]:
    """A daily checkpoint, as the daemon takes it: ``(event id, hash)``, as the report prints."""
    from locker.clock import SimulatedClock
    from locker.db import Database
    from locker.log import write_checkpoint

    db = Database(f"sqlite:///{tmp_path / 'locker.db'}")
    try:
        with db.write() as session:
            taken = write_checkpoint(session, SimulatedClock().now())
            session.commit()
            return taken.event_id, taken.hash
    finally:
        db.dispose()


def test_log_verify_holds_the_log_against_printed_checkpoints(cli, tmp_path):
    for name, uid in (("Ann", "A1A1A1A1"), ("Bea", "B1B1B1B1")):
        cli("staff", "add", name, "--badge", uid)
    event_id, digest = take_checkpoint(tmp_path)
    cli("staff", "add", "Cal")
    result = cli(
        "log",
        "verify",
        "--checkpoint",
        f"{event_id}:{digest}",
        "--checkpoint",
        f"{event_id}:{digest.upper()}",
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: 6 events verified")
    assert result.output.count(f"ok: event {event_id} carries the hash printed on paper") == 2


def test_log_verify_names_a_checkpoint_that_does_not_match_paper(cli, tmp_path):
    cli("staff", "add", "Ann", "--badge", "A1A1A1A1")
    event_id, digest = take_checkpoint(tmp_path)
    printed = "f" * 64
    result = cli("log", "verify", "--checkpoint", f"{event_id}:{printed}")
    assert result.exit_code == 3
    assert result.output.startswith("ok: 3 events verified")  # the chain agrees with itself
    assert (
        f"error: checkpoint does not match paper: event {event_id} carries hash {digest}, "
        f"but the paper says {printed}"
    ) in result.output
    result = cli(
        "log", "verify", "--checkpoint", f"{event_id}:{digest}", "--checkpoint", f"99:{digest}"
    )
    assert result.exit_code == 3
    assert f"ok: event {event_id} carries the hash printed on paper" in result.output
    assert "error: checkpoint does not match paper: event 99 is not in the log" in result.output


def test_log_verify_names_a_broken_chain_and_a_mismatch_together(cli, tmp_path):
    import sqlite3

    cli("staff", "add", "Ann", "--badge", "A1A1A1A1")
    event_id, digest = take_checkpoint(tmp_path)
    with sqlite3.connect(tmp_path / "locker.db") as conn:
        conn.execute("UPDATE events SET hash = ? WHERE id = ?", ("e" * 64, event_id))
    result = cli("log", "verify", "--checkpoint", f"{event_id}:{digest}")
    assert result.exit_code == 3
    assert f"error: chain broken at event {event_id}:" in result.output
    assert f"event {event_id} carries hash {'e' * 64}" in result.output


@pytest.mark.parametrize(
    "printed",
    [
        "12",
        "12:",
        ":" + "a" * 64,
        "x:" + "a" * 64,
        "12:" + "a" * 63,
        "12:" + "a" * 65,
        "12:" + "g" * 64,
        "0:" + "a" * 64,
        "-3:" + "a" * 64,
        "9" * 30 + ":" + "a" * 64,
    ],
)
def test_a_malformed_checkpoint_is_a_one_line_error(cli, printed):
    result = cli("log", "verify", "--checkpoint", printed)
    assert result.exit_code == 1
    assert result.output.startswith(f"error: --checkpoint {printed!r} is not ID:HASH")
    assert result.output.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ("--until", "9999-12-31"),
        ("--since", "0001-01-01"),
        ("--since", "9999-12-31T23:59:59+00:00"),
        ("--until", "0001-01-01T00:00:00+14:00"),
    ],
)
def test_log_export_refuses_a_day_out_of_range_in_one_line(cli, args):
    result = cli("log", "export", *args)
    assert result.exit_code == 2
    assert "is out of range" in result.output and "Traceback" not in result.output
