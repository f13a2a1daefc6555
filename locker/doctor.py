"""``locker doctor``: is this Pi ready to hold phones?

Each check returns a :class:`CheckResult` saying ``ok``, ``fail``, ``warn`` or
``skip`` with a message and, when something needs doing, the fix. Every
contact with the machine (commands, device nodes, the board's model, the pins
and the reader) goes through an :class:`Environment`, so tests replace it and
off a Pi the checks that need one say they were skipped and why.

The doctor never drives an output. While the daemon runs it leaves the pins
and the reader alone: the daemon owns them, and RPi.GPIO would let a second
process reconfigure a pin under it.
"""

from __future__ import annotations

import contextlib
import grp
import os
import socket
import stat
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from locker.config import DEFAULT_CONFIG_PATH, Config, HardwareConfig, ReaderConfig, load_config
from locker.config_pins import ExpanderConfig
from locker.db import Database, schema_status
from locker.doctor_expanders import check_expanders
from locker.doorbell import doorbell_path
from locker.errors import ConfigError, HardwareError

Status = Literal["ok", "fail", "warn", "skip"]

DAEMON_UNIT = "nursery-locker-daemon"
WEB_UNIT = "nursery-locker-web"
#: Where the Raspberry Pi firmware names the board.
MODEL_FILE = "/proc/device-tree/model"
#: What systemd-timesyncd touches when it synchronises; the daemon's SystemClock
#: trusts the clock only once this exists (see ``locker.clock``).
TIMESYNC_FLAG = "/run/systemd/timesync/synchronized"
#: GPIOs pulled high from power-on until software changes them (BCM2835/2711
#: datasheet: GPIO0-8 pull up, GPIO9-27 pull down).
PULLED_HIGH_AT_BOOT = frozenset(range(0, 9))
#: The UART's TX and RX: with the serial console on, TX idles high during boot.
UART_PINS = frozenset({14, 15})
#: ``vcgencmd get_throttled`` bits.
UNDER_VOLTAGE_NOW = 1 << 0
THROTTLED_NOW = (1 << 1) | (1 << 2) | (1 << 3)
UNDER_VOLTAGE_SINCE_BOOT = 1 << 16
THROTTLED_SINCE_BOOT = (1 << 17) | (1 << 18) | (1 << 19)
READER_VERSIONS = {0x91: "MFRC522 v1.0", 0x92: "MFRC522 v2.0", 0x88: "FM17522 clone", 0x12: "clone"}
POWER_FIX = "use the official 5.1 V / 3 A (Pi 4) or 5 V / 5 A (Pi 5) supply, with a short cable"


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; ``fix`` says what to do when it is not ``ok``."""

    name: str
    status: Status
    message: str
    fix: str = ""


class BadgeReaderLike(Protocol):
    """What the doctor uses of :class:`hardware.reader.BadgeReader`."""

    def read_version(self) -> int: ...
    def close(self) -> None: ...


class Environment:
    """Everything the doctor asks of the machine; tests pass a subclass.

    The hardware hooks (pins, the reader) are the composition root's
    (:class:`locker_app.probes.MachineEnvironment`): the core imports no
    hardware library. Here they answer that there is no hardware to probe.
    """

    def run(self, cmd: Sequence[str]) -> tuple[int, str]:
        """Run ``cmd``; its exit status and stdout (127 and "" if it is not installed)."""
        try:
            done = subprocess.run(
                list(cmd), capture_output=True, text=True, timeout=10, check=False
            )
        except FileNotFoundError:
            return 127, ""
        except subprocess.TimeoutExpired:
            return 124, ""
        return done.returncode, done.stdout

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists (a device node, a flag file)."""
        return os.path.exists(path)

    def pi_model(self) -> str:
        """The board's model ("Raspberry Pi 4 Model B Rev 1.4"), or "" off a Pi."""
        try:
            model = Path(MODEL_FILE).read_bytes().decode("ascii", "replace").strip("\0\n ")
        except OSError:
            return ""
        return model if model.startswith("Raspberry Pi") else ""

    def is_pi(self) -> bool:
        """Whether this is a Raspberry Pi."""
        return bool(self.pi_model())

    def pin_factory(self, hardware: HardwareConfig) -> Any:
        """The gpiozero pin factory the daemon would use; raises :class:`HardwareError`.

        The core knows no hardware: ``locker doctor`` passes the machine's probes
        (:class:`locker_app.probes.MachineEnvironment`); here there are none.
        """
        raise HardwareError("no hardware probes in this environment")

    def claim_input(self, factory: Any, pin: int, *, pull_up: bool) -> str | None:
        """Claim ``pin`` as an input with the given pull and release it at once.

        Returns what the pin library warned about (RPi.GPIO: "already in use"),
        or ``None``. Raises :class:`HardwareError` if the pin cannot be claimed.
        """
        raise HardwareError(f"GPIO{pin}: no hardware probes in this environment")

    def open_reader(self, reader: ReaderConfig) -> BadgeReaderLike:
        """The real badge reader on this Pi's SPI bus (opened on first use)."""
        raise HardwareError("no hardware probes in this environment")

    def probe_expander(self, expander: ExpanderConfig) -> str | None:
        """``None`` if the MCP23017 answers at its address and reads back, else why not."""
        raise HardwareError("no hardware probes in this environment")

    def daemon_listening(self, socket_path: str) -> bool | None:
        """Whether a daemon listens on its doorbell; ``None`` when it cannot be told.

        Connecting a datagram socket sends nothing: it only succeeds while a
        process has the socket bound.
        """
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            try:
                sock.connect(socket_path)
            except (FileNotFoundError, ConnectionRefusedError):
                return False
            except OSError:
                return None
        return True

    def open_database(self, url: str) -> Database:
        """The product's database at ``url``."""
        return Database(url)


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


