"""The one typed config, read from a TOML file and validated at start-up.

Every field is documented where it is defined. Validation refuses unknown
keys, values out of range, missing pins and pins used twice, and the message
always names the key (``slots[3].door_pin``) so an installer can fix it.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from locker.config_pins import ExpanderConfig, Pin, check_pins, expander_pin
from locker.config_retention import RetentionConfig
from locker.errors import ConfigError
from locker.notify_policy import NotifyConfig, check_notify

DEFAULT_CONFIG_PATH = "/etc/nursery-locker/config.toml"


SlotKind = Literal["staff", "visitor", "setting"]
LockType = Literal["pulse", "hold"]
Backend = Literal["gpio", "simulated"]
Assignment = Literal["fixed", "dynamic"]
#: What a lock does when nothing drives it (power or process loss); "" = not said.
FailState = Literal["", "locked", "open"]


def _range(lo: float, hi: float) -> dict[str, Any]:
    return {"range": (lo, hi)}


@dataclass(frozen=True)
class LockConfig:
    """How the slot locks are driven."""

    #: ``pulse``: energise to open for ``unlock_pulse_s``, the latch relocks when
    #: the door shuts. ``hold``: energised means locked (a magnetic lock); it
    #: opens by de-energising.
    type: LockType = "pulse"
    #: Seconds a pulse lock is energised to open.
    unlock_pulse_s: float = field(default=0.5, metadata=_range(0.05, 5.0))
    #: Hard cap on continuous energising of a pulse lock, whatever the software asks.
    max_energised_s: float = field(default=2.0, metadata=_range(0.1, 10.0))
    #: True when the driver (relay or MOSFET) switches on a high output.
    active_high: bool = True
    #: At the end of a shift, pulse the owner's lock once (``pulse`` locks only).
    open_on_shift_end: bool = True
    #: What the lock does when the daemon is not driving it (process stopped or
    #: crashed, Pi without power). A ``pulse`` latch stays ``locked``. A ``hold``
    #: (magnetic) lock is energised to lock, so it opens unless its driver input
    #: is held at the energised level by an external pull and the lock has its own
    #: supply: a ``hold`` bank must say which (``"open"`` or ``"locked"``), so
    #: nobody installs a bank that opens on a crash without knowing it.
    fail_state: FailState = ""
    #: The most ``pulse`` locks energised at the same moment: each solenoid
    #: draws 0.5 to 1 A, so a release of many slots is staggered to keep the
    #: lock supply inside its fuse. Unlocks beyond this wait their turn.
    max_simultaneous: int = field(default=2, metadata=_range(1, 32))
    #: Seconds between the start of one staggered pulse and the next, so the
    #: supply recovers from each coil's inrush current.
    stagger_gap_s: float = field(default=0.1, metadata=_range(0.0, 5.0))


@dataclass(frozen=True)
class CommandsConfig:
    """Requests from the panel and the CLI that the daemon carries out."""

    #: An unlocking command (release, release all, open-now grant, visitor, stock)
    #: older than this many seconds when the daemon reaches it is expired, not run:
    #: a manager means *now*, not whenever the daemon comes back.
    max_age_s: float = field(default=60.0, metadata=_range(5, 3600))
    #: An open-now grant for a person whose open-now grant opened their slot less
    #: than this many seconds ago is the same grant (a double click, a retry).
    same_grant_s: float = field(default=120.0, metadata=_range(0, 3600))


@dataclass(frozen=True)
class ReaderConfig:
    """The MFRC522 badge reader on SPI."""

    #: SPI bus of the reader (0 is the header's SPI0).
    spi_bus: int = field(default=0, metadata=_range(0, 6))
    #: Chip select of the reader on that bus (0 is CE0, header pin 24).
    spi_device: int = field(default=0, metadata=_range(0, 1))
    #: BCM pin wired to the reader's RST.
    rst_pin: int = field(default=25, metadata=_range(0, 27))
    #: Seconds between two polls of the field.
    poll_interval_s: float = field(default=0.1, metadata=_range(0.02, 2.0))
    #: A card left on the reader is reported again only after this long away.
    debounce_s: float = field(default=1.0, metadata=_range(0.1, 30.0))
    #: Seconds between two checks of the version register.
    health_check_s: float = field(default=5.0, metadata=_range(0.5, 600.0))
    #: BCM pin wired to the reader's IRQ, or unset: a poll then waits for the
    #: chip's interrupt on that pin instead of reading its interrupt register.
    irq_pin: int | None = field(default=None, metadata={"pin": True})


@dataclass(frozen=True)
class BankConfig:
    """The bank-level status outputs."""

    #: BCM pin of the bank's green status LED.
    green_led_pin: int = field(default=24, metadata=_range(0, 27))
    #: BCM pin of the bank's red status LED.
    red_led_pin: int = field(default=26, metadata=_range(0, 27))
    #: BCM pin of the buzzer.
    buzzer_pin: int = field(default=18, metadata=_range(0, 27))


@dataclass(frozen=True)
class RulesConfig:
    """Windows, timeouts and grace periods of the custody rules."""

    #: How slots are given to staff: ``fixed`` (each person has their own) or
    #: ``dynamic`` (first free staff slot).
    assignment: Assignment = "dynamic"
    #: Seconds an opened slot waits for the door before it relocks.
    door_timeout_s: float = field(default=30.0, metadata=_range(5, 600))
    #: Seconds a door may stand open before a ``door_left_open`` alert.
    door_left_open_s: float = field(default=120.0, metadata=_range(10, 3600))
    #: Seconds after a refusal in which a manager's badge approves on the spot.
    approval_window_s: float = field(default=30.0, metadata=_range(5, 300))
    #: Minutes a break window is widened at each end.
    break_grace_min: int = field(default=5, metadata=_range(0, 60))
    #: Minutes after a break or a grant's return time before ``overdue``.
    overdue_grace_min: int = field(default=5, metadata=_range(0, 240))
    #: Minutes into a shift before ``no_deposit`` is raised.
    no_deposit_grace_min: int = field(default=15, metadata=_range(1, 240))
    #: Local time at which every slot still holding a device is released.
    closing_time: str = "18:30"
    #: Minutes after closing before a device still there is ``forgotten_device``.
    forgotten_after_min: int = field(default=10, metadata=_range(1, 240))
    #: Unknown badges within ``unknown_badge_window_s`` that raise an alert.
    unknown_badge_limit: int = field(default=5, metadata=_range(2, 100))
    #: The window, in seconds, those unknown badges are counted over.
    unknown_badge_window_s: float = field(default=60.0, metadata=_range(5, 3600))
    #: After that alert, for ``unknown_badge_window_s``, the reader answers at
    #: most one card every this many seconds, so trying UIDs gets slow (0: never).
    unknown_badge_cooldown_s: float = field(default=10.0, metadata=_range(0, 300))
    #: Seconds of disagreement between wall and monotonic clocks that count as a jump.
    clock_jump_tolerance_s: float = field(default=5.0, metadata=_range(0.5, 3600))
    #: Seconds in which an authorised person's second badge after a refusal
    #: checks out a setting device.
    setting_checkout_window_s: float = field(default=10.0, metadata=_range(2, 120))
    #: Minutes a grant waits for its badge before it expires (``open_now`` false).
    grant_valid_min: int = field(default=60, metadata=_range(1, 24 * 60))

    @property
    def closing(self) -> time:
        """``closing_time`` as a ``datetime.time``."""
        return time.fromisoformat(self.closing_time)


@dataclass(frozen=True)
class SlotConfig:
    """One slot of the bank."""

    #: The slot's number, as written on its door and shown on the panel.
    number: int = field(metadata=_range(1, 999))
    #: ``staff`` (personal devices), ``visitor`` or ``setting`` (the setting's own devices).
    kind: SlotKind
    #: Output driving the lock.
    lock_pin: Pin = field(metadata={"pin": True})
    #: Input: door-closed switch (closed = pulled low).
    door_pin: Pin = field(metadata={"pin": True})
    #: Input: device-present sensor.
    sensor_pin: Pin = field(metadata={"pin": True})
    #: Optional slot LED.
    led_pin: Pin | None = field(default=None, metadata={"pin": True})
    #: What the panel calls it; defaults to the number.
    label: str = ""


@dataclass(frozen=True)
class HardwareConfig:
    """Which backend drives the pins and the reader."""

    #: ``gpio`` on a Pi; ``simulated`` for mock pins and the emulated reader.
    backend: Backend = "gpio"
    #: gpiozero pin factory name (``lgpio``, ``rpigpio``...), empty for gpiozero's default.
    pin_factory: str = ""
    #: Seconds a door switch or device sensor must be steady before a change counts
    #: (contact bounce). Not used by the simulated backend, whose edges are clean.
    input_bounce_s: float = field(default=0.05, metadata=_range(0.0, 1.0))
    #: Simulated backend only: local time the simulated clock starts at (ISO 8601),
    #: empty for now. A restarted daemon carries on from where its clock was.
    sim_start: str = ""
    #: Simulated backend only: how many times faster than real time the clock runs.
    sim_speed: float = field(default=1.0, metadata=_range(0.1, 3600.0))


@dataclass(frozen=True)
class WebConfig:
    """The panel server."""

    #: Address the panel listens on: 127.0.0.1 unless a reverse proxy is set up (docs/hardware.md).
    host: str = "127.0.0.1"
    #: Port the panel listens on.
    port: int = field(default=8080, metadata=_range(1, 65535))
    #: File holding the session secret key; production refuses to start without one.
    secret_key_file: str = ""
    #: Minutes of inactivity after which a panel session ends.
    session_idle_min: int = field(default=15, metadata=_range(1, 24 * 60))
    #: Serve cookies only over HTTPS (and send HSTS). Off for a panel on a local
    #: network without TLS.
    secure_cookies: bool = False
    #: Minutes a typed password covers the actions that open a slot (open-now
    #: grant, release one or all, visitor in or out); 0 asks every time.
    reauth_min: int = field(default=5, metadata=_range(0, 60))


@dataclass(frozen=True)
class HubConfig:
    """Where this site ships its log to (the group hub); empty ``url`` = no shipping.

    The hub is never in the unlock path: shipping runs in its own process
    (``locker hub sync``) and the site works for weeks without a link.
    """

    #: The hub's base URL, e.g. ``https://hub.example.org`` (behind TLS in production).
    url: str = ""
    #: File holding this site's token, as ``locker hub site add`` printed it.
    token_file: str = ""
    #: Events per batch sent to the hub.
    batch_size: int = field(default=2000, metadata=_range(1, 50_000))
    #: Seconds between two status snapshots.
    snapshot_every_s: float = field(default=60.0, metadata=_range(1.0, 3600.0))
    #: Longest wait between two attempts while the hub cannot be reached.
    max_backoff_s: float = field(default=300.0, metadata=_range(1.0, 3600.0))


@dataclass(frozen=True)
class HubServerConfig:
    """The group hub's own server (only on the machine that runs ``locker hub serve``)."""

    #: PostgreSQL URL, e.g. ``postgresql+psycopg://hub@/hub?host=/run/postgresql``.
    database_url: str = ""
    #: Address ``locker hub serve`` listens on (the TLS proxy in front reaches it there).
    host: str = "127.0.0.1"
    #: Port ``locker hub serve`` listens on.
    port: int = field(default=8090, metadata=_range(1, 65535))
    #: File holding the hub's session secret key; ``locker hub init`` writes one.
    secret_key_file: str = ""
    #: A site silent for longer than this is offline (and raises a hub alert).
    offline_after_s: int = field(default=600, metadata=_range(60, 7 * 24 * 3600))
    #: Minutes of inactivity after which a hub session ends.
    session_idle_min: int = field(default=30, metadata=_range(1, 24 * 60))
    #: Serve cookies only over HTTPS (and send HSTS): on behind the TLS proxy.
    secure_cookies: bool = False


