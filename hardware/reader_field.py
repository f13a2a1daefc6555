"""What the badge reader puts on the air itself, around the ``mfrc522`` driver.

The driver's ``MFRC522_ToCard`` ignores TimerIRq, so on an empty field it reads
CommIrqReg 2,000 times; a REQA bounded by a count of reads still spends its
whole count (the chip's timer, set by ``MFRC522_Init`` to 15.5 ms, never
fires within it). :class:`FieldProbe` instead sizes the wait to the air time:
it sets the chip's timer to 1 ms for its REQA and WUPA, then either sleeps
that long once and reads CommIrqReg once (polled), or waits for the chip's IRQ
pin and reads no CommIrqReg at all (IRQ mode). It also sends HLTA, so a card
left on the reader stops answering REQA, and gives the driver back its own
timer before the driver's calls. :func:`anticollision` and :func:`select` run
the cascade levels the driver does not know.

Register and bit names follow the MFRC522 datasheet (rev. 3.9, section 9).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from locker.errors import ReaderError

log = logging.getLogger(__name__)

COMMAND_REG, COM_IEN_REG, COMM_IRQ_REG, ERROR_REG = 0x01, 0x02, 0x04, 0x06
FIFO_DATA_REG, FIFO_LEVEL_REG, CONTROL_REG, BIT_FRAMING_REG = 0x09, 0x0A, 0x0C, 0x0D
T_RELOAD_REG_L = 0x2D
CMD_IDLE, CMD_TRANSMIT, CMD_TRANSCEIVE = 0x00, 0x04, 0x0C
RX_IRQ, ERR_IRQ, TIMER_IRQ = 0x20, 0x02, 0x01
IRQ_INV = 0x80  # ComIEnReg: the IRQ pin is pulled low while an interrupt is pending
T_STOP_NOW, FLUSH_FIFO, START_SEND = 0x80, 0x80, 0x80
#: ErrorReg bits that spoil an answer: buffer overflow, collision, parity, protocol.
ANSWER_ERRORS = 0x1B

#: ISO 14443-3 short frames (7 bits): REQA wakes a card in IDLE, WUPA one in
#: IDLE or HALT.
REQA, WUPA = 0x26, 0x52
#: HLTA with its CRC_A (0x57 0xCD), computed once: the card's HALT command.
HLTA_FRAME = (0x50, 0x00, 0x57, 0xCD)

#: TReloadReg (low byte) that ``MFRC522_Init`` writes: with its prescaler
#: (TModeReg 0x8D, TPrescalerReg 0x3E: 13.56 MHz / 6781, a 0.5 ms tick) the
#: timer runs 31 ticks, 15.5 ms.
DRIVER_TIMER_RELOAD = 30
#: TReloadReg for REQA and WUPA on the driver's prescaler: two ticks, 1.0 ms.
#: A card's ATQA has started well within it (86 us after the frame) and the
#: timer stops as the answer arrives, so only silence lets it run out.
SHORT_TIMER_RELOAD = 1
#: The host's one wait for a REQA or WUPA in polled mode: the short timer and
#: a margin, so the first read of CommIrqReg finds the exchange over.
ANSWER_WAIT_S = 1.2e-3
#: Reads of CommIrqReg after that wait before giving up, should the host have
#: woken early: on a working chip the first read finds TimerIRq or RxIRq.
ANSWER_READS = 3
#: IRQ mode: how long to wait for the pin before asking the chip what happened.
IRQ_TIMEOUT_S = 5e-3
#: IRQ mode: what the chip may interrupt for: an answer, an error, silence.
IRQ_ENABLES = IRQ_INV | RX_IRQ | ERR_IRQ | TIMER_IRQ


class Driver(Protocol):
    """What this module uses of an ``mfrc522.MFRC522`` instance."""

    MI_OK: int
    PCD_TRANSCEIVE: int

    def MFRC522_ToCard(self, command: int, data: list[int]) -> tuple[int, list[int], int]: ...
    def CalulateCRC(self, data: list[int]) -> list[int]: ...
    def Read_MFRC522(self, register: int) -> int: ...
    def Write_MFRC522(self, register: int, value: int) -> None: ...


class InterruptLine(Protocol):
    """The reader's IRQ pin, as :class:`hardware.reader_irq.IrqLine` gives it."""

    def wait(self, timeout_s: float) -> bool: ...


