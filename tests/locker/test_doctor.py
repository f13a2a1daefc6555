"""``locker doctor``: every check passing and failing on a fake machine, and the report."""

from __future__ import annotations

import shutil
import socket
import sqlite3
import tomllib
from pathlib import Path

import pytest
import tomli_w
from gpiozero import InputDevice
from gpiozero.pins.mock import MockFactory
from sqlalchemy import event
from sqlalchemy.exc import OperationalError

from locker.config import default_config_text
from locker.db import Database, migrate
from locker.doctor import (
    TIMESYNC_FLAG,
    CheckResult,
    Environment,
    exit_code,
    format_report,
    run_checks,
)
from locker.errors import ConfigError, HardwareError, ReaderNotAnswering
from locker_app.probes import MachineEnvironment

ACTIVE = ["systemctl", "is-active", "nursery-locker-daemon", "nursery-locker-web"]
TIMEDATECTL = ["timedatectl", "show", "-p", "NTPSynchronized", "--value"]
VCGENCMD = ["vcgencmd", "get_throttled"]
PI4 = "Raspberry Pi 4 Model B Rev 1.4"
PI5 = "Raspberry Pi 5 Model B Rev 1.0"


class FakeReader:
    def __init__(self, version: int | Exception):
        self.version = version
        self.closed = False

    def read_version(self) -> int:
        if isinstance(self.version, Exception):
            raise self.version
        return self.version

    def close(self) -> None:
        self.closed = True


class FakeEnvironment(MachineEnvironment):
    """A Pi 4 where everything is right, unless a test says otherwise."""

    def __init__(self):
        self.model = PI4
        self.paths = {"/dev/spidev0.0", TIMESYNC_FLAG}
        self.commands: dict[tuple[str, ...], tuple[int, str]] = {
            tuple(ACTIVE): (0, "active\nactive\n"),
            tuple(TIMEDATECTL): (0, "yes\n"),
            tuple(VCGENCMD): (0, "throttled=0x0\n"),
        }
        self.factory: MockFactory | HardwareError = MockFactory()
        self.reader: FakeReader | HardwareError = FakeReader(0x92)
        self.listening: bool | None = False
        self.claims: list[tuple[int, bool]] = []
        self.claim_notes: dict[int, str] = {}
        self.run_log: list[list[str]] = []

    def run(self, cmd):
        self.run_log.append(list(cmd))
        return self.commands.get(tuple(cmd), (127, ""))

    def exists(self, path):
        return path in self.paths

    def pi_model(self):
        return self.model

    def pin_factory(self, hardware):
        if isinstance(self.factory, HardwareError):
            raise self.factory
        return self.factory

    def claim_input(self, factory, pin, *, pull_up):
        self.claims.append((pin, pull_up))
        super().claim_input(factory, pin, pull_up=pull_up)
        return self.claim_notes.get(pin)

    def open_reader(self, reader):
        if isinstance(self.reader, HardwareError):
            raise self.reader
        return self.reader

    def daemon_listening(self, socket_path):
        return self.listening


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "locker.db"
    db = Database(f"sqlite:///{path}")
    migrate(db.engine)
    db.dispose()
    return path


@pytest.fixture
def env() -> FakeEnvironment:
    """The daemon is stopped here (as it must be for the pin and reader checks)."""
    fake = FakeEnvironment()
    fake.commands[tuple(ACTIVE)] = (3, "inactive\nactive\n")
    return fake


def write_config(directory: Path, **changes) -> Path:
    """The default config with its data in ``directory``; ``changes`` per table."""
    raw = tomllib.loads(default_config_text(data_dir=str(directory)))
    for key, value in changes.items():
        if isinstance(value, dict):
            raw.setdefault(key, {}).update(value)
        else:
            raw[key] = value
    path = directory / "config.toml"
    path.write_bytes(tomli_w.dumps(raw).encode())
    return path


@pytest.fixture
def config_path(tmp_path, migrated_db) -> Path:
    shutil.copy(migrated_db, tmp_path / "locker.db")
    return write_config(tmp_path)


def by_name(results: list[CheckResult]) -> dict[str, CheckResult]:
    return {r.name: r for r in results}


def check(config_path: Path, env: Environment, name: str) -> CheckResult:
    return by_name(run_checks(config_path, environment=env))[name]


# ------------------------------------------------------------- the whole run