@dataclass(frozen=True)
class Config:
    """Everything the daemon, the panel and the CLI read from the config file."""

    #: The nursery's name, at the top of every page and on the report.
    site_name: str = "Our Nursery"
    #: IANA time zone the rota and the panel use.
    timezone: str = "Europe/London"
    #: Where the database and other state live.
    data_dir: str = "/var/lib/nursery-locker"
    #: Where the daemon publishes its live status for the panel (a file rewritten
    #: every few seconds): a tmpfs such as ``/run/nursery-locker`` on a Pi, so it
    #: costs the SD card nothing and still works when the data directory's disk
    #: is full. Empty means ``data_dir``.
    run_dir: str = ""
    #: SQLAlchemy URL; empty means ``sqlite:///<data_dir>/locker.db``.
    database_url: str = ""
    #: Days events are kept before a purge may remove them (``[retention]`` has categories).
    retention_days: int = field(default=365, metadata=_range(30, 36500))
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    lock: LockConfig = field(default_factory=LockConfig)
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    reader: ReaderConfig = field(default_factory=ReaderConfig)
    bank: BankConfig = field(default_factory=BankConfig)
    rules: RulesConfig = field(default_factory=RulesConfig)
    web: WebConfig = field(default_factory=WebConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    hub: HubConfig = field(default_factory=HubConfig)
    hub_server: HubServerConfig = field(default_factory=HubServerConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    slots: tuple[SlotConfig, ...] = ()
    #: MCP23017 I/O expanders whose lines slot pins may name.
    expanders: tuple[ExpanderConfig, ...] = ()
    #: The file this config was read from, if any.
    path: str = field(default="", metadata={"internal": True})

    @property
    def tz(self) -> ZoneInfo:
        """The site's time zone."""
        return ZoneInfo(self.timezone)

    @property
    def db_url(self) -> str:
        """The database URL, defaulting to a SQLite file in ``data_dir``."""
        return self.database_url or f"sqlite:///{Path(self.data_dir) / 'locker.db'}"

    @property
    def status_dir(self) -> Path:
        """Where the daemon's live status file lives (``run_dir``, else ``data_dir``)."""
        return Path(self.run_dir or self.data_dir)

    def slot(self, number: int) -> SlotConfig:
        """The config of slot ``number``."""
        for slot in self.slots:
            if slot.number == number:
                return slot
        raise KeyError(number)


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file to use: ``explicit``, then ``$LOCKER_CONFIG``, then the default."""
    return Path(explicit or os.environ.get("LOCKER_CONFIG") or DEFAULT_CONFIG_PATH)


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate the TOML config at ``path``."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (run `locker init`)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config = parse_config(raw)
    return dataclasses.replace(config, path=str(path))


def parse_config(raw: dict[str, Any]) -> Config:
    """Build a validated :class:`Config` from parsed TOML."""
    config = _build(Config, raw, "")
    _check_whole(config)
    return config


def _build(cls: type, raw: Any, where: str) -> Any:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where or 'config'}: expected a table")
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(fields), n=1, cutoff=0.6)
        hint = f" (did you mean {_key(where, close[0])!r}?)" if close else ""
        raise ConfigError(f"{_key(where, unknown[0])}: unknown key{hint}")
    values = {}
    for name, f in fields.items():
        key = _key(where, name)
        if name not in raw:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{key}: missing")
            continue
        values[name] = _convert(hints[name], raw[name], key, f.metadata)
    return cls(**values)


def _key(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _convert(hint: Any, value: Any, key: str, meta: Any) -> Any:
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, key)
    if origin is tuple:
        (item,) = get_args(hint)[:1]
        if item is str:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{key}: expected a list of strings")
            return tuple(value)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list of tables")
        return tuple(_build(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin is Literal:
        choices = get_args(hint)
        if value not in choices:
            allowed = ", ".join(map(repr, choices))
            raise ConfigError(f"{key}: must be one of {allowed}, not {value!r}")
        return value
    args = [a for a in get_args(hint) if a is not type(None)]
    if str in args and int in args and isinstance(value, str):
        return expander_pin(value, key)
    base = args[0] if args else hint
    if value is None or (base is bool) != isinstance(value, bool):
        raise ConfigError(f"{key}: expected {base.__name__}, not {type(value).__name__}")
    if base is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, base):
        raise ConfigError(f"{key}: expected {base.__name__}, not {type(value).__name__}")
    if "range" in meta:
        lo, hi = meta["range"]
        if not lo <= value <= hi:
            if meta.get("hex"):
                raise ConfigError(f"{key}: {value:#04x} is out of range ({lo:#04x} to {hi:#04x})")
            raise ConfigError(f"{key}: {value} is out of range ({lo} to {hi})")
    if meta.get("pin") and value < 0:
        raise ConfigError(f"{key}: a pin number cannot be negative")
    return value


def _check_whole(config: Config) -> None:
    try:
        config.tz  # noqa: B018 - validating the name
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"timezone: unknown time zone {config.timezone!r}") from None
    try:
        config.rules.closing  # noqa: B018
    except ValueError:
        raise ConfigError(
            f"rules.closing_time: expected HH:MM, not {config.rules.closing_time!r}"
        ) from None
    if config.hardware.sim_start:
        try:
            datetime.fromisoformat(config.hardware.sim_start)
        except ValueError:
            raise ConfigError(
                f"hardware.sim_start: expected an ISO time, not {config.hardware.sim_start!r}"
            ) from None
    if config.lock.unlock_pulse_s > config.lock.max_energised_s:
        raise ConfigError("lock.unlock_pulse_s: longer than lock.max_energised_s")
    _check_fail_state(config.lock)
    check_notify(config.notify)
    _check_hub(config)
    if not config.slots and not config.hub_server.database_url:
        # A hub's own config has no bank of slots.
        raise ConfigError("slots: at least one slot is needed")
    claims: list[tuple[Pin | None, str]] = [
        (config.reader.rst_pin, "reader.rst_pin"),
        (config.reader.irq_pin, "reader.irq_pin"),
        (config.bank.green_led_pin, "bank.green_led_pin"),
        (config.bank.red_led_pin, "bank.red_led_pin"),
        (config.bank.buzzer_pin, "bank.buzzer_pin"),
    ]
    numbers: set[int] = set()
    for i, slot in enumerate(config.slots):
        if slot.number in numbers:
            raise ConfigError(f"slots[{i}].number: slot {slot.number} is defined twice")
        numbers.add(slot.number)
        for name in ("lock_pin", "door_pin", "sensor_pin", "led_pin"):
            claims.append((getattr(slot, name), f"slots[{i}].{name}"))
    check_pins(claims, config.expanders, on_pi=config.hardware.backend == "gpio")


def _check_hub(config: Config) -> None:
    url = config.hub_server.database_url
    if url and not url.startswith(("postgresql://", "postgresql+psycopg://")):
        raise ConfigError(
            f"hub_server.database_url: the hub stores in PostgreSQL "
            f"(postgresql+psycopg://...), not {url.split(':')[0]!r}"
        )
    if config.hub.url and not config.hub.url.startswith(("https://", "http://")):
        raise ConfigError(f"hub.url: expected an http(s):// address, not {config.hub.url!r}")
    if config.hub.url and not config.hub.token_file:
        raise ConfigError("hub.token_file: needed with hub.url (locker hub site add prints it)")


def _check_fail_state(lock: LockConfig) -> None:
    if lock.type == "hold" and not lock.fail_state:
        raise ConfigError(
            'lock.fail_state: a "hold" (magnetic) lock opens when the daemon stops or the '
            "power goes, unless its driver is held energised by an external pull; "
            'say which with fail_state = "open" or "locked" (see docs/hardware.md)'
        )
    if lock.type == "pulse" and lock.fail_state == "open":
        raise ConfigError(
            'lock.fail_state: a "pulse" latch stays locked when nothing drives it; '
            'use "locked" or leave it out'
        )


#: The daemon's runtime directory under systemd (``RuntimeDirectory=``), a tmpfs.
SYSTEM_RUN_DIR = "/run/nursery-locker"


def default_config_text(*, data_dir: str = "/var/lib/nursery-locker") -> str:
    """The commented config ``locker init`` writes: four slots wired as in the README.

    The installed system's config puts the daemon's live status on the tmpfs
    systemd gives the daemon; anywhere else it stays in ``data_dir``.
    """
    run_dir = SYSTEM_RUN_DIR if data_dir == "/var/lib/nursery-locker" else ""
    return DEFAULT_CONFIG_TEMPLATE.format(data_dir=data_dir, run_dir=run_dir)


DEFAULT_CONFIG_TEMPLATE = """\
# nursery-locker configuration. Every key is optional unless marked; see README.
site_name = "Our Nursery"
timezone = "Europe/London"
data_dir = "{data_dir}"
run_dir = "{run_dir}"  # the daemon's live status: a tmpfs on a Pi; "" = data_dir
# database_url = "sqlite:////var/lib/nursery-locker/locker.db"
retention_days = 365

[hardware]
backend = "gpio"        # "gpio" on a Pi, "simulated" anywhere else
pin_factory = ""        # gpiozero default; "lgpio" on a Pi 5
input_bounce_s = 0.05   # door switch and sensor debounce

[lock]
type = "pulse"          # "pulse" (solenoid latch) or "hold" (magnetic, energised = locked)
unlock_pulse_s = 0.5
max_energised_s = 2.0
active_high = true
open_on_shift_end = true
# fail_state = "open"   # required for "hold": "open" or "locked" without the daemon
max_simultaneous = 2    # pulse locks energised at once (the lock supply's budget)
stagger_gap_s = 0.1     # seconds between the starts of two staggered pulses

[commands]
max_age_s = 60          # an unlocking request older than this is expired, not run
same_grant_s = 120      # a repeated open-now grant within this is the same grant

[reader]
spi_bus = 0
spi_device = 0
rst_pin = 25
poll_interval_s = 0.1
debounce_s = 1.0
health_check_s = 5.0
# irq_pin = 4           # the reader's IRQ wire, if connected: waits for it instead of asking

[bank]
green_led_pin = 24
red_led_pin = 26
buzzer_pin = 18

[rules]
assignment = "dynamic"  # or "fixed": each person has their own slot
door_timeout_s = 30
door_left_open_s = 120
approval_window_s = 30
break_grace_min = 5
overdue_grace_min = 5
no_deposit_grace_min = 15
closing_time = "18:30"
forgotten_after_min = 10
unknown_badge_limit = 5
unknown_badge_window_s = 60
unknown_badge_cooldown_s = 10  # then one card per 10 s for that window
clock_jump_tolerance_s = 5
setting_checkout_window_s = 10
grant_valid_min = 60

[web]
host = "127.0.0.1"
port = 8080
secret_key_file = "/etc/nursery-locker/secret_key"
session_idle_min = 15
secure_cookies = false
reauth_min = 5  # minutes a typed password covers actions that open a slot

# More than four slots: MCP23017 expanders on I2C (see docs/hardware.md and
# examples/), then slot pins such as lock_pin = "mcp0:A0".
# [[expanders]]
# name = "mcp0"
# bus = 1
# address = 0x20
# interrupt_pin = 4

# Lock outputs sit on GPIOs that are pulled low at boot, so no lock is
# energised before the daemon starts. Door and sensor inputs read low when closed
# / present.
[[slots]]
number = 1
kind = "staff"
lock_pin = 17
door_pin = 5
sensor_pin = 16

[[slots]]
number = 2
kind = "staff"
lock_pin = 27
door_pin = 6
sensor_pin = 19

[[slots]]
number = 3
kind = "staff"
lock_pin = 22
door_pin = 12
sensor_pin = 20

[[slots]]
number = 4
kind = "visitor"
lock_pin = 23
door_pin = 13
sensor_pin = 21
"""
