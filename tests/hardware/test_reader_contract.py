"""One contract for every way the product gets a badge reader.

The same scenarios run against the real ``mfrc522`` driver wired by hand to an
emulated chip (as production wires it to a Pi) and against the
:class:`SimulatedReaderBench` the demo uses, with the card either put in the
field directly or followed from a card source as the persisted simulated
world gives it. The demo's reader cannot drift from the real one.
"""

from __future__ import annotations

import pytest

from hardware.mfrc522_emulator import (
    COM_IRQ_REG,
    EmulatedCard,
    EmulatedGPIO,
    MFRC522Emulator,
    load_mfrc522_driver,
)
from hardware.pins import SimulatedPinFactory
from hardware.reader import (
    BadgeReader,
    CardPresented,
    Mfrc522Factory,
    ReaderFault,
    ReaderRecovered,
)
from hardware.sim_reader import SimulatedReaderBench
from locker.clock import SimulatedClock

UID_4 = "04A1B2C3"
UID_7 = "04112233445566"
UID_10 = "04112233445566778899"


class HandWiredReader:
    """The real driver on an emulated chip, put together as ``Mfrc522Factory.on_pi`` does."""

    def __init__(self, clock: SimulatedClock):
        self.chip = MFRC522Emulator()
        gpio = EmulatedGPIO(self.chip, reset_pin=25)
        mfrc522_class = load_mfrc522_driver(self.chip, gpio)
        # The emulated chip's time passes only when told: where a Pi's reader
        # would sleep for the air time, it lets the chip's time pass instead.
        factory = Mfrc522Factory(
            mfrc522_class, gpio, reset_pin=25, reset_settle_s=0.0, chip_clock=self.chip.elapse
        )
        self.reader = BadgeReader(factory, clock)

    def present(self, uid_hex: str) -> None:
        self.chip.present(EmulatedCard.from_hex(uid_hex))

    def remove(self) -> None:
        self.chip.remove()

    def fail(self, mode: str | None) -> None:
        self.chip.fail_mode = mode

    @property
    def healthy(self) -> bool:
        return self.reader.healthy

    def poll(self) -> list:
        return self.reader.poll()

    def close(self) -> None:
        self.reader.close()


class BenchFollowingAWorld(SimulatedReaderBench):
    """The demo bench taking its card from a source, as from the simulated world."""

    def __init__(self, clock: SimulatedClock):
        self.world_card: str | None = None
        super().__init__(clock, card_source=lambda: self.world_card)

    def present(self, uid_hex: str) -> None:
        self.world_card = uid_hex.lower()

    def remove(self) -> None:
        self.world_card = None


class BenchOnIrq(SimulatedReaderBench):
    """The demo bench with the reader's IRQ wired to a GPIO (``reader.irq_pin``)."""

    def __init__(self, clock: SimulatedClock):
        self.pins = SimulatedPinFactory()
        super().__init__(clock, irq_pin=4, pin_factory=self.pins)

    def close(self) -> None:
        super().close()
        self.pins.close()


RIGS = {
    "driver-on-emulator": HandWiredReader,
    "demo-bench": SimulatedReaderBench,
    "demo-bench-following-world": BenchFollowingAWorld,
    "demo-bench-irq": BenchOnIrq,
}


@pytest.fixture(params=list(RIGS))
def rig(request, clock):
    made = RIGS[request.param](clock)
    yield made
    made.close()


def poll_for(rig, clock, seconds: float) -> list:
    events = []
    for _ in range(round(seconds / 0.1)):
        events += rig.poll()
        clock.advance(0.1)
    return events


@pytest.mark.parametrize("uid", [UID_4, UID_7])
def test_a_badge_is_reported_by_its_uid(rig, uid):
    rig.present(uid)
    assert rig.poll() == [CardPresented(uid)]


def test_an_empty_field_reports_nothing(rig, clock):
    assert poll_for(rig, clock, 1.0) == []
    assert rig.healthy


def test_a_card_held_on_the_reader_is_reported_once(rig, clock):
    rig.present(UID_7)
    assert poll_for(rig, clock, 3.0) == [CardPresented(UID_7)]


def test_a_card_taken_away_and_brought_back_is_reported_again(rig, clock):
    rig.present(UID_4)
    poll_for(rig, clock, 0.5)
    rig.remove()
    poll_for(rig, clock, 1.0)
    rig.present(UID_4)
    assert rig.poll() == [CardPresented(UID_4)]


@pytest.mark.parametrize("uid", [UID_4, UID_7, UID_10])
def test_a_resting_card_costs_no_more_than_an_empty_field_plus_two_a_second(rig, clock, uid):
    poll_for(rig, clock, 1.0)
    transfers = rig.chip.transfers
    poll_for(rig, clock, 10.0)
    empty_per_s = (rig.chip.transfers - transfers) / 10.0
    rig.present(uid)
    assert poll_for(rig, clock, 1.0) == [CardPresented(uid)]
    transfers = rig.chip.transfers
    assert poll_for(rig, clock, 10.0) == []  # resting: not a new badge
    assert (rig.chip.transfers - transfers) / 10.0 <= empty_per_s + 2
    assert empty_per_s <= 10 * 10  # ten polls a second, at most ten transfers each


def test_an_empty_field_costs_one_interrupt_read_a_poll_or_none_on_irq(rig, clock):
    poll_for(rig, clock, 0.1)
    reads = rig.chip.register_reads[COM_IRQ_REG]
    poll_for(rig, clock, 1.0)
    expected = 0 if isinstance(rig, BenchOnIrq) else 10
    assert rig.chip.register_reads[COM_IRQ_REG] - reads == expected


@pytest.mark.parametrize("mode", ["bad_bcc", "no_answer"])
def test_a_card_that_misbehaves_is_not_reported_and_the_reader_stays_up(rig, clock, mode):
    rig.fail(mode)
    rig.present(UID_4)
    assert poll_for(rig, clock, 2.0) == []
    assert rig.healthy


def test_a_reader_that_stops_answering_faults_then_recovers(rig, clock):
    rig.poll()
    rig.fail("silent_chip")
    clock.advance(5.0)
    [fault] = rig.poll()
    assert isinstance(fault, ReaderFault)
    assert not rig.healthy
    rig.fail(None)
    rig.present(UID_4)
    clock.advance(5.0)
    assert rig.poll() == [ReaderRecovered(), CardPresented(UID_4)]