class FieldProbe:
    """REQA, WUPA and HLTA on one initialised driver, with the chip's timer sized for them.

    ``sleep`` is how the host waits for the air time in polled mode:
    ``time.sleep`` for a real chip, an emulated chip's ``elapse``. With
    ``irq`` (the reader's IRQ pin on a GPIO) the probe waits for the pin
    instead and never reads CommIrqReg, unless the pin stays quiet past
    ``IRQ_TIMEOUT_S`` (then it reads it once to tell a broken IRQ wire from a
    slow card, and logs the wire once).

    The probe keeps the short timer (and in IRQ mode its interrupt enables)
    loaded between polls, so an empty poll writes neither; :meth:`hand_back`
    restores the driver's 15.5 ms timer before the driver's own calls, whose
    commands (a select, an authentication) may need it.
    """

    def __init__(
        self,
        driver: Driver,
        *,
        sleep: Callable[[float], None] = time.sleep,
        irq: InterruptLine | None = None,
    ):
        self.driver = driver
        self.sleep = sleep
        self.irq = irq
        self._short_timer = False
        self._irq_wire_reported = False

    def request(self) -> bool:
        """Send REQA; True when a card in the IDLE state answered with a clean ATQA."""
        answered = self._short_frame(REQA)
        read = self.driver.Read_MFRC522
        if not answered or read(ERROR_REG) & ANSWER_ERRORS:
            return False
        return read(FIFO_LEVEL_REG) == 2  # an ATQA is two bytes

    def wake_up(self) -> bool:
        """Send WUPA; True when any card answered, halted or not.

        Only whether something answered matters (a card is there), so the
        answer is not read. The card is left READY; the next REQA sends a card
        woken from HALT back to HALT (ISO 14443-3), unanswered.
        """
        return self._short_frame(WUPA)

    def halt(self) -> None:
        """Send HLTA to the selected card: it answers only WUPA until it leaves the field.

        Sent with Transmit, not Transceive: a card never answers HLTA, so
        there is nothing to wait for. The next command is the next poll's, by
        when the four bytes have long left.
        """
        write = self.driver.Write_MFRC522
        write(FIFO_LEVEL_REG, FLUSH_FIFO)
        write(COMMAND_REG, CMD_IDLE)
        for byte in HLTA_FRAME:
            write(FIFO_DATA_REG, byte)
        write(COMMAND_REG, CMD_TRANSMIT)

    def hand_back(self) -> None:
        """Give the driver its own timer (and interrupt enables) back for its calls."""
        if self._short_timer:
            self.driver.Write_MFRC522(T_RELOAD_REG_L, DRIVER_TIMER_RELOAD)
            self._short_timer = False

    def _short_frame(self, command: int) -> bool:
        """Transceive one 7-bit frame; True when the card's answer arrived."""
        write = self.driver.Write_MFRC522
        if not self._short_timer:
            write(T_RELOAD_REG_L, SHORT_TIMER_RELOAD)
            if self.irq is not None:
                # The driver's own calls enable other interrupts (LoAlert among
                # them, pending whenever the FIFO is nearly empty).
                write(COM_IEN_REG, IRQ_ENABLES)
            self._short_timer = True
        # A timer left running (the HLTA's, the last poll's) must not end this one.
        write(CONTROL_REG, T_STOP_NOW)
        write(COMM_IRQ_REG, 0x7F)  # clear every request bit (and release the IRQ pin)
        write(FIFO_LEVEL_REG, FLUSH_FIFO)
        write(COMMAND_REG, CMD_IDLE)  # end whatever the last poll left waiting
        write(FIFO_DATA_REG, command)
        write(COMMAND_REG, CMD_TRANSCEIVE)
        write(BIT_FRAMING_REG, START_SEND | 0x07)  # a short frame of 7 bits
        answered = self._irq_wait() if self.irq is not None else self._polled_wait()
        write(BIT_FRAMING_REG, 0x00)
        return answered

    def _polled_wait(self) -> bool:
        self.sleep(ANSWER_WAIT_S)
        irq = 0
        for _ in range(ANSWER_READS):
            irq = self.driver.Read_MFRC522(COMM_IRQ_REG)
            if irq & (RX_IRQ | ERR_IRQ | TIMER_IRQ):
                break
        return bool(irq & RX_IRQ)

    def _irq_wait(self) -> bool:
        if self.irq.wait(IRQ_TIMEOUT_S):
            # Which interrupt it was shows in the FIFO: only an answer fills it.
            return self.driver.Read_MFRC522(FIFO_LEVEL_REG) > 0
        irq = self.driver.Read_MFRC522(COMM_IRQ_REG)
        if irq & (RX_IRQ | ERR_IRQ | TIMER_IRQ) and not self._irq_wire_reported:
            self._irq_wire_reported = True
            log.warning(
                "the reader raised an interrupt (CommIrqReg 0x%02X) but its IRQ pin did not"
                " change: check the IRQ wire and reader.irq_pin",
                irq,
            )
        return bool(irq & RX_IRQ)


def anticollision(driver: Driver, code: int) -> list[int]:
    """Anticollision at the cascade level whose SEL ``code`` is given: four UID bytes, BCC."""
    driver.Write_MFRC522(BIT_FRAMING_REG, 0x00)
    status, answer, _bits = driver.MFRC522_ToCard(driver.PCD_TRANSCEIVE, [code, 0x20])
    if status != driver.MI_OK or len(answer) != 5:
        raise ReaderError(f"anticollision 0x{code:02X} got no UID")
    if answer[0] ^ answer[1] ^ answer[2] ^ answer[3] != answer[4]:
        raise ReaderError(f"anticollision 0x{code:02X} answered a bad BCC")
    return answer


def select(driver: Driver, code: int, part: list[int]) -> int:
    """SELECT at the cascade level whose SEL ``code`` is given; returns the card's SAK."""
    frame = [code, 0x70, *part[:5]]
    frame += driver.CalulateCRC(frame)
    status, answer, bits = driver.MFRC522_ToCard(driver.PCD_TRANSCEIVE, frame)
    if status != driver.MI_OK or bits != 24:
        raise ReaderError(f"select 0x{code:02X} got no SAK")
    return answer[0]
