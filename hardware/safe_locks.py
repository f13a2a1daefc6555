"""After the daemon: drive every lock output to its safe state, then let go.

A daemon that is killed (SIGKILL, the watchdog, the out-of-memory killer)
never runs its ``finally``. Whatever its GPIO library left on a pin stays
there: a pulse lock caught mid-pulse keeps its coil energised, its latch
open, until something drives the pin again, which may be minutes away
(``RestartSec=``) or never. systemd runs ``locker safe-locks`` after the
daemon's process has ended for any reason (``ExecStopPost=``): it opens every
lock pin with its safe start-up value (the same :class:`SlotLock` the daemon
uses), which drives it there at once, and closes it again.

It takes the daemon's lock file first, so it never fights a running daemon
over the pins.
"""

from __future__ import annotations

from pathlib import Path

from gpiozero import Factory

from hardware.devices import SlotLock
from hardware.expanders import with_expanders
from hardware.pins import make_pin_factory
from hardware.sim_world import SimulatedWorld
from locker.clock import SystemClock
from locker.config import Config
from locker.daemon_lock import DaemonLock


def make_locks_safe(config: Config, *, pin_factory: Factory | None = None) -> list[int]:
    """Drive every slot's lock to its locked-safe state and release it; the slot numbers."""
    with DaemonLock(config.data_dir):
        base = pin_factory or make_pin_factory(config.hardware)
        clock = SystemClock()
        factory, _, simulated = with_expanders(config, base, clock.monotonic)
        world = None
        if config.hardware.backend == "simulated":
            world = SimulatedWorld(Path(config.data_dir) / "sim_world.json")
            world.attach(factory, config, lines=None if simulated is None else simulated.line)
        done = []
        try:
            for slot in config.slots:
                lock = SlotLock(
                    slot.lock_pin,
                    lock_type=config.lock.type,
                    unlock_pulse_s=config.lock.unlock_pulse_s,
                    max_energised_s=config.lock.max_energised_s,
                    active_high=config.lock.active_high,
                    clock=clock,
                    pin_factory=factory,
                )
                if world is not None:
                    world.sync()  # the world sees the pin at its safe level
                lock.close()
                done.append(slot.number)
        finally:
            if world is not None:
                world.detach()
        return done
