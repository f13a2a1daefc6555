"""A guard for an input that flaps: a broken door switch, a failing sensor, a loose wire.

Every change of a door switch or a device sensor goes to the custody rules, which
act on each one (a door opened while locked is an alert). An input that changes
hundreds of times a second would bury the manager in alerts, so each input has a
:class:`FlapGuard` in front of it. It counts the input's changes over a sliding
window on the injected clock; past a threshold it reports one :class:`Fault` and
holds the input's changes back until the input has been still for a while, then
reports what the input reads, so the rules catch up with the real state. Once the
input has gone :data:`CLEAR_S` without flapping again it reports the fault over
(a ``HardwareRecovered``: its alert resolves); a flap before that is the same
fault, not a new alert.

The guard only ever reports a fault or a reading of the input; it never unlocks.
While a door switch flaps, the rules take the door as shut: a held slot stays
locked, and a slot open for a deposit or a release locks as if its door had shut.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from functools import partial

from hardware.devices import DeviceSensor, DoorSwitch
from locker.clock import Clock
from locker.decisions import DeviceChanged, DoorChanged, Fault, HardwareRecovered

log = logging.getLogger(__name__)

#: Seconds over which an input's changes are counted.
WINDOW_S = 1.0

#: Changes an input may make within :data:`WINDOW_S`; one more and it is flapping.
#: A person opening and shutting a door as fast as they can makes about 4 changes a
#: second once the pin's debounce has taken out the contact bounce, and a phone
#: slid into its slot a couple; a broken switch or a loose wire makes hundreds.
#: Twice the brisk human rate leaves people room, and keeps what gets through
#: before a flap is caught to a handful of changes (a few alerts, not a flood).
MAX_CHANGES = 8

#: Seconds an input must stay still before a flap is over. Long enough that a
#: fault pausing between bursts stays one flap (one alert), short next to the
#: custody timeouts (a slot waits 30 s for its door) so the rules learn the real
#: state again long before those matter.
SETTLE_S = 5.0

#: Seconds an input must go without flapping, after a flap settled, before its fault
#: is over and its alert resolves. A loose wire or a failing switch often flaps in
#: bursts minutes apart: ten quiet minutes says it is more than a pause, while an
#: alert left up for hours would teach the manager to ignore it. Not in config: it
#: says when a fault is over, which neither a manager nor an installer has to judge
#: (an installer who mends the wire sees the alert go ten minutes later).
CLEAR_S = 600.0


class FlapGuard:
    """One input's changes, passed on to the custody rules until the input flaps.

    Values are in the rules' terms (a door's ``open``, a sensor's ``present``).
    ``read()`` says what the input reads now; ``make_input(value)`` builds the
    core input for a value; ``hold_as``, if given, is the value the rules take
    while the input flaps (a door: shut), and ``words`` name the two values
    (``False`` first) for the alert and the log.

    :meth:`changed` is called on gpiozero's threads, :meth:`update` and
    :meth:`reading` on the loop's, so the state is kept under a lock. Inputs
    are emitted under it too, which keeps them in order; ``emit`` only enqueues.
    """

    def __init__(
        self,
        component: str,
        slot: int,
        *,
        read: Callable[[], bool],
        make_input: Callable[[bool], object],
        clock: Clock,
        words: tuple[str, str],
        hold_as: bool | None = None,
        window_s: float = WINDOW_S,
        max_changes: int = MAX_CHANGES,
        settle_s: float = SETTLE_S,
        clear_s: float = CLEAR_S,
    ):
        if window_s <= 0 or settle_s <= 0 or clear_s <= 0:
            raise ValueError("window_s, settle_s and clear_s must be positive")
        if max_changes < 1:
            raise ValueError("max_changes must be at least 1")
        self.component = component
        self.slot = slot
        self.window_s = window_s
        self.max_changes = max_changes
        self.settle_s = settle_s
        self.clear_s = clear_s
        self._read = read
        self._make_input = make_input
        self._clock = clock
        self._words = words
        self._hold_as = hold_as
        self._lock = threading.Lock()
        self._emit: Callable[[object], None] | None = None
        #: When each recent change came, while the input is not flapping.
        self._recent: deque[float] = deque()
        #: What the rules were last told the input reads.
        self._told = read()
        self._flap_began: float | None = None
        self._last_change = 0.0
        self._held_back = 0
        #: Whether this run reported a flap whose fault is not over yet.
        self._alerted = False
        #: Monotonic time the fault is over if the input does not flap before.
        self._clear_due: float | None = None

    @property
    def flapping(self) -> bool:
        """Whether the input's changes are being held back."""
        with self._lock:
            return self._flap_began is not None

    def start(self, emit: Callable[[object], None]) -> None:
        """Pass changes to ``emit`` from now on; the rules start from what the input reads.

        A flap alert the last run left open is over once the input has gone
        ``clear_s`` from now without flapping, as after a flap of this run.
        """
        with self._lock:
            self._emit = emit
            self._told = self._read()
            self._clear_due = self._clock.monotonic() + self.clear_s

    def changed(self, value: bool) -> None:
        """The input changed to ``value``: pass it on, or count it while the input flaps."""
        with self._lock:
            now = self._clock.monotonic()
            self._last_change = now
            if self._flap_began is not None:
                self._held_back += 1
                return
            recent = self._recent
            recent.append(now)
            while recent[0] <= now - self.window_s:
                recent.popleft()
            if len(recent) <= self.max_changes:
                self._tell(value)
            else:
                self._begin_flap(now)

    def update(self) -> None:
        """End a flap once the input has been still for ``settle_s``; report what it
        reads. Report the fault over once it has not flapped for ``clear_s`` more."""
        with self._lock:
            now = self._clock.monotonic()
            if self._flap_began is None:
                if self._clear_due is not None and now >= self._clear_due:
                    self._clear_due = None
                    self._alerted = False
                    minutes = self.clear_s / 60
                    why = f"the {self.component} has not flapped for {minutes:g} minutes"
                    self._send(HardwareRecovered(self.component, why=why))
                return
            if now - self._last_change < self.settle_s:
                return
            value = self._read()
            log.info(
                "%s settled: %d changes ignored over %.1f s; now %s",
                self.component,
                self._held_back,
                self._last_change - self._flap_began,
                self._words[value],
            )
            self._flap_began = None
            self._held_back = 0
            self._clear_due = now + self.clear_s
            self._tell(value)

    def reading(self) -> bool:
        """The input's value for the rules: the pin, or while it flaps, what they were told."""
        with self._lock:
            return self._told if self._flap_began is not None else self._read()

    def _begin_flap(self, now: float) -> None:
        changes = len(self._recent)
        self._recent.clear()
        self._flap_began = now
        self._held_back = 1  # the change that tipped it over
        self._clear_due = None
        taken = f"taken as {self._words[self._hold_as]} and " if self._hold_as is not None else ""
        message = (
            f"flapping, {changes} changes in {self.window_s:g} s; {taken}ignored until it settles"
        )
        log.warning("%s: %s", self.component, message)
        if not self._alerted:  # a flap before the last one's fault is over is the same fault
            self._alerted = True
            self._send(Fault(self.component, message, slot=self.slot))
        if self._hold_as is not None and self._told != self._hold_as:
            self._tell(self._hold_as)

    def _tell(self, value: bool) -> None:
        self._told = value
        self._send(self._make_input(value))

    def _send(self, event: object) -> None:
        if self._emit is not None:
            self._emit(event)


def door_guard(number: int, door: DoorSwitch, clock: Clock) -> FlapGuard:
    """The guard for slot ``number``'s door switch; a flapping door is taken as shut.

    :meth:`FlapGuard.changed` takes whether the door is open, the rules' terms.
    """
    return FlapGuard(
        f"slot {number} door switch",
        number,
        read=lambda: not door.is_closed,
        make_input=partial(DoorChanged, number),
        clock=clock,
        words=("shut", "open"),
        hold_as=False,
    )


def sensor_guard(number: int, sensor: DeviceSensor, clock: Clock) -> FlapGuard:
    """The guard for slot ``number``'s device sensor."""
    return FlapGuard(
        f"slot {number} device sensor",
        number,
        read=lambda: sensor.is_present,
        make_input=partial(DeviceChanged, number),
        clock=clock,
        words=("empty", "holding a device"),
    )