def check_spi(env: Environment, config: Config) -> CheckResult:
    """The reader's SPI device node exists."""
    name = "SPI"
    skipped = _hardware_skip(env, config, name)
    if skipped:
        return skipped
    bus, device = config.reader.spi_bus, config.reader.spi_device
    node = f"/dev/spidev{bus}.{device}"
    if env.exists(node):
        return CheckResult(name, "ok", f"{node} is there")
    if bus == 0:
        fix = (
            "enable SPI: sudo raspi-config nonint do_spi 0 (or add dtparam=spi=on to "
            "/boot/firmware/config.txt), then reboot"
        )
    else:
        fix = f"add dtoverlay=spi{bus}-{device + 1}cs to /boot/firmware/config.txt, then reboot"
    return CheckResult(name, "fail", f"{node} does not exist: SPI{bus} is not enabled", fix)


def check_reader(env: Environment, config: Config, *, daemon_running: bool | None) -> CheckResult:
    """The MFRC522 answers its version register."""
    name = "badge reader"
    skipped = _hardware_skip(env, config, name)
    if skipped:
        return skipped
    reader = config.reader
    node = f"/dev/spidev{reader.spi_bus}.{reader.spi_device}"
    if not env.exists(node):
        return CheckResult(name, "skip", f"{node} is missing (see SPI)")
    busy = _daemon_skip(name, daemon_running, "the reader")
    if busy:
        return busy
    wiring_fix = (
        f"check the wiring (docs/hardware.md): 3.3 V not 5 V, SDA to CE{reader.spi_device}, "
        f"SCK, MOSI, MISO, RST to GPIO{reader.rst_pin}, GND; reseat the jumper wires"
    )
    try:
        badge_reader = env.open_reader(reader)
    except HardwareError as exc:
        return CheckResult(name, "fail", str(exc), _driver_fix(env))
    try:
        version = badge_reader.read_version()
    except HardwareError as exc:
        return CheckResult(name, "fail", f"{node}: {exc}", wiring_fix)
    finally:
        with contextlib.suppress(HardwareError):
            badge_reader.close()
    kind = READER_VERSIONS.get(version, "reader")
    return CheckResult(name, "ok", f"{node}: {kind} answers (version 0x{version:02X})")


