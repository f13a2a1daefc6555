"""The simulated physical world: doors, devices in slots, a card at the reader.

It outlives a restart of the daemon, as the real one does, by living in a JSON
file that is rewritten atomically on every change and read back on
construction. Attached to a :class:`~hardware.pins.SimulatedPinFactory`, it
holds the door and sensor inputs at the levels the world dictates and watches
the lock outputs.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from gpiozero.pins import Factory

from hardware.expander_sim import EmulatedLine
from hardware.pins import SimulatedPin
from locker.config import Config, Pin
from locker.errors import HardwareError, InvalidRequest, NotFound
from locker.roster import normalise_uid

FORMAT_VERSION = 1
#: Card UIDs the reader understands: single, double and triple size.
UID_LENGTHS = (4, 7, 10)


@dataclass
class SimSlot:
    """What the world knows about one slot; persisted as is."""

    door_open: bool = False
    device_present: bool = False
    #: A pulse lock's latch let go of the strike and has not caught it again:
    #: set by an energising edge, cleared when the door next shuts.
    latch_released: bool = False
    #: Times the world saw the lock driven open (pulse: energising edges;
    #: hold: de-energising edges), across restarts.
    unlock_count: int = 0
    #: Times a door was opened while its lock held it.
    forced_count: int = 0
    #: A pulse lock's coil is energised: as the daemon last drove it, and as it
    #: stays if the daemon dies without letting go (a SIGKILL mid-pulse) until
    #: something drives the pin again (``locker safe-locks``, or the next start).
    coil_on: bool = False


@dataclass
class _Wiring:
    """The pins of one slot while the world is attached."""

    door: SimulatedPin | EmulatedLine
    sensor: SimulatedPin | EmulatedLine
    lock: SimulatedPin | EmulatedLine
    led: SimulatedPin | EmulatedLine | None
    energise_edges_seen: int
    release_edges_seen: int


class SimulatedWorld:
    """Doors, devices and a card, persisted at ``path``; thread-safe.

    Physics, as the daemon sees it through the pins:

    - A door switch reads low when the door is shut, a device sensor low when a
      device is in; the world holds those inputs there whatever pull a device
      sets, as a real switch to ground does.
    - A ``hold`` lock holds its door shut while energised.
    - A ``pulse`` lock's latch lets go on each energising edge and catches
      the strike again when the door next shuts. With ``pulse_pops_door`` (a
      sprung door, as on most locker solenoids) the edge also swings a shut
      door open. Edges are counted on the pin, so a pulse that began and ended
      between two :meth:`sync` calls still counts.
    - ``set_door(n, True)`` opens a door even while its lock holds it: that is
      a forced door, counted here, and the daemon will raise ``door_forced``.
      Likewise ``set_device`` works with the door shut, which the daemon sees
      as tamper.

    While detached (the daemon is down) locks are taken to rest in their safe
    state, as the recommended pulls keep them. Callbacks that moving an input
    triggers run on the caller's thread with the world's lock held, so they
    must only enqueue, as every gpiozero callback in this project does.
    """

    def __init__(self, path: str | os.PathLike[str], *, pulse_pops_door: bool = True):
        self.path = Path(path)
        self.pulse_pops_door = pulse_pops_door
        self._guard = threading.RLock()
        self._slots: dict[int, SimSlot] = {}
        self._card: str | None = None
        self._wiring: dict[int, _Wiring] = {}
        self._lock_type = "pulse"
        self._active_high = True
        self._bank_pins: dict[str, SimulatedPin] = {}
        #: The most lock outputs seen energised at one moment since the last attach.
        self._max_energised = 0
        self._load()

    def attach(
        self,
        pin_factory: Factory,
        config: Config,
        *,
        lines: Callable[[str], EmulatedLine] | None = None,
    ) -> None:
        """Wire the world to the pins of ``config``'s slots and bank on ``pin_factory``.

        ``lines`` gives the wire side of an expander line (``"mcp0:A3"``), for
        a bank on simulated expanders.

        Slots new to the world start shut and empty. Lock edges before this
        call are not counted, so a fresh daemon setting its outputs is not
        taken for an unlock.
        """
        with self._guard:
            wiring: dict[int, _Wiring] = {}

            def wire(name: Pin) -> SimulatedPin | EmulatedLine:
                if isinstance(name, str) and lines is not None:
                    return lines(name)
                return _sim_pin(pin_factory, name)

            for slot in config.slots:
                wiring[slot.number] = _Wiring(
                    door=wire(slot.door_pin),
                    sensor=wire(slot.sensor_pin),
                    lock=wire(slot.lock_pin),
                    led=None if slot.led_pin is None else wire(slot.led_pin),
                    energise_edges_seen=0,
                    release_edges_seen=0,
                )
            bank = {
                "green": _sim_pin(pin_factory, config.bank.green_led_pin),
                "red": _sim_pin(pin_factory, config.bank.red_led_pin),
                "buzzer": _sim_pin(pin_factory, config.bank.buzzer_pin),
            }
            self._lock_type = config.lock.type
            self._active_high = config.lock.active_high
            self._wiring = wiring
            self._bank_pins = bank
            self._max_energised = 0
            for number, wires in wiring.items():
                wires.energise_edges_seen = self._energise_edges(wires.lock)
                wires.release_edges_seen = self._release_edges(wires.lock)
                self._slots.setdefault(number, SimSlot())
                self._drive_inputs(number)
            self._save()

    def build(self, numbers) -> None:
        """Give the world the slots ``numbers`` (shut and empty), before any daemon attaches.

        The demo uses this to put the setting's tablets in their slots first.
        """
        with self._guard:
            for number in numbers:
                self._slots.setdefault(number, SimSlot())
            self._save()

    def detach(self) -> None:
        """Let go of the pins, as when the daemon stops: it makes every lock safe as it
        closes them, and the recommended pulls keep them so."""
        with self._guard:
            for number in self._wiring:
                self._slots[number].coil_on = False
            self._wiring = {}
            self._bank_pins = {}
            self._save()

    def sync(self) -> None:
        """Catch up with the lock outputs; the daemon calls this every tick."""
        with self._guard:
            changed = False
            for number, wires in self._wiring.items():
                slot = self._slots[number]
                energise_edges = self._energise_edges(wires.lock)
                release_edges = self._release_edges(wires.lock)
                energised = energise_edges - wires.energise_edges_seen
                released = release_edges - wires.release_edges_seen
                wires.energise_edges_seen = energise_edges
                wires.release_edges_seen = release_edges
                # A pin nobody has made an output yet drives nothing: the coil stays
                # as it was left, whatever the fresh pin object reads.
                if self._lock_type == "pulse" and wires.lock.function == "output":
                    on = self._energised(number)
                    changed = changed or slot.coil_on != on
                    slot.coil_on = on
                if self._lock_type == "hold":
                    slot.unlock_count += released
                    changed = changed or released > 0
                    continue
                if energised > 0:
                    slot.unlock_count += energised
                    slot.latch_released = True
                    if self.pulse_pops_door and not slot.door_open:
                        slot.door_open = True
                        self._drive_inputs(number)
                    changed = True
            at_once = sum(1 for number in self._wiring if self._energised(number))
            self._max_energised = max(self._max_energised, at_once)
            if changed:
                self._save()

    def set_door(self, number: int, open: bool) -> bool:
        """Open or shut slot ``number``'s door; return whether opening it was forced."""
        with self._guard:
            self.sync()
            slot = self._slot(number)
            if slot.door_open == open:
                return False
            forced = open and self._holds_door(number)
            if forced:
                slot.forced_count += 1
            slot.door_open = open
            if not open and not self._energised(number):
                slot.latch_released = False
            self._drive_inputs(number)
            self._save()
            return forced

    def set_device(self, number: int, present: bool) -> None:
        """Put a device into slot ``number`` or take it out, door open or not."""
        with self._guard:
            self.sync()
            slot = self._slot(number)
            if slot.device_present == present:
                return
            slot.device_present = present
            self._drive_inputs(number)
            self._save()

    @property
    def card(self) -> str | None:
        """The UID (lower-case hex of the card's own bytes) of the card at the reader."""
        with self._guard:
            return self._card

    def present_card(self, uid: str) -> None:
        """Hold the card ``uid`` (hex, 4, 7 or 10 bytes) to the reader."""
        card = card_uid(uid)
        with self._guard:
            self._card = card
            self._save()

    def remove_card(self) -> None:
        """Take the card away from the reader."""
        with self._guard:
            if self._card is not None:
                self._card = None
                self._save()

    def slot(self, number: int) -> SimSlot:
        """A copy of what the world knows about slot ``number``."""
        with self._guard:
            self.sync()
            return SimSlot(**asdict(self._slot(number)))

    def snapshot(self) -> dict[str, Any]:
        """The whole world: ``{"card": uid|None, "slots": {n: {...}}}``."""
        with self._guard:
            self.sync()
            return {
                "card": self._card,
                "slots": {n: asdict(slot) for n, slot in sorted(self._slots.items())},
            }

    def outputs(self) -> dict[str, Any]:
        """What the output pins show, for ``GET /api/sim/outputs``.

        ``{"slots": {n: {"lock_energised", "unlock_count", "led"}}, "leds":
        {"green", "red"}, "buzzer", "max_energised_at_once"}``; ``led`` is
        ``None`` for a slot without one. Detached, every output reads off.
        ``max_energised_at_once`` counts lock outputs energised together, as
        seen at every :meth:`sync` since the daemon attached (the backend
        syncs after starting each pulse).
        """
        with self._guard:
            self.sync()
            slots = {}
            for number, slot in sorted(self._slots.items()):
                wires = self._wiring.get(number)
                led = None if wires is None or wires.led is None else bool(wires.led.state)
                slots[number] = {
                    "lock_energised": self._energised(number) or slot.coil_on,
                    "unlock_count": slot.unlock_count,
                    "led": led,
                }
            return {
                "slots": slots,
                "leds": {"green": self._bank_level("green"), "red": self._bank_level("red")},
                "buzzer": self._bank_level("buzzer"),
                "max_energised_at_once": self._max_energised,
            }

    def _slot(self, number: int) -> SimSlot:
        try:
            return self._slots[number]
        except KeyError:
            raise NotFound(f"slot {number}: no such slot in the simulated world") from None

    def _energised(self, number: int) -> bool:
        wires = self._wiring.get(number)
        if wires is None:
            return False
        return bool(wires.lock.state) == self._active_high

    def _holds_door(self, number: int) -> bool:
        if self._lock_type == "hold":
            # Detached, a hold lock rests energised on its recommended pull.
            return number not in self._wiring or self._energised(number)
        return not self._slots[number].latch_released and not self._energised(number)

    def _energise_edges(self, pin: SimulatedPin) -> int:
        return pin.rises if self._active_high else pin.falls

    def _release_edges(self, pin: SimulatedPin) -> int:
        return pin.falls if self._active_high else pin.rises

    def _bank_level(self, name: str) -> bool:
        pin = self._bank_pins.get(name)
        return pin is not None and bool(pin.state)

    def _drive_inputs(self, number: int) -> None:
        wires = self._wiring.get(number)
        if wires is None:
            return
        slot = self._slots[number]
        # Both are switches to ground: shut door, device present read low.
        wires.door.wire(slot.door_open)
        wires.sensor.wire(not slot.device_present)

    def _load(self) -> None:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise HardwareError(f"{self.path}: cannot read the simulated world: {exc}") from None
        try:
            if raw.get("version") != FORMAT_VERSION:
                raise ValueError(f"unknown version {raw.get('version')!r}")
            card = raw.get("card")
            self._card = None if card is None else card_uid(card)
            self._slots = {int(n): _slot_from_json(s) for n, s in raw["slots"].items()}
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise HardwareError(f"{self.path}: not a simulated world file: {exc}") from None

    def _save(self) -> None:
        data = {
            "version": FORMAT_VERSION,
            "card": self._card,
            "slots": {str(n): asdict(slot) for n, slot in sorted(self._slots.items())},
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(data, out, indent=1)
            # No fsync: this guards against a killed process, not a power cut.
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise


def card_uid(uid: str) -> str:
    """The card ``uid`` as the world keeps it: its bytes in lower-case hex.

    Parsed by the one :func:`locker.roster.normalise_uid` (any case, ``:``,
    ``-`` or spaces between bytes; 4, 7 or 10 bytes); lower case is the
    emulated chip's spelling of the bytes it sends.
    """
    if not isinstance(uid, str):
        raise InvalidRequest(f"uid: expected a hex string, not {type(uid).__name__}")
    try:
        return normalise_uid(uid).lower()
    except InvalidRequest as exc:
        raise InvalidRequest(f"uid: {exc}") from None


def _slot_from_json(raw: Any) -> SimSlot:
    known = {f.name: f.type for f in fields(SimSlot)}
    if not isinstance(raw, dict) or set(raw) - set(known):
        raise ValueError(f"bad slot entry {raw!r}")
    for name, value in raw.items():
        wanted = bool if known[name] == "bool" else int
        if type(value) is not wanted:
            raise ValueError(f"slot field {name}: expected {wanted.__name__}")
    return SimSlot(**raw)


def _sim_pin(pin_factory: Factory, name: Pin) -> SimulatedPin:
    pin = pin_factory.pin(name)
    if not isinstance(pin, SimulatedPin):
        raise HardwareError(
            f"GPIO{name}: the simulated world needs a SimulatedPinFactory, "
            f"not {type(pin_factory).__name__}"
        )
    return pin