def test_everything_right_on_a_pi(config_path, env):
    env.commands[tuple(ACTIVE)] = (0, "active\nactive\n")
    env.listening = True
    results = run_checks(config_path, environment=env)
    assert [r.name for r in results] == [
        "config",
        "database",
        "SPI",
        "badge reader",
        "GPIO pins",
        "lock pins at boot",
        "I/O expanders",
        "clock",
        "power supply",
        "services",
    ]
    statuses = {r.name: r.status for r in results}
    # With the daemon up, the pins and the reader are its own.
    assert statuses == {
        "config": "ok",
        "database": "ok",
        "SPI": "ok",
        "badge reader": "skip",
        "GPIO pins": "skip",
        "lock pins at boot": "ok",
        "I/O expanders": "skip",
        "clock": "ok",
        "power supply": "ok",
        "services": "ok",
    }
    assert exit_code(results) == 0
    assert env.claims == []


def test_daemon_stopped_every_hardware_check_runs(config_path, env):
    results = by_name(run_checks(config_path, environment=env))
    assert results["badge reader"].status == "ok"
    assert "MFRC522 v2.0" in results["badge reader"].message
    assert "0x92" in results["badge reader"].message
    assert env.reader.closed
    assert results["GPIO pins"].status == "ok"
    assert results["services"].status == "fail"


def test_off_a_pi_it_runs_and_says_what_it_cannot_check(config_path):
    env = FakeEnvironment()
    env.model = ""
    env.paths = set()
    env.commands = {}
    results = by_name(run_checks(config_path, environment=env))
    for name in ("SPI", "badge reader", "GPIO pins"):
        assert results[name].status == "skip"
        assert "not a Raspberry Pi" in results[name].message
    assert results["power supply"].status == "skip"
    assert "not a Raspberry Pi" in results["power supply"].message
    assert results["clock"].status == "skip" and "timedatectl" in results["clock"].message
    assert results["services"].status == "skip" and "systemd" in results["services"].message
    assert results["config"].status == results["database"].status == "ok"
    assert results["lock pins at boot"].status == "ok"  # a config fact, true anywhere
    assert exit_code(list(results.values())) == 0
    assert ["vcgencmd", "get_throttled"] not in env.run_log


def test_the_real_environment_runs_here(config_path):
    real = MachineEnvironment()
    if real.is_pi():
        pytest.skip("on a Pi the real environment would claim real pins")
    results = by_name(run_checks(config_path, environment=real))
    assert results["config"].status == "ok"
    assert results["database"].status == "ok"
    assert results["SPI"].status == "skip"
    assert results["GPIO pins"].status == "skip"
    assert all(r.status in ("ok", "fail", "warn", "skip") for r in results.values())


# -------------------------------------------------------------------- config


def test_missing_config_fails_and_everything_else_says_why(tmp_path, env):
    results = run_checks(tmp_path / "nope.toml", environment=env)
    first = results[0]
    assert (first.name, first.status) == ("config", "fail")
    assert "no such config file" in first.message
    assert f"locker --config {tmp_path / 'nope.toml'} init" in first.fix
    for name in ("database", "SPI", "badge reader", "GPIO pins", "lock pins at boot"):
        assert by_name(results)[name].status == "skip"
        assert by_name(results)[name].message == "needs a valid config"
    assert exit_code(results) == 1


def test_invalid_config_names_the_key_and_the_file(tmp_path, env):
    path = write_config(tmp_path, reader={"rst_pin": 17})
    result = run_checks(path, environment=env)[0]
    assert result.status == "fail"
    assert "GPIO17 is already used by reader.rst_pin" in result.message
    assert result.fix == f"edit the file at {path}"


def test_unreadable_config_says_to_run_as_root(tmp_path, env, monkeypatch):
    path = write_config(tmp_path)
    monkeypatch.setattr("locker.doctor.load_config", _refuse_to_read)
    monkeypatch.setattr("locker.doctor.os.access", lambda *_: False)
    result = run_checks(path, environment=env)[0]
    assert result.status == "fail"
    assert result.fix == f"run it as root: sudo locker --config {path} doctor"


def _refuse_to_read(path):
    raise ConfigError(f"{path}: cannot read: Permission denied")


# ------------------------------------------------------------------ database


def test_database_missing_is_not_created(tmp_path, env):
    path = write_config(tmp_path)
    result = check(path, env, "database")
    assert result.status == "fail"
    assert f"no database at {tmp_path / 'locker.db'}" == result.message
    assert "init" in result.fix
    assert not (tmp_path / "locker.db").exists()


def test_database_without_schema(tmp_path, env):
    sqlite3.connect(tmp_path / "locker.db").close()
    result = check(write_config(tmp_path), env, "database")
    assert result.status == "fail"
    assert "has no schema" in result.message
    assert "init" in result.fix


