"""The command line as an installer meets it: --config anywhere, one-line usage errors,
"did you mean", and ``locker init`` that asks before writing to /etc."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from locker_app.cli import main
from locker_app.cli_group import LockerGroup, hoist_config


@pytest.fixture
def config_file(tmp_path, monkeypatch):
    monkeypatch.delenv("LOCKER_CONFIG", raising=False)
    path = tmp_path / "config.toml"
    assert CliRunner().invoke(main, ["init", "--config", str(path)]).exit_code == 0
    return path


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


@pytest.mark.parametrize("where", ["before", "after", "equals-after", "at-the-end"])
def test_config_is_taken_before_or_after_the_command(config_file, where):
    path = str(config_file)
    args = {
        "before": ["--config", path, "staff", "list"],
        "after": ["staff", "--config", path, "list"],
        "equals-after": ["staff", "list", f"--config={path}"],
        "at-the-end": ["staff", "list", "--config", path],
    }[where]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "nobody yet" in result.output


def test_init_takes_config_after_the_command(tmp_path, monkeypatch):
    monkeypatch.delenv("LOCKER_CONFIG", raising=False)
    result = run("init", "--config", str(tmp_path / "here" / "config.toml"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "here" / "config.toml").exists()
    assert (tmp_path / "here" / "locker.db").exists()


def test_the_last_config_wins_and_an_argument_after_double_dash_is_left_alone():
    assert hoist_config(["a", "--config", "x", "b", "--config=y"]) == ["--config=y", "a", "b"]
    assert hoist_config(["a", "--", "--config", "x"]) == ["a", "--", "--config", "x"]


def test_a_group_registered_elsewhere_takes_config_after_its_commands():
    """A group of subcommands added the way other modules add theirs (main.group())."""
    seen = {}

    @click.group(cls=LockerGroup)
    @click.option("--config", "config_file")
    def root(config_file):
        seen["config"] = config_file

    @root.group()
    def hub():
        """A group as another module would register it."""

    @hub.group()
    def site():
        """A group inside it."""

    @site.command("add")
    @click.argument("name")
    def site_add(name):
        seen["name"] = name

    assert isinstance(hub, LockerGroup) and isinstance(site, LockerGroup)
    result = CliRunner().invoke(root, ["hub", "site", "add", "north", "--config", "c.toml"])
    assert result.exit_code == 0, result.output
    assert seen == {"config": "c.toml", "name": "north"}
    typo = CliRunner().invoke(root, ["hub", "sit", "add", "north"])
    assert typo.exit_code == 2
    assert typo.output.strip().count("\n") == 0
    assert "did you mean 'site'?" in typo.output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["stafff", "list"], "locker has no command 'stafff' (did you mean 'staff'?)"),
        (["staff", "lst"], "locker staff has no command 'lst' (did you mean 'list'?)"),
        (["staff", "add"], "Missing argument 'NAME'"),
        (["user", "add", "x", "--role", "boss"], "'boss' is not one of"),
        (["log", "export", "--frmat", "csv"], "Did you mean '--format'?"),
        (["init", "--config"], "--config needs a PATH after it"),
    ],
)
def test_a_usage_mistake_is_one_error_line_and_exit_2(args, expected):
    result = run(*args)
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: ")
    assert expected in lines[0]
    assert "Usage:" not in result.output


def test_help_and_version_still_work():
    assert run("--help").exit_code == 0
    assert run("staff", "--help").exit_code == 0
    assert "locker, version" in run("--version").output


def test_a_misspelt_config_key_gets_a_did_you_mean(config_file):
    text = config_file.read_text().replace("[rules]\n", "[rules]\nbreak_grase_min = 2\n", 1)
    config_file.write_text(text)
    result = run("staff", "list", "--config", str(config_file))
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: rules.break_grase_min: unknown key (did you mean 'rules.break_grace_min'?)"
    )


def test_init_without_a_config_path_says_where_and_needs_system_when_nobody_can_answer(
    monkeypatch,
):
    monkeypatch.delenv("LOCKER_CONFIG", raising=False)
    result = run("init")  # the runner's stdin is not a terminal
    assert result.exit_code == 2
    assert "/etc/nursery-locker/config.toml" in result.output
    assert "/var/lib/nursery-locker" in result.output
    assert "--system" in result.output and "--config PATH" in result.output


def test_init_without_a_config_path_asks_at_a_terminal_and_no_writes_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("LOCKER_CONFIG", raising=False)
    monkeypatch.setattr("locker_app.cli.config_path", lambda explicit: tmp_path / "etc" / "c.toml")
    monkeypatch.setattr("locker_app.cli.stdin_is_a_terminal", lambda: True)
    result = run("init", input="n\n")
    assert result.exit_code == 1
    assert "Use the system-wide places?" in result.output
    assert "error: nothing was written" in result.output
    assert not (tmp_path / "etc").exists()


def test_init_with_system_does_not_ask(monkeypatch, tmp_path):
    monkeypatch.delenv("LOCKER_CONFIG", raising=False)
    monkeypatch.setattr("locker_app.cli.config_path", lambda explicit: tmp_path / "c.toml")
    result = run("init", "--system")
    assert result.exit_code == 0, result.output
    assert "Use the system-wide places?" not in result.output
    assert (tmp_path / "c.toml").exists()
