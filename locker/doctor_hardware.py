"""``locker doctor``'s checks of the Pi itself: SPI, the badge reader, the GPIO pins,
the locks' state from power-on, and the power supply (see :mod:`locker.doctor`).

None of them drives an output, and none touches the pins or the reader while
the daemon (which owns them) may be running.
"""

from __future__ import annotations

import contextlib

from locker.config import Config
from locker.doctor_base import CheckResult, Environment, daemon_skip, hardware_skip
from locker.errors import HardwareError
from locker.reader_versions import READER_VERSIONS

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
POWER_FIX = "use the official 5.1 V / 3 A (Pi 4) or 5 V / 5 A (Pi 5) supply, with a short cable"


def check_spi(env: Environment, config: Config) -> CheckResult:
    """The reader's SPI device node exists."""
    name = "SPI"
    skipped = hardware_skip(env, config, name)
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
    skipped = hardware_skip(env, config, name)
    if skipped:
        return skipped
    reader = config.reader
    node = f"/dev/spidev{reader.spi_bus}.{reader.spi_device}"
    if not env.exists(node):
        return CheckResult(name, "skip", f"{node} is missing (see SPI)")
    busy = daemon_skip(name, daemon_running, "the reader")
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
    skipped = hardware_skip(env, config, name)
    if skipped:
        return skipped
    busy = daemon_skip(name, daemon_running, "the pins")
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