def test_database_that_cannot_be_written(config_path, env):
    class ReadOnly(FakeEnvironment):
        def open_database(self, url):
            db = Database(url)

            @event.listens_for(db.engine, "before_cursor_execute")
            def refuse(conn, cursor, statement, *args):
                if statement.startswith("UPDATE"):
                    raise OperationalError(
                        statement,
                        {},
                        sqlite3.OperationalError("attempt to write a readonly database"),
                    )

            return db

    result = check(config_path, ReadOnly(), "database")
    assert result.status == "fail"
    assert "attempt to write a readonly database" in result.message
    assert "chmod -R g+rwX" in result.fix


def test_a_damaged_database_fails_the_full_integrity_check(config_path, env):
    db_file = config_path.parent / "locker.db"
    with sqlite3.connect(db_file) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
    with db_file.open("r+b") as damaged:
        for offset in range(2 * page, db_file.stat().st_size - page, 2 * page):
            damaged.seek(offset + 64)
            damaged.write(bytes(range(256)) * 2)
    result = check(config_path, env, "database")
    assert result.status == "fail"
    assert "is damaged" in result.message
    assert "restore the newest backup" in result.fix


def test_database_in_the_installed_layout_must_be_group_writable(config_path, env):
    data = config_path.parent
    data.chmod(0o2770)
    db_file = data / "locker.db"
    db_file.chmod(0o660)
    assert check(config_path, env, "database").status == "ok"
    db_file.chmod(0o640)  # as SQLite makes a database root creates with umask 022
    result = check(config_path, env, "database")
    assert result.status == "fail"
    assert "not readable and writable by the group" in result.message
    assert result.fix.endswith(f"&& sudo chmod g+rw {db_file}")


# ----------------------------------------------------------------------- SPI


def test_spi_missing(config_path, env):
    env.paths.discard("/dev/spidev0.0")
    result = check(config_path, env, "SPI")
    assert result.status == "fail"
    assert "/dev/spidev0.0 does not exist" in result.message
    assert "raspi-config nonint do_spi 0" in result.fix
    assert "dtparam=spi=on" in result.fix
    reader = check(config_path, env, "badge reader")
    assert reader.status == "skip" and "see SPI" in reader.message


def test_spi_on_another_bus_names_its_overlay(tmp_path, migrated_db, env):
    shutil.copy(migrated_db, tmp_path / "locker.db")
    path = write_config(tmp_path, reader={"spi_bus": 1, "spi_device": 1})
    result = check(path, env, "SPI")
    assert result.status == "fail"
    assert "dtoverlay=spi1-2cs" in result.fix


# -------------------------------------------------------------------- reader


def test_reader_not_answering(config_path, env):
    env.reader = FakeReader(ReaderNotAnswering("version register reads 0x00"))
    result = check(config_path, env, "badge reader")
    assert result.status == "fail"
    assert "version register reads 0x00" in result.message
    assert "3.3 V" in result.fix and "GPIO25" in result.fix
    assert env.reader.closed


def test_reader_driver_that_cannot_load_on_a_pi_5(config_path, env):
    env.model = PI5
    env.reader = HardwareError(
        "cannot load the MFRC522 driver: This module can only be run on a Raspberry Pi!"
    )
    result = check(config_path, env, "badge reader")
    assert result.status == "fail"
    assert "rpi-lgpio" in result.fix


def test_reader_left_alone_while_the_daemon_listens(config_path, env):
    env.listening = True
    env.reader = HardwareError("must not be opened")
    result = check(config_path, env, "badge reader")
    assert result.status == "skip"
    assert "daemon is running" in result.message and "systemctl stop" in result.message


def test_reader_left_alone_when_the_daemon_cannot_be_told(config_path, env):
    env.listening = None
    result = check(config_path, env, "badge reader")
    assert result.status == "skip" and "cannot tell" in result.message


# ---------------------------------------------------------------------- pins


def test_every_pin_claimed_as_an_input_with_a_harmless_pull(config_path, env):
    result = check(config_path, env, "GPIO pins")
    assert result.status == "ok"
    assert result.message == "16 pins free and claimable"
    claims = dict(env.claims)
    assert len(claims) == 16
    for lock in (17, 27, 22, 23):  # active-high drivers: pulled down, so off
        assert claims[lock] is False
    for switch in (5, 6, 12, 13, 16, 19, 20, 21, 25):
        assert claims[switch] is True
    for output in (24, 26, 18):
        assert claims[output] is False
    for pin in claims:
        assert env.factory.pin(pin).function == "input"


