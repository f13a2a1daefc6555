"""The doctor's expander check: each MCP23017 answers at its address and reads back.

The probe itself is the composition root's (``locker_app.probes``); the core
knows no I2C library. After power-on or a reset every expander line is an
input (high impedance), so the result always reminds the installer that lock
drivers on expander lines need a pull to their safe state.
"""

from __future__ import annotations

from collections.abc import Callable

from locker.config import Config
from locker.config_pins import ExpanderConfig
from locker.errors import HardwareError

PULL_NOTE = (
    "expander lines are inputs (high impedance) after power-on or a reset: every lock "
    "driver on one needs a pull to its safe state (docs/hardware.md)"
)

#: Probes one expander: ``None`` if it answers and reads back, else what is wrong;
#: raises HardwareError when the bus cannot be opened at all.
Probe = Callable[[ExpanderConfig], "str | None"]


#: ``(status, message, fix)``, as the doctor's CheckResult takes them.
Finding = tuple[str, str, str]


def check_expanders(config: Config, probe: Probe, *, daemon_running: bool | None) -> Finding:
    """Each ``[[expanders]]`` chip answers at its address and reads back a register."""
    if not config.expanders:
        return "skip", "no [[expanders]] in the config", ""
    if config.hardware.backend != "gpio":
        return "skip", "simulated backend: emulated expanders", ""
    if daemon_running:
        return "skip", "the daemon is running and owns the bus", ""
    problems = []
    for i, expander in enumerate(config.expanders):
        where = f"expanders[{i}] {expander.name} (bus {expander.bus}, {expander.address:#04x})"
        try:
            problem = probe(expander)
        except HardwareError as exc:
            problem = str(exc)
        if problem:
            problems.append(f"{where}: {problem}")
    if problems:
        return (
            "fail",
            "; ".join(problems),
            "check the I2C wiring, the address straps (A0-A2) and that I2C is enabled "
            "(raspi-config nonint do_i2c 0); " + PULL_NOTE,
        )
    return "ok", f"{len(config.expanders)} answer and read back; note: {PULL_NOTE}", ""