def check_pins(env: Environment, config: Config, *, daemon_running: bool | None) -> CheckResult:
    """The pin factory can be built and every configured pin can be claimed.

    Each pin is claimed as an input, never an output, and released at once, so
    the check cannot energise a lock: a lock pin gets the pull that holds its
    driver off, the door and sensor inputs their usual pull-up, the LEDs and
    the buzzer a pull-down. Releasing a pin leaves it floating, as the daemon
    does when it stops; the drivers' own pull resistors (docs/hardware.md)
    hold the outputs off then.
    """
    name = "GPIO pins"
    skipped = _hardware_skip(env, config, name)
    if skipped:
        return skipped
    busy = _daemon_skip(name, daemon_running, "the pins")
    if busy:
        return busy
    try:
        factory = env.pin_factory(config.hardware)
    except HardwareError as exc:
        return CheckResult(name, "fail", str(exc), _driver_fix(env))
    failures: list[str] = []
    notes: list[str] = []
    try:
        for key, pin, pull_up in _pins(config):
            try:
                note = env.claim_input(factory, pin, pull_up=pull_up)
            except HardwareError as exc:
                failures.append(f"{key}: {exc}")
                continue
            if note:
                notes.append(f"{key} (GPIO{pin}): {note}")
    finally:
        factory.close()
    count = len(_pins(config))
    if failures:
        return CheckResult(
            name,
            "fail",
            "; ".join(failures),
            "free the pin (another program, or a dtoverlay in /boot/firmware/config.txt, "
            "holds it) or move the wire and the config key to a free GPIO",
        )
    if notes:
        return CheckResult(
            name,
            "warn",
            "; ".join(notes),
            "something else set these pins up (another program or a dtoverlay): free them",
        )
    return CheckResult(name, "ok", f"{count} pins free and claimable")


def check_lock_pins_at_boot(config: Config) -> CheckResult:
    """Every lock is in its locked-safe state from power-on until the daemon starts.

    From power-on GPIO0-8 are pulled high and GPIO9-27 low; the UART's TX
    (GPIO14) idles high while a serial console is on. A pulse lock (solenoid
    latch) must then be de-energised: energised it is open, and a solenoid
    held on for a whole boot overheats. A hold lock (magnetic) is locked only
    while energised, so on a pin that keeps it off it is open until the daemon
    starts: that is a warning, as a fail-safe lock without power is open too.
    """
    name = "lock pins at boot"
    if config.hardware.backend != "gpio":
        return CheckResult(name, "skip", "simulated backend: no real pins")
    active_high = config.lock.active_high
    hold = config.lock.type == "hold"
    wrong: list[str] = []
    uart: list[str] = []
    for i, slot in enumerate(config.slots):
        if isinstance(slot.lock_pin, str):
            continue  # an expander line: the I/O expanders check speaks for it
        key = f"slots[{i}].lock_pin (GPIO{slot.lock_pin})"
        if slot.lock_pin in UART_PINS:
            uart.append(key)
            continue
        energised_at_boot = (slot.lock_pin in PULLED_HIGH_AT_BOOT) == active_high
        if energised_at_boot != hold:
            wrong.append(key)
    level = "high" if active_high else "low"
    if wrong and not hold:
        pulled = "high" if active_high else "low"
        return CheckResult(
            name,
            "fail",
            f"{', '.join(wrong)}: pulled {pulled} at boot, so the solenoid is energised "
            "(open) from power-on until the daemon starts",
            "move these locks to GPIO9-27 with an active-high driver (docs/hardware.md)"
            if active_high
            else "use an active-high driver on GPIO9-27 (docs/hardware.md)",
        )
    if uart:
        return CheckResult(
            name,
            "warn",
            f"{', '.join(uart)}: the UART's pins; TX idles high during boot with the serial "
            "console on",
            "move these locks to another GPIO, or disable the serial console "
            "(sudo raspi-config nonint do_serial_cons 1)",
        )
    if wrong:
        return CheckResult(
            name,
            "warn",
            f"{', '.join(wrong)}: the magnetic locks are released from power-on until the "
            "daemon starts, and whenever it is not running",
            f"pull each lock driver's input {level} with a resistor to keep it locked through "
            "a reboot, if the bank must stay locked then (docs/hardware.md)",
        )
    state = "energised (locked)" if hold else "de-energised"
    message = f"every lock is {state} from power-on until the daemon starts"
    if hold and config.lock.fail_state == "open":
        message += "; they open whenever the daemon stops or the power goes (fail_state = open)"
    return CheckResult(name, "ok", message)


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


