"""The badge reader adapter, driving the real mfrc522 driver on the emulated chip."""

from __future__ import annotations

import logging
import platform
import signal
import threading

import pytest

from hardware import mfrc522_card as iso
from hardware import mfrc522_emulator as emu
from hardware.mfrc522_emulator import COM_IRQ_REG, VERSION_REG, EmulatedCard, MFRC522Emulator
from hardware.reader import (
    DRIVER_LOGGER,
    BadgeReader,
    CardPresented,
    Mfrc522Factory,
    ReaderFault,
    ReaderRecovered,
    poll_steadily,
)
from hardware.sim_reader import emulated_driver_factory
from locker.errors import HardwareError

RESET_PIN = 25  # as wired by the conftest's driver_factory
UID_4 = "04A1B2C3"
UID_7 = "04112233445566"


def present(chip, uid_hex: str) -> None:
    chip.present(EmulatedCard.from_hex(uid_hex))


def poll_for(reader, clock, seconds: float, step: float = 0.1) -> list:
    """Poll every ``step`` for ``seconds`` of simulated time; all the events."""
    events = []
    for _ in range(round(seconds / step)):
        events += reader.poll()
        clock.advance(step)
    return events


class SteppingStop:
    """A stop event whose ``wait`` moves the simulated clock instead of sleeping."""

    def __init__(self, clock, waits: int):
        self.clock = clock
        self.left = waits
        self.waits: list[float] = []

    def is_set(self) -> bool:
        return self.left <= 0

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        self.clock.advance(timeout)
        self.left -= 1
        return self.is_set()


def test_a_fresh_reader_touches_no_hardware_until_polled(reader, chip):
    assert not reader.healthy
    assert chip.transfers == 0
    assert reader.poll() == []
    assert reader.healthy


@pytest.mark.parametrize(
    "uid",
    [UID_4, UID_7, "04112233445566778899"],
    ids=["single-size", "double-size", "triple-size"],
)
def test_uids_are_the_cards_own_bytes_in_uppercase_hex(reader, chip, uid):
    present(chip, uid.lower())
    assert reader.poll() == [CardPresented(uid)]


def test_a_card_left_on_the_reader_is_reported_once(reader, chip, clock):
    present(chip, UID_4)
    assert poll_for(reader, clock, 5.0) == [CardPresented(UID_4)]


def test_a_card_back_after_the_debounce_time_is_reported_again(reader, chip, clock):
    present(chip, UID_4)
    reader.poll()
    chip.remove()
    poll_for(reader, clock, 1.0)
    present(chip, UID_4)
    # Back just as the once-a-second WUPA falls due: that WUPA wakes it, the
    # next REQA sends it back to IDLE, the one after reads it (0.2 s later).
    assert poll_for(reader, clock, 0.3) == [CardPresented(UID_4)]


def test_a_card_back_within_the_debounce_time_is_not(reader, chip, clock):
    present(chip, UID_4)
    reader.poll()
    chip.remove()
    poll_for(reader, clock, 0.5)
    present(chip, UID_4)
    assert poll_for(reader, clock, 1.0) == []


def test_debounce_is_measured_on_the_injected_clock(driver_factory, chip, clock):
    reader = BadgeReader(driver_factory, clock, debounce_s=3.0)
    present(chip, UID_4)
    reader.poll()
    chip.remove()
    clock.advance(2.9)
    reader.poll()
    present(chip, UID_4)
    assert reader.poll() == []
    chip.remove()
    clock.advance(3.0)
    present(chip, UID_4)
    assert poll_for(reader, clock, 0.3) == [CardPresented(UID_4)]  # past a presence check


def test_another_card_is_reported_at_once(reader, chip, clock):
    present(chip, UID_4)
    reader.poll()
    clock.advance(0.1)
    present(chip, UID_7)
    assert reader.poll() == [CardPresented(UID_7)]


