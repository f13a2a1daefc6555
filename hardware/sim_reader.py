"""The demo's badge reader: the real ``mfrc522`` driver on an emulated MFRC522.

The simulator presents cards "through the emulated MFRC522" (SPEC), so the
demo's reader is not a lighter twin: it is :class:`~hardware.reader.BadgeReader`
and the package's driver, with :class:`~hardware.mfrc522_emulator.MFRC522Emulator`
behind the SPI bus and :class:`~hardware.mfrc522_emulator.EmulatedGPIO` on the
reset pin. :class:`SimulatedReaderBench` bundles them for the simulator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from hardware.mfrc522_emulator import (
    EmulatedCard,
    EmulatedGPIO,
    MFRC522Emulator,
    load_mfrc522_driver,
)
from hardware.reader import BadgeReader, Mfrc522Factory, ReaderEvent, poll_steadily
from locker.clock import Clock


def emulated_driver_factory(
    chip: MFRC522Emulator, *, reset_pin: int = 25, bus: int = 0, device: int = 0
) -> Mfrc522Factory:
    """A driver factory for the real MFRC522 driver talking to ``chip``.

    The reset pin of a fresh :class:`EmulatedGPIO` is wired to the chip, the
    chip needs no settling time after a reset, and where the reader would
    sleep for the chip it lets the chip's time pass instead (``elapse``).
    """
    gpio = EmulatedGPIO(chip, reset_pin=reset_pin)
    return Mfrc522Factory(
        load_mfrc522_driver(chip, gpio),
        gpio,
        bus=bus,
        device=device,
        reset_pin=reset_pin,
        reset_settle_s=0.0,
        chip_clock=chip.elapse,
    )


class SimulatedReaderBench:
    """An emulated reader with the real driver and a :class:`BadgeReader` on it.

    ``present``, ``remove`` and ``fail`` act on the physical side; ``poll``,
    ``run`` and ``close`` are the reader's. Pass ``chip`` to keep the card in
    the field across a restart of the reader. With ``card_source`` (a callable
    giving the hex UID of the card at the reader, or ``None``, such as the
    persisted simulated world's ``card``) the field is made to match it before
    every poll, so that source is the one truth about the card.
    ``reader_options`` go to :class:`BadgeReader`; with ``irq_pin`` among
    them, the chip's IRQ pin drives that pin of their ``pin_factory`` (a
    :class:`~hardware.pins.SimulatedPinFactory`), as the IRQ wire would.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        chip: MFRC522Emulator | None = None,
        card_source: Callable[[], str | None] | None = None,
        reset_pin: int = 25,
        **reader_options: Any,
    ):
        self.chip = chip if chip is not None else MFRC522Emulator()
        self.card_source = card_source
        self.factory = emulated_driver_factory(self.chip, reset_pin=reset_pin)
        self.reader = BadgeReader(self.factory, clock, **reader_options)
        #: Polls done so far: a simulated tap lasts until the reader has looked.
        self.polls = 0
        if self.reader.irq_pin is not None:
            # A switch-like hold of the input: it beats the pull-up the reader sets.
            self.chip.connect_irq(self.reader.pin_factory.pin(self.reader.irq_pin).wire)

    def present(self, uid_hex: str) -> None:
        """Hold the card ``uid_hex`` (4, 7 or 10 bytes in hex) to the reader until removed.

        Raises ``ValueError`` for a UID that is not one.
        """
        self.chip.present(EmulatedCard.from_hex(uid_hex))

    def remove(self) -> None:
        """Take the card away from the reader."""
        self.chip.remove()

    def fail(self, mode: str | None) -> None:
        """Play a failure: ``"no_answer"``, ``"bad_bcc"``, ``"silent_chip"``; ``None`` heals."""
        self.chip.fail_mode = mode

    def slow_down(self, gap_s: float, for_s: float) -> None:
        """See :meth:`BadgeReader.slow_down`."""
        self.reader.slow_down(gap_s, for_s)

    @property
    def clock(self) -> Clock:
        """The clock the reader polls on."""
        return self.reader.clock

    @property
    def healthy(self) -> bool:
        """Whether the reader answered its last health check."""
        return self.reader.healthy

    def poll(self) -> list[ReaderEvent]:
        """One poll of the reader, after bringing the field in line with ``card_source``."""
        self._follow_card_source()
        try:
            return self.reader.poll()
        finally:
            self.polls += 1

    def run(self, emit: Callable[[ReaderEvent], None], stop_event: threading.Event) -> None:
        """Poll at the reader's steady interval until ``stop_event`` is set; for a thread."""
        reader = self.reader
        poll_steadily(self.poll, reader.clock, reader.poll_interval_s, emit, stop_event)

    def close(self) -> None:
        """Close the reader (the chip and its card stay, as hardware does)."""
        self.reader.close()

    def _follow_card_source(self) -> None:
        if self.card_source is None:
            return
        wanted = self.card_source()
        card = self.chip.card
        have = None if card is None else card.uid.hex()
        if wanted is None:
            if card is not None:
                self.chip.remove()
        elif have != wanted.lower():
            self.chip.present(EmulatedCard.from_hex(wanted))
