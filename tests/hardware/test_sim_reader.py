"""The demo's reader bench: what it adds to the reader the contract test covers."""

from __future__ import annotations

import pytest

from hardware.mfrc522_emulator import MFRC522Emulator
from hardware.reader import CardPresented
from hardware.sim_reader import SimulatedReaderBench


class SteppingStop:
    """A stop event whose ``wait`` moves the simulated clock instead of sleeping."""

    def __init__(self, clock, waits: int):
        self.clock = clock
        self.left = waits

    def is_set(self) -> bool:
        return self.left <= 0

    def wait(self, timeout: float) -> bool:
        self.clock.advance(timeout)
        self.left -= 1
        return self.is_set()


@pytest.mark.parametrize("uid", ["04A1B2", "not hex", "88A1B2C3"])
def test_a_uid_that_no_card_could_have_is_refused(clock, uid):
    bench = SimulatedReaderBench(clock)
    with pytest.raises(ValueError):
        bench.present(uid)


def test_the_card_stays_in_the_field_across_a_restart_of_the_reader(clock):
    chip = MFRC522Emulator()
    first = SimulatedReaderBench(clock, chip=chip)
    first.present("04A1B2C3")
    assert first.poll() == [CardPresented("04A1B2C3")]
    first.close()
    second = SimulatedReaderBench(clock, chip=chip)
    assert second.poll() == [CardPresented("04A1B2C3")]
    second.close()


def test_run_follows_the_card_source(clock):
    world = {"card": None}
    bench = SimulatedReaderBench(clock, card_source=lambda: world["card"])
    emitted = []

    def emit(event):
        emitted.append(event)
        world["card"] = None  # the hand moves away once the reader beeps

    world["card"] = "04112233445566"
    bench.run(emit, SteppingStop(clock, waits=20))
    assert emitted == [CardPresented("04112233445566")]
    assert bench.chip.card is None
    bench.close()


def test_the_options_reach_the_reader(clock):
    bench = SimulatedReaderBench(clock, poll_interval_s=0.25, debounce_s=2.0)
    assert (bench.reader.poll_interval_s, bench.reader.debounce_s) == (0.25, 2.0)
