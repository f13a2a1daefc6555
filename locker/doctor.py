"""``locker doctor``: is this Pi ready to hold phones?

Each check returns a :class:`CheckResult` saying ``ok``, ``fail``, ``warn`` or
``skip`` with a message and, when something needs doing, the fix. Every
contact with the machine (commands, device nodes, the board's model, the pins
and the reader) goes through an :class:`Environment`, so tests replace it and
off a Pi the checks that need one say they were skipped and why.

The doctor never drives an output. While the daemon runs it leaves the pins
and the reader alone: the daemon owns them, and RPi.GPIO would let a second
process reconfigure a pin under it.

This module runs the checks and holds those of the software (the config, the
database, the clock, the units); :mod:`locker.doctor_hardware` checks the Pi
itself, :mod:`locker.doctor_expanders` the I/O expanders, and
:mod:`locker.doctor_base` has what they share.
"""

from __future__ import annotations

import grp
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from locker.config import DEFAULT_CONFIG_PATH, Config, load_config
from locker.db import schema_status
from locker.doctor_base import DAEMON_UNIT, WEB_UNIT, CheckResult, Environment
from locker.doctor_expanders import check_expanders
from locker.doctor_hardware import (
    check_lock_pins_at_boot,
    check_pins,
    check_power,
    check_reader,
    check_spi,
)
from locker.doorbell import doorbell_path
from locker.errors import ConfigError

#: What systemd-timesyncd touches when it synchronises; the daemon's SystemClock
#: trusts the clock only once this exists (see ``locker.clock``).
TIMESYNC_FLAG = "/run/systemd/timesync/synchronized"


def run_checks(
    config_path: str | os.PathLike[str], *, environment: Environment | None = None
) -> list[CheckResult]:
    """Run every check against the config at ``config_path``; never raises for a finding."""
    env = environment or Environment()
    path = Path(config_path)
    config_result, config = check_config(path)
    results = [config_result]
    if config is None:
        names = ("database", "SPI", "badge reader", "GPIO pins", "lock pins at boot")
        names += ("I/O expanders",)
        results += [CheckResult(name, "skip", "needs a valid config") for name in names]
        results += [check_clock(env, None), check_power(env), check_services(unit_states(env))]
        return results
    states = unit_states(env)
    daemon_running = _daemon_running(env, config, states)
    results += [
        check_database(env, config),
        check_spi(env, config),
        check_reader(env, config, daemon_running=daemon_running),
        check_pins(env, config, daemon_running=daemon_running),
        check_lock_pins_at_boot(config),
        CheckResult(
            "I/O expanders",
            *check_expanders(config, env.probe_expander, daemon_running=daemon_running),
        ),
        check_clock(env, config),
        check_power(env),
        check_services(states),
    ]
    return results


def format_report(results: Sequence[CheckResult]) -> str:
    """One line per check (``[ ok ] name: message``), each fix indented below its check."""
    lines = []
    for result in results:
        lines.append(f"[{result.status:^4}] {result.name}: {result.message}")
        if result.fix and result.status in ("fail", "warn"):
            lines.append(f"       fix: {result.fix}")
    return "\n".join(lines)


def exit_code(results: Sequence[CheckResult]) -> int:
    """1 if any check failed, else 0 (warnings and skips do not fail)."""
    return 1 if any(r.status == "fail" for r in results) else 0


# ------------------------------------------------------------------ checks