def check_power(env: Environment) -> CheckResult:
    """No under-voltage (or throttling) now or since boot, from ``vcgencmd get_throttled``."""
    name = "power supply"
    if not env.is_pi():
        return CheckResult(name, "skip", "not a Raspberry Pi: no vcgencmd")
    rc, out = env.run(["vcgencmd", "get_throttled"])
    if rc == 127:
        return CheckResult(
            name,
            "skip",
            "vcgencmd is not installed (Raspberry Pi OS's raspi-utils or libraspberrypi-bin)",
        )
    value = out.strip().partition("=")[2]
    try:
        bits = int(value, 16)
    except ValueError:
        return CheckResult(
            name,
            "skip",
            f"vcgencmd answered {out.strip()!r}: run as root, or as a member of the video group",
        )
    if bits & UNDER_VOLTAGE_NOW:
        return CheckResult(name, "fail", f"under-voltage now (throttled={value})", POWER_FIX)
    if bits & UNDER_VOLTAGE_SINCE_BOOT:
        return CheckResult(
            name, "warn", f"under-voltage has occurred since boot (throttled={value})", POWER_FIX
        )
    if bits & (THROTTLED_NOW | THROTTLED_SINCE_BOOT):
        return CheckResult(
            name,
            "warn",
            f"the Pi has been throttled for heat since boot (throttled={value})",
            "give the case ventilation or a heatsink (a Pi 5 wants its active cooler)",
        )
    return CheckResult(name, "ok", "no under-voltage or throttling since boot")


# ----------------------------------------------------------------- helpers


def _hardware_skip(env: Environment, config: Config, name: str) -> CheckResult | None:
    if config.hardware.backend != "gpio":
        return CheckResult(name, "skip", "simulated backend: no hardware to check")
    if not env.is_pi():
        return CheckResult(name, "skip", "not a Raspberry Pi: cannot check it here")
    return None


def _daemon_skip(name: str, running: bool | None, what: str) -> CheckResult | None:
    if running is None:
        return CheckResult(
            name,
            "skip",
            f"cannot tell whether the daemon is running, so {what} are left alone; run as root",
        )
    if running:
        return CheckResult(
            name,
            "skip",
            f"the daemon is running and owns {what}; to check them: "
            f"sudo systemctl stop {DAEMON_UNIT}, run the doctor, then start it again",
        )
    return None


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


def _driver_fix(env: Environment) -> str:
    if "Raspberry Pi 5" in env.pi_model():
        return (
            'on a Pi 5: set hardware.pin_factory = "lgpio" and replace RPi.GPIO with '
            "rpi-lgpio (scripts/install.sh does both); check the user is in the gpio group"
        )
    return "check the user is in the gpio and spi groups (scripts/install.sh sets that up)"


def _pins(config: Config) -> list[tuple[str, int, bool]]:
    """``(config key, pin, pull_up)`` for every configured pin, with its harmless pull."""
    lock_off_pull_up = not config.lock.active_high
    pins = [
        ("reader.rst_pin", config.reader.rst_pin, True),
        ("bank.green_led_pin", config.bank.green_led_pin, False),
        ("bank.red_led_pin", config.bank.red_led_pin, False),
        ("bank.buzzer_pin", config.bank.buzzer_pin, False),
    ]
    for i, slot in enumerate(config.slots):
        pins += [
            (f"slots[{i}].lock_pin", slot.lock_pin, lock_off_pull_up),
            (f"slots[{i}].door_pin", slot.door_pin, True),
            (f"slots[{i}].sensor_pin", slot.sensor_pin, True),
        ]
        if slot.led_pin is not None:
            pins.append((f"slots[{i}].led_pin", slot.led_pin, False))
    # Expander lines are the I/O expanders check's; here only the Pi's own GPIOs.
    return [(key, pin, pull) for key, pin, pull in pins if isinstance(pin, int)]


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