def test_active_low_lock_pins_are_pulled_up(tmp_path, migrated_db, env):
    shutil.copy(migrated_db, tmp_path / "locker.db")
    path = write_config(tmp_path, lock={"active_high": False})
    check(path, env, "GPIO pins")
    assert dict(env.claims)[17] is True


def test_pin_in_use_fails_naming_the_key(config_path, env):
    held = InputDevice(20, pin_factory=env.factory)  # another program's
    result = check(config_path, env, "GPIO pins")
    held.close()
    assert result.status == "fail"
    assert result.message.startswith("slots[2].sensor_pin: GPIO20:")
    assert "dtoverlay" in result.fix


def test_pin_library_warning_is_passed_on(config_path, env):
    env.claim_notes[18] = "This channel is already in use, continuing anyway."
    result = check(config_path, env, "GPIO pins")
    assert result.status == "warn"
    assert "bank.buzzer_pin (GPIO18): This channel is already in use" in result.message


def test_no_pin_factory(config_path, env):
    env.model = PI5
    env.factory = HardwareError("no GPIO pin factory works here: pin factory 'lgpio': ...")
    result = check(config_path, env, "GPIO pins")
    assert result.status == "fail"
    assert 'pin_factory = "lgpio"' in result.fix


def test_simulated_backend_skips_the_hardware(tmp_path, migrated_db, env):
    shutil.copy(migrated_db, tmp_path / "locker.db")
    path = write_config(tmp_path, hardware={"backend": "simulated"})
    results = by_name(run_checks(path, environment=env))
    for name in ("SPI", "badge reader", "GPIO pins", "lock pins at boot", "clock"):
        assert results[name].status == "skip"
        assert "simulated" in results[name].message


# ----------------------------------------------------------- lock pins at boot


def slots_with_lock_on(tmp_path: Path, pin: int, **changes) -> Path:
    raw = tomllib.loads(default_config_text(data_dir=str(tmp_path)))
    raw["slots"][0]["lock_pin"] = pin
    for key, value in changes.items():
        raw.setdefault(key, {}).update(value)
    path = tmp_path / "config.toml"
    path.write_bytes(tomli_w.dumps(raw).encode())
    return path


def test_default_wiring_is_safe_at_boot(config_path, env):
    result = check(config_path, env, "lock pins at boot")
    assert result.status == "ok"
    assert "de-energised" in result.message


def test_pulse_lock_on_a_pin_pulled_high_at_boot_fails(tmp_path, env):
    result = check(slots_with_lock_on(tmp_path, 4), env, "lock pins at boot")
    assert result.status == "fail"
    assert "slots[0].lock_pin (GPIO4)" in result.message
    assert "GPIO9-27" in result.fix


def test_active_low_pulse_lock_on_a_pin_pulled_low_fails(tmp_path, env):
    path = slots_with_lock_on(tmp_path, 17, lock={"active_high": False})
    result = check(path, env, "lock pins at boot")
    assert result.status == "fail"
    assert "pulled low at boot" in result.message


def test_lock_on_the_uart_warns(tmp_path, env):
    result = check(slots_with_lock_on(tmp_path, 14), env, "lock pins at boot")
    assert result.status == "warn"
    assert "do_serial_cons 1" in result.fix


def test_magnetic_locks_released_during_boot_warn(tmp_path, env):
    path = slots_with_lock_on(tmp_path, 17, lock={"type": "hold", "fail_state": "open"})
    result = check(path, env, "lock pins at boot")
    assert result.status == "warn"
    assert "released from power-on" in result.message
    assert "pull each lock driver's input high" in result.fix


def test_magnetic_locks_on_pins_pulled_high_stay_locked(tmp_path, env):
    raw = tomllib.loads(default_config_text(data_dir=str(tmp_path)))
    raw["lock"]["type"] = "hold"
    raw["lock"]["fail_state"] = "locked"
    for slot, pin in zip(raw["slots"], (1, 2, 3, 4), strict=True):
        slot["lock_pin"] = pin
    path = tmp_path / "config.toml"
    path.write_bytes(tomli_w.dumps(raw).encode())
    result = check(path, env, "lock pins at boot")
    assert result.status == "ok", result
    assert "energised (locked)" in result.message


# --------------------------------------------------------------------- clock


def test_clock_not_synchronised(config_path, env):
    env.paths.discard(TIMESYNC_FLAG)
    env.commands[tuple(TIMEDATECTL)] = (0, "no\n")
    result = check(config_path, env, "clock")
    assert result.status == "fail"
    assert "only managers can" in result.message