def check_config(path: Path) -> tuple[CheckResult, Config | None]:
    """The config file loads and validates."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        if not path.exists():
            fix = f"write one with `sudo {_locker(path)} init`, then edit it"
        elif not os.access(path, os.R_OK):
            fix = f"run it as root: sudo {_locker(path)} doctor"
        else:
            fix = f"edit the file at {path}"
        return CheckResult("config", "fail", str(exc), fix), None
    slots = len(config.slots)
    message = f"{path}: {slots} slot{'s' if slots != 1 else ''}, {config.hardware.backend} backend"
    return CheckResult("config", "ok", message), config


#: What SQLite says of a damaged file (rather than one it may not write).
DAMAGE_WORDS = ("malformed", "not a database", "corrupt")
DAMAGE_FIX = (
    "stop the daemon, keep a copy of the file, and restore the newest backup "
    "(the printed daily reports carry checkpoints to check it against)"
)


def check_database(env: Environment, config: Config) -> CheckResult:
    """The database exists, is migrated to the newest schema and takes a write lock."""
    name = "database"
    url = config.db_url
    db_file = _sqlite_file(url)
    init_fix = f"sudo {_locker(config.path)} init   (creates or migrates it; data is kept)"
    if db_file is not None and not Path(db_file).exists():
        return CheckResult(name, "fail", f"no database at {db_file}", init_fix)
    db = env.open_database(url)
    try:
        current, head = schema_status(db.engine)
        if current != head:
            state = "has no schema" if current is None else f"is at revision {current}"
            return CheckResult(name, "fail", f"{url} {state}, not {head}", init_fix)
        with db.write() as session:
            # A write that changes nothing: it takes the write lock, so a
            # read-only file, directory or file system fails here.
            session.execute(text("UPDATE alembic_version SET version_num = version_num"))
            session.rollback()
        if db_file is not None:
            # The full check (the daemon runs the quick one at start and nightly).
            with db.engine.connect() as conn:
                found = [r[0] for r in conn.execute(text("PRAGMA integrity_check")).fetchall()]
            if found != ["ok"]:
                problem = "; ".join(map(str, found[:3]))
                return CheckResult(name, "fail", f"{db_file} is damaged: {problem}", DAMAGE_FIX)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        if any(word in reason for word in DAMAGE_WORDS):
            return CheckResult(name, "fail", f"{db_file or url} is damaged: {reason}", DAMAGE_FIX)
        if db_file is None:
            fix = f"check the database server and database_url in {config.path}"
        else:
            where = Path(db_file).parent
            fix = (
                f"make {where} writable by the services: sudo chgrp -R nursery-locker {where} "
                f"&& sudo chmod -R g+rwX {where}"
            )
        return CheckResult(name, "fail", f"cannot write {url}: {reason}", fix)
    finally:
        db.dispose()
    if db_file is not None:
        problem = _shared_group_problem(Path(db_file))
        if problem:
            return CheckResult(name, "fail", problem[0], problem[1])
    return CheckResult(name, "ok", f"{url} at revision {head}, writable")


def check_clock(env: Environment, config: Config | None) -> CheckResult:
    """The system clock has been synchronised since boot, as the daemon needs it to be."""
    name = "clock"
    if config is not None and config.hardware.backend != "gpio":
        return CheckResult(name, "skip", "simulated backend: the daemon runs its own clock")
    flag = env.exists(TIMESYNC_FLAG)
    rc, out = env.run(["timedatectl", "show", "-p", "NTPSynchronized", "--value"])
    answer = out.strip()
    unsync_fix = (
        "connect the Pi to a network with internet access and check "
        "`timedatectl timesync-status`; without one, schedule releases stay suspended "
        "(docs/hardware.md, Time)"
    )
    if flag:
        return CheckResult(name, "ok", "synchronised by systemd-timesyncd since boot")
    if rc != 0 or answer not in ("yes", "no"):
        return CheckResult(
            name,
            "skip",
            "timedatectl is not available here (no systemd); the daemon waits for "
            f"{TIMESYNC_FLAG} before it allows schedule releases",
        )
    if answer == "yes":
        return CheckResult(
            name,
            "warn",
            "the clock is synchronised, but not by systemd-timesyncd: the daemon keeps "
            "schedule releases (breaks, shift ends) suspended",
            "use systemd-timesyncd (sudo apt install systemd-timesyncd, which replaces "
            "chrony or ntp)",
        )
    return CheckResult(
        name,
        "fail",
        "not synchronised since boot: breaks and shift ends do not release devices, "
        "only managers can",
        unsync_fix,
    )


def unit_states(env: Environment) -> dict[str, str] | None:
    """``systemctl is-active`` of the two units, or ``None`` where systemd is not running."""
    units = (DAEMON_UNIT, WEB_UNIT)
    rc, out = env.run(["systemctl", "is-active", *units])
    states = out.split()
    if rc == 127 or len(states) != len(units):
        return None
    return dict(zip(units, states, strict=True))


def check_services(by_unit: dict[str, str] | None) -> CheckResult:
    """The daemon's and the panel's systemd units are active (``by_unit``: :func:`unit_states`)."""
    name = "services"
    if by_unit is None:
        return CheckResult(name, "skip", "systemd is not running here: cannot check the units")
    summary = ", ".join(f"{unit} {state}" for unit, state in by_unit.items())
    down = [unit for unit, state in by_unit.items() if state not in ("active", "activating")]
    if down:
        return CheckResult(
            name,
            "fail",
            summary,
            f"sudo systemctl enable --now {' '.join(down)}; "
            f"see why it stopped with journalctl -u {down[0]} -e",
        )
    if "activating" in by_unit.values():
        return CheckResult(
            name,
            "warn",
            summary,
            f"a unit is starting or restarting; if it stays so, journalctl -u {DAEMON_UNIT} -e",
        )
    return CheckResult(name, "ok", summary)


# ----------------------------------------------------------------- helpers


def _daemon_running(env: Environment, config: Config, states: dict[str, str] | None) -> bool | None:
    """True if the daemon is up: its unit says so, or something listens on its doorbell."""
    if states is not None and states[DAEMON_UNIT] in ("active", "activating", "deactivating"):
        return True
    return env.daemon_listening(str(doorbell_path(config.data_dir)))


def _locker(config_path: str | os.PathLike[str]) -> str:
    """How to call ``locker`` for this config file."""
    if str(config_path) == DEFAULT_CONFIG_PATH:
        return "locker"
    return f"locker --config {config_path}"


def _sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL, ``None`` for another database or an in-memory one."""
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        return None
    return url.removeprefix("sqlite:///").partition("?")[0]


def _shared_group_problem(db_file: Path) -> tuple[str, str] | None:
    """In the installed layout, a database file the services' group cannot write.

    scripts/install.sh makes the data directory setgid and group-writable for
    the group the daemon and the panel share. A file in it that lost the group
    or its group write bit (say, a database recreated by root with umask 022)
    stops one of the services. Without the setgid bit this is not an
    installed data directory, and nothing is said.
    """
    directory = db_file.parent
    dir_stat = directory.stat()
    if not dir_stat.st_mode & stat.S_ISGID:
        return None
    group = _group_name(dir_stat.st_gid)
    for candidate in (db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")):
        try:
            st = candidate.stat()
        except FileNotFoundError:
            continue
        mode = stat.S_IMODE(st.st_mode)
        if st.st_gid != dir_stat.st_gid or mode & 0o060 != 0o060:
            return (
                f"{candidate} is not readable and writable by the group {group} "
                f"(group {_group_name(st.st_gid)}, mode {mode:04o}): one service cannot use it",
                f"sudo chgrp {group} {candidate} && sudo chmod g+rw {candidate}",
            )
    return None


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