def test_a_reader_that_stops_answering_is_reset_and_reported(reader, chip, clock, driver_factory):
    reader.poll()
    chip.fail_mode = "silent_chip"
    clock.advance(5.0)
    calls_before = len(driver_factory.gpio.calls)
    events = reader.poll()
    assert events == [ReaderFault("version register reads 0x00")]
    assert not reader.healthy
    pin_calls = driver_factory.gpio.calls[calls_before:]
    assert pin_calls == [("output", (RESET_PIN, 0)), ("output", (RESET_PIN, 1))]
    assert chip.hard_resets == 1


def test_a_fault_is_reported_once_per_outage(reader, chip, clock):
    reader.poll()
    chip.fail_mode = "silent_chip"
    clock.advance(5.0)
    events = reader.poll()
    clock.advance(5.0)
    events += reader.poll()
    assert events == [ReaderFault("version register reads 0x00")]
    assert chip.hard_resets == 2  # a reset at every check while it stays down


def test_a_reader_that_comes_back_is_recovered_and_reads_again(reader, chip, clock):
    reader.poll()
    chip.fail_mode = "silent_chip"
    clock.advance(5.0)
    reader.poll()
    present(chip, UID_4)
    assert poll_for(reader, clock, 4.0) == []  # no reads while faulty
    chip.fail_mode = None
    clock.advance(1.0)
    assert reader.poll() == [ReaderRecovered(), CardPresented(UID_4)]
    assert reader.healthy


def test_the_version_register_is_read_every_health_check_interval(reader, chip, clock):
    poll_for(reader, clock, 4.9)
    assert chip.register_reads[VERSION_REG] == 1
    poll_for(reader, clock, 0.3)
    assert chip.register_reads[VERSION_REG] == 2


def test_repeated_read_errors_bring_the_health_check_forward(reader, chip, clock):
    present(chip, UID_4)
    chip.fail_mode = "bad_bcc"
    events = poll_for(reader, clock, 1.0)
    assert events == []
    assert chip.register_reads[VERSION_REG] >= 2
    assert reader.healthy  # the chip answers; only the card is bad


def test_a_reader_that_cannot_be_opened_is_a_fault_not_a_crash(driver_factory, chip, clock):
    driver_factory.gpio.setmode(driver_factory.gpio.BOARD)  # someone else chose BOARD
    reader = BadgeReader(driver_factory, clock)
    [fault] = reader.poll()
    assert isinstance(fault, ReaderFault)
    assert "BOARD" in fault.reason
    driver_factory.gpio.cleanup()
    clock.advance(5.0)
    present(chip, UID_4)
    assert reader.poll() == [ReaderRecovered(), CardPresented(UID_4)]


@pytest.mark.parametrize(("version", "healthy"), [(0x91, True), (0x88, True), (0xFF, False)])
def test_clone_chips_pass_the_version_check_and_garbage_does_not(clock, version, healthy):
    chip = MFRC522Emulator(version=version)
    reader = BadgeReader(emulated_driver_factory(chip), clock)
    reader.poll()
    assert reader.healthy is healthy


def test_read_version_names_a_reader_that_is_not_answering(reader, chip):
    assert reader.read_version() == 0x92
    chip.fail_mode = "silent_chip"
    with pytest.raises(HardwareError, match="0x00"):
        reader.read_version()


def test_constructing_drivers_does_not_pile_up_log_handlers(chip):
    logger = logging.getLogger(DRIVER_LOGGER)
    handlers = list(logger.handlers)
    emulated_driver_factory(chip)()
    emulated_driver_factory(chip)()
    assert logger.handlers == handlers


def test_the_sigint_handler_is_left_alone(driver_factory):
    handler = signal.getsignal(signal.SIGINT)
    driver_factory()
    assert signal.getsignal(signal.SIGINT) is handler


def test_the_driver_is_given_bcm_numbering_and_the_reset_pin(reader, driver_factory):
    reader.poll()
    gpio = driver_factory.gpio
    assert gpio.mode == gpio.BCM
    assert gpio.levels == {RESET_PIN: gpio.HIGH}