def test_clock_synchronised_by_something_else(config_path, env):
    env.paths.discard(TIMESYNC_FLAG)
    result = check(config_path, env, "clock")
    assert result.status == "warn"
    assert "systemd-timesyncd" in result.fix


def test_clock_without_systemd(config_path, env):
    env.paths.discard(TIMESYNC_FLAG)
    env.commands[tuple(TIMEDATECTL)] = (1, "")
    result = check(config_path, env, "clock")
    assert result.status == "skip"
    assert "not available" in result.message


# ------------------------------------------------------------------ services


def test_services_down(config_path, env):
    env.commands[tuple(ACTIVE)] = (3, "failed\nactive\n")
    result = check(config_path, env, "services")
    assert result.status == "fail"
    assert result.message == "nursery-locker-daemon failed, nursery-locker-web active"
    assert result.fix.startswith("sudo systemctl enable --now nursery-locker-daemon;")
    assert "journalctl -u nursery-locker-daemon" in result.fix


def test_service_restarting_warns(config_path, env):
    env.commands[tuple(ACTIVE)] = (3, "activating\nactive\n")
    result = check(config_path, env, "services")
    assert result.status == "warn"


def test_no_systemd(config_path, env):
    env.commands[tuple(ACTIVE)] = (1, "")
    assert check(config_path, env, "services").status == "skip"


# --------------------------------------------------------------------- power


@pytest.mark.parametrize(
    ("answer", "status", "words"),
    [
        ("throttled=0x0", "ok", "no under-voltage"),
        ("throttled=0x50005", "fail", "under-voltage now"),
        ("throttled=0x50000", "warn", "has occurred since boot"),
        ("throttled=0x20000", "warn", "throttled for heat"),
    ],
)
def test_power_supply(config_path, env, answer, status, words):
    env.commands[tuple(VCGENCMD)] = (0, answer + "\n")
    result = check(config_path, env, "power supply")
    assert result.status == status
    assert words in result.message
    if "under-voltage" in words and status != "ok":
        assert "5.1 V / 3 A (Pi 4)" in result.fix and "5 V / 5 A (Pi 5)" in result.fix


def test_power_without_vcgencmd(config_path, env):
    del env.commands[tuple(VCGENCMD)]
    result = check(config_path, env, "power supply")
    assert result.status == "skip" and "not installed" in result.message
    env.commands[tuple(VCGENCMD)] = (255, "VCHI initialization failed\n")
    result = check(config_path, env, "power supply")
    assert result.status == "skip" and "video group" in result.message


# -------------------------------------------------------------------- report


def test_format_report_and_exit_code():
    results = [
        CheckResult("config", "ok", "fine", "not shown"),
        CheckResult("SPI", "fail", "/dev/spidev0.0 does not exist", "enable SPI"),
        CheckResult("clock", "warn", "odd", "use timesyncd"),
        CheckResult("power supply", "skip", "not a Raspberry Pi", "not shown"),
    ]
    assert format_report(results) == (
        "[ ok ] config: fine\n"
        "[fail] SPI: /dev/spidev0.0 does not exist\n"
        "       fix: enable SPI\n"
        "[warn] clock: odd\n"
        "       fix: use timesyncd\n"
        "[skip] power supply: not a Raspberry Pi"
    )
    assert exit_code(results) == 1
    assert exit_code([r for r in results if r.status != "fail"]) == 0
    assert exit_code([]) == 0


def test_default_environment_helpers(tmp_path):
    env = Environment()
    assert env.run(["definitely-not-a-command-here"]) == (127, "")
    assert env.run(["sh", "-c", "echo hi; exit 3"]) == (3, "hi\n")
    assert env.exists(str(tmp_path)) and not env.exists(str(tmp_path / "x"))
    assert env.daemon_listening(str(tmp_path / "daemon.sock")) is False


def test_doorbell_probe_sees_a_listening_daemon(tmp_path):
    from locker.doorbell import Doorbell

    bell = Doorbell(tmp_path / "daemon.sock", lambda: None)
    try:
        assert Environment().daemon_listening(str(tmp_path / "daemon.sock")) is True
    finally:
        bell.close()
    assert Environment().daemon_listening(str(tmp_path / "daemon.sock")) is False
    # A socket file left by a daemon that died: nobody listens on it.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(tmp_path / "stale.sock"))
    stale.close()
    assert Environment().daemon_listening(str(tmp_path / "stale.sock")) is False
