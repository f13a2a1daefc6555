"""``locker notify test``: real sends, clear errors, secrets kept out of sight."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from locker.db import Database
from locker.demo import write_demo_config
from locker.errors import ConfigError
from locker.models import Event
from locker.notify_policy import Destination, NotifyConfig
from locker_app.cli import main
from locker_app.notify.channel import check_destinations
from tests.support.bench import ALICE, Bench
from tests.support.nursery import make_config
from tests.support.receivers import free_port


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """``locker`` on a fresh config; ``run(notify=TOML)`` appends a [notify] section first."""
    config = tmp_path / "config.toml"
    monkeypatch.setenv("LOCKER_CONFIG", str(config))
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    base = config.read_text()

    def run(*args, notify: str = ""):
        config.write_text(base + "\n" + notify)
        return runner.invoke(main, list(args), catch_exceptions=False)

    return run


def destinations(*pairs: tuple[str, str]) -> str:
    return "".join(f'[[notify.destinations]]\nname = "{n}"\nurl = "{u}"\n\n' for n, u in pairs)


def logged(tmp_path, kind):
    db = Database(f"sqlite:///{tmp_path / 'locker.db'}")
    with db.read() as session:
        rows = session.scalars(select(Event).where(Event.kind == kind)).all()
    db.dispose()
    return [json.loads(e.details) for e in rows]


def test_a_test_message_reaches_the_smtp_server_and_the_receiver(cli, smtp, receiver, tmp_path):
    toml = destinations(("office", smtp.url()), ("phone", receiver.url()))
    result = cli("notify", "test", notify=toml)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["office: sent", "phone: sent"]
    assert smtp.subjects() == ["[Our Nursery] Test message"]
    assert receiver.bodies[0]["title"] == "[Our Nursery] Test message"
    assert sorted(d["destination"] for d in logged(tmp_path, "notify.sent")) == ["office", "phone"]


def test_one_destination_by_name_and_an_unknown_name(cli, smtp, receiver):
    toml = destinations(("office", smtp.url()), ("phone", receiver.url()))
    assert cli("notify", "test", "phone", notify=toml).output == "phone: sent\n"
    assert smtp.messages == []
    unknown = cli("notify", "test", "fax", notify=toml)
    assert unknown.exit_code == 1
    assert "no destination is called 'fax' (there are: office, phone)" in unknown.output


def test_an_unreachable_host_is_told_and_logged_without_the_url(cli, tmp_path):
    port = free_port()  # nothing listens there
    toml = destinations(("office", f"mailto://127.0.0.1:{port}?from=a@b.test&to=c@d.test"))
    result = cli("notify", "test", notify=toml)
    assert result.exit_code == 1
    assert result.output.startswith("office: NOT SENT: ")
    (failed,) = logged(tmp_path, "notify.failed")
    assert failed["destination"] == "office" and str(port) not in json.dumps(failed)


def test_an_unknown_scheme_is_refused_before_anything_is_sent(cli, receiver, tmp_path):
    toml = destinations(("phone", receiver.url()), ("office", "smtpx://mail.example.org"))
    result = cli("notify", "test", notify=toml)
    assert result.exit_code == 1
    assert result.output == (
        "error: notify.destinations[1].url: unknown scheme 'smtpx': not a service apprise "
        "knows (destination 'office')\n"
    )
    assert receiver.bodies == [] and logged(tmp_path, "notify.sent") == []


# Unusable for apprise though well formed: the core's check lets them through.
UNUSABLE = [
    ("smtpx://mail.example.org", "unknown scheme 'smtpx': not a service apprise knows"),
    ("mailto://nobody", "not a valid mailto:// URL (see apprise's wiki)"),
]


@pytest.mark.parametrize(("url", "why"), UNUSABLE, ids=["scheme", "url"])
def test_the_panel_refuses_to_start_on_an_unusable_destination(cli, url, why):
    result = cli("web", notify=destinations(("office", url)))
    assert result.exit_code == 1
    assert result.output == f"error: notify.destinations[0].url: {why} (destination 'office')\n"


def test_the_demo_refuses_to_start_on_an_unusable_destination(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr("subprocess.Popen", lambda *a, **k: started.append(a))
    data = tmp_path / "demo"
    data.mkdir()
    start = datetime(2026, 3, 2, 7, 20, tzinfo=UTC)
    write_demo_config(data / "config.toml", port=free_port(), start=start, speed=1.0)
    with (data / "config.toml").open("a") as config:
        config.write("\n" + destinations(("phone", "ntfy://topic"), ("office", "mailto://x")))
    result = CliRunner().invoke(main, ["demo", "--data-dir", str(data)])
    assert result.exit_code == 1
    assert "notify.destinations[1].url: not a valid mailto:// URL" in result.output
    assert "(destination 'office')" in result.output
    assert started == []  # no daemon was started


@pytest.mark.parametrize(("url", "why"), UNUSABLE, ids=["scheme", "url"])
def test_the_daemon_runs_on_a_config_the_panel_refuses(tmp_path, url, why):
    # The daemon never sends: a bad destination must not stop the lockers.
    config = dataclasses.replace(
        make_config(), notify=NotifyConfig(destinations=(Destination("office", url),))
    )
    with pytest.raises(ConfigError, match=re.escape(why)):
        check_destinations(config)
    bench = Bench(tmp_path, config=config)
    try:
        bench.go_to("07:55")
        bench.deposit(ALICE, 1)
        assert bench.daemon.healthy
    finally:
        bench.close()


@pytest.mark.parametrize(
    ("notify", "error"),
    [
        (destinations(("office", "not a url")), "notify.destinations[0].url: not an apprise URL"),
        (
            destinations(("office", "json://h/x")) + 'kinds = ["doors"]\n',
            "notify.destinations[0].kinds: unknown alert kind 'doors'",
        ),
        ('[notify]\nquiet_hours = "late"\n', "notify.quiet_hours: expected HH:MM-HH:MM"),
        (
            destinations(("a", "json://h/x"), ("a", "json://h/y")),
            "notify.destinations[1].name: 'a' is used twice",
        ),
    ],
)
def test_a_bad_notify_section_is_a_one_line_error(cli, notify, error):
    result = cli("staff", "list", notify=notify)
    assert result.exit_code == 1
    assert error in result.output


def test_secrets_come_from_their_own_file_and_never_show(cli, smtp, tmp_path):
    secrets = tmp_path / "notify-secrets.toml"
    secrets.write_text(f'mail_port = "{smtp.port}"\n')
    secrets.chmod(0o644)
    url = "mailto://127.0.0.1:${mail_port}?from=a@b.test&to=c@d.test"
    toml = f'[notify]\nsecrets_file = "{secrets}"\n\n' + destinations(("office", url))
    readable = cli("notify", "test", notify=toml)
    assert "readable by every user; chmod 640" in readable.output and smtp.messages == []
    secrets.chmod(0o640)
    assert cli("notify", "test", notify=toml).output == "office: sent\n"
    assert len(smtp.messages) == 1
    missing = toml.replace("${mail_port}", "${mail_pass}")
    assert "the secrets file has no mail_pass" in cli("notify", "test", notify=missing).output