def test_close_frees_only_the_reset_pin_and_the_bus(reader, chip, clock, driver_factory):
    reader.poll()
    reader.close()
    calls = driver_factory.gpio.calls
    assert ("cleanup", (RESET_PIN,)) in calls
    assert ("cleanup", ()) not in calls
    with pytest.raises(OSError):
        chip.xfer2([0xEE, 0])
    reader.close()  # twice is fine
    present(chip, UID_4)
    assert reader.poll() == [CardPresented(UID_4)]  # and it opens again


def test_bad_settings_are_refused(driver_factory, clock):
    with pytest.raises(ValueError):
        BadgeReader(driver_factory, clock, poll_interval_s=0)
    with pytest.raises(ValueError):
        BadgeReader(driver_factory, clock, debounce_s=-1)


def test_run_polls_on_a_steady_grid_and_emits_events(reader, chip, clock):
    present(chip, UID_4)
    emitted = []
    stop = SteppingStop(clock, waits=5)
    reader.run(emitted.append, stop)
    assert emitted == [CardPresented(UID_4)]
    assert stop.waits == pytest.approx([0.1] * 5)


def test_a_slow_poll_shortens_the_wait_after_it(clock):
    durations = iter([0.03, 0.25, 0.0, 0.05])
    starts = []

    def poll():
        starts.append(clock.monotonic())
        clock.advance(next(durations))
        return []

    stop = SteppingStop(clock, waits=4)
    poll_steadily(poll, clock, 0.1, lambda event: None, stop)
    assert stop.waits == pytest.approx([0.07, 0.0, 0.1, 0.05])
    first = starts[0]
    assert [start - first for start in starts] == pytest.approx([0.0, 0.1, 0.35, 0.45])


def test_a_poll_that_raises_is_a_fault_once_and_polling_goes_on(clock):
    # A bug in a poll must not end the reader's thread: the daemon would stay up
    # with every badge unanswered and nobody told.
    outcomes = iter([RuntimeError("boom"), RuntimeError("boom"), [CardPresented(UID_4)], []])
    emitted = []

    def poll():
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    stop = SteppingStop(clock, waits=4)
    poll_steadily(poll, clock, 0.1, emitted.append, stop)
    assert emitted == [
        ReaderFault("the reader's poll failed: RuntimeError('boom')"),
        ReaderRecovered(),
        CardPresented(UID_4),
    ]


def test_run_ends_as_soon_as_the_stop_event_is_set(reader, chip):
    stop = threading.Event()
    emitted = []
    present(chip, UID_4)

    def emit(event):
        emitted.append(event)
        stop.set()

    # Only a broken run() ever waits for this backstop.
    backstop = threading.Timer(5.0, stop.set)
    backstop.start()
    try:
        reader.run(emit, stop)
    finally:
        backstop.cancel()
    assert emitted == [CardPresented(UID_4)]


@pytest.mark.skipif(platform.machine().startswith(("arm", "aarch64")), reason="on a Pi")
def test_on_pi_off_a_pi_is_a_hardware_error():
    with pytest.raises(HardwareError, match="MFRC522 driver"):
        Mfrc522Factory.on_pi()


def test_a_card_resting_on_the_reader_at_start_is_not_a_badge(driver_factory, chip, clock):
    """After a daemon restart, a card left on the reader is reported only once taken away."""
    reader = BadgeReader(driver_factory, clock, ignore_resting_card=True)
    chip.present(EmulatedCard.from_hex("04A1B2C3"))
    seen = []
    for _ in range(6):
        seen += [e for e in reader.poll() if isinstance(e, CardPresented)]
        clock.advance(0.1)
    assert seen == []
    chip.remove()
    reader.poll()
    clock.advance(1.5)
    reader.poll()
    chip.present(EmulatedCard.from_hex("04A1B2C3"))
    for _ in range(3):
        seen += [e for e in reader.poll() if isinstance(e, CardPresented)]
    assert seen == [CardPresented("04A1B2C3")]
    reader.close()


# --------------------------------------------------- the cost of waiting


def cost_per_second(reader, chip, clock, seconds: float = 10.0) -> tuple[float, float]:
    """SPI transfers and reads of CommIrqReg a second while polling for ``seconds``."""
    transfers, irq_reads = chip.transfers, chip.register_reads[COM_IRQ_REG]
    events = poll_for(reader, clock, seconds)
    assert not [e for e in events if isinstance(e, CardPresented)]
    return (
        (chip.transfers - transfers) / seconds,
        (chip.register_reads[COM_IRQ_REG] - irq_reads) / seconds,
    )


def test_an_empty_poll_costs_nine_transfers_and_no_busy_read(reader, chip, clock):
    reader.poll()  # opens the reader, checks its health, loads the short timer
    before, irq_before = chip.transfers, chip.register_reads[COM_IRQ_REG]
    poll_for(reader, clock, 1.0)  # ten polls of an empty field, no health check among them
    # Seven writes send REQA, one wait of the air time, one read finds TimerIRq,
    # one write ends it. Reading until TimerIRq with the driver's 15.5 ms timer
    # took 40 (the old bounded REQA) or over 2,000 (MFRC522_Request).
    assert chip.transfers - before == 10 * 9
    assert chip.register_reads[COM_IRQ_REG] - irq_before == 10


def test_a_resting_card_costs_what_an_empty_field_does(driver_factory, chip, clock):
    empty_chip = MFRC522Emulator()
    empty = BadgeReader(emulated_driver_factory(empty_chip), clock)
    resting = BadgeReader(driver_factory, clock)
    present(chip, UID_7)
    assert resting.poll() == [CardPresented(UID_7)]
    empty.poll()
    clock.advance(0.1)
    # Both readers poll on the same clock, health checks and all.
    transfers = {empty_chip: empty_chip.transfers, chip: chip.transfers}
    reported = []
    for _ in range(100):
        reported += resting.poll() + empty.poll()
        clock.advance(0.1)
    per_s = {c: (c.transfers - transfers[c]) / 10.0 for c in transfers}
    assert reported == []
    assert per_s[chip] <= per_s[empty_chip] + 2
    assert per_s[empty_chip] <= 10 * 10 + 1  # ten polls a second, a health check each 5 s
    empty.close()
    resting.close()


def answers(chip, short_frame: int) -> bool:
    """Send a 7-bit frame straight over the chip's bus; True if a card answered."""
    for register, value in (
        (emu.COM_IRQ_REG, 0x7F),
        (emu.FIFO_LEVEL_REG, 0x80),
        (emu.FIFO_DATA_REG, short_frame),
        (emu.COMMAND_REG, emu.CMD_TRANSCEIVE),
        (emu.BIT_FRAMING_REG, 0x87),
    ):
        chip.xfer2([register << 1, value])
    return bool(chip.xfer2([0x80 | emu.COM_IRQ_REG << 1, 0])[1] & emu.RX_IRQ)


@pytest.mark.parametrize("uid", [UID_4, UID_7, "04112233445566778899"])
def test_a_card_read_is_halted_and_answers_only_wupa(reader, chip, uid):
    present(chip, uid)
    assert reader.poll() == [CardPresented(uid)]
    assert not answers(chip, iso.REQA)
    assert answers(chip, iso.WUPA)


def test_a_card_lifted_briefly_while_resting_is_not_a_new_badge(reader, chip, clock):
    present(chip, UID_4)
    assert poll_for(reader, clock, 3.3) == [CardPresented(UID_4)]  # checked at 1, 2 and 3 s
    chip.remove()
    poll_for(reader, clock, 0.5)
    present(chip, UID_4)  # away 0.5 s, less than the debounce time
    assert poll_for(reader, clock, 3.0) == []


def test_a_resting_card_that_leaves_is_seen_gone_at_the_next_check(reader, chip, clock):
    present(chip, UID_4)
    reader.poll()
    clock.advance(0.1)
    chip.remove()
    poll_for(reader, clock, 1.0)  # the presence check misses it
    present(chip, UID_4)
    assert reader.poll() == [CardPresented(UID_4)]


def test_a_card_back_before_the_check_noticed_it_went_is_new(driver_factory, chip, clock):
    """A halted card that answers REQA was powered afresh: it left and came back."""
    reader = BadgeReader(driver_factory, clock, debounce_s=0.5)
    present(chip, UID_4)
    reader.poll()
    poll_for(reader, clock, 0.3)
    chip.remove()
    poll_for(reader, clock, 0.5)
    present(chip, UID_4)  # at 0.8 s: the first presence check is at 1.0 s
    assert reader.poll() == [CardPresented(UID_4)]
    reader.close()


# --------------------------------------------------- garbage from a working chip


def test_reads_that_keep_failing_while_the_chip_answers_are_one_fault(reader, chip, clock):
    present(chip, UID_4)
    chip.fail_mode = "bad_bcc"
    events = poll_for(reader, clock, 30)
    faults = [e for e in events if isinstance(e, ReaderFault)]
    assert len(faults) == 1
    assert "badge reads failed" in faults[0].reason
    assert reader.healthy  # the chip answers: restarting would not help


def test_a_few_failed_reads_are_not_a_fault(reader, chip, clock):
    present(chip, UID_4)
    chip.fail_mode = "bad_bcc"
    events = poll_for(reader, clock, 1.0)  # a card swiped badly: five failed reads
    assert not [e for e in events if isinstance(e, ReaderFault)]


def test_a_good_read_rearms_the_garbage_fault(reader, chip, clock):
    present(chip, UID_4)
    chip.fail_mode = "bad_bcc"
    poll_for(reader, clock, 10)
    chip.fail_mode = None
    chip.remove()
    poll_for(reader, clock, 2)
    present(chip, UID_7)
    assert CardPresented(UID_7) in poll_for(reader, clock, 0.3)
    chip.fail_mode = "bad_bcc"
    chip.remove()
    present(chip, UID_4)
    faults = [e for e in poll_for(reader, clock, 10) if isinstance(e, ReaderFault)]
    assert len(faults) == 1


# --------------------------------------------------- the brute-force cool-down


def tap(reader, chip, clock, uid: str) -> list:
    """Present ``uid`` for 0.3 s, then take it away for 1.2 s (past the debounce)."""
    present(chip, uid)
    events = poll_for(reader, clock, 0.3)
    chip.remove()
    return events + poll_for(reader, clock, 1.2)


def test_a_slowed_reader_answers_one_card_per_gap(reader, chip, clock):
    reader.poll()
    reader.slow_down(gap_s=10, for_s=60)
    answered = []
    for n in range(20):  # a new UID every 1.5 s for 30 s
        answered += tap(reader, chip, clock, f"0BAD{n:04X}")
    assert len(answered) == 3  # at 0, 10.5 and 21 s


def test_a_card_held_through_the_gap_is_answered_when_it_ends(reader, chip, clock):
    reader.poll()
    reader.slow_down(gap_s=5, for_s=60)
    assert tap(reader, chip, clock, "0BAD0001") == [CardPresented("0BAD0001")]
    present(chip, UID_4)  # somebody who works here, holding their badge
    assert poll_for(reader, clock, 3.0) == []
    assert poll_for(reader, clock, 2.5) == [CardPresented(UID_4)]


def test_the_cool_down_ends(reader, chip, clock):
    reader.poll()
    reader.slow_down(gap_s=10, for_s=5)
    tap(reader, chip, clock, "0BAD0001")
    clock.advance(5)
    assert tap(reader, chip, clock, UID_4) == [CardPresented(UID_4)]
    assert tap(reader, chip, clock, UID_7) == [CardPresented(UID_7)]


def timer_reload(chip) -> int:
    return chip.xfer2([0x80 | emu.T_RELOAD_REG_L << 1, 0])[1]


def test_the_driver_gets_its_own_timer_back_for_its_calls(reader, chip, clock):
    reader.poll()
    assert timer_reload(chip) == 1  # 1 ms for REQA and WUPA
    present(chip, UID_7)
    clock.advance(0.1)
    assert reader.poll() == [CardPresented(UID_7)]
    assert timer_reload(chip) == 30  # what MFRC522_Init set: 15.5 ms
    clock.advance(0.1)
    reader.poll()
    assert timer_reload(chip) == 1
