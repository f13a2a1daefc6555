"""The card in an emulated reader's field: an ISO 14443A card with MIFARE Classic 1K
memory (:class:`EmulatedCard`) and the card's side of the protocol
(:class:`CardInField`): REQA/WUPA, the anticollision and SELECT cascade (levels
1 to 3), HLTA, and MIFARE Classic authentication and READ.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# ISO 14443A card commands.
REQA = 0x26
WUPA = 0x52
SEL_CL1 = 0x93
SEL_CL2 = 0x95
SEL_CL3 = 0x97
SELECT_CODES = (SEL_CL1, SEL_CL2, SEL_CL3)
NVB_ANTICOLLISION = 0x20
NVB_SELECT = 0x70
HLTA = 0x50
MF_AUTH_KEY_A = 0x60
MF_AUTH_KEY_B = 0x61
MF_READ = 0x30
CASCADE_TAG = 0x88
SAK_CASCADE_BIT = 0x04
NAK_INVALID = 0x4

DEFAULT_KEY = b"\xff" * 6
# ATQA (low byte first) by UID size: bits 7..6 of the first byte give the size.
_ATQA_BY_SIZE = {4: b"\x04\x00", 7: b"\x44\x00", 10: b"\x84\x00"}
# Access bits and GPB of a factory-fresh sector trailer: keys A/B with default rights.
_TRAILER_ACCESS = bytes.fromhex("ff078069")
FAIL_MODES = (None, "no_answer", "bad_bcc", "silent_chip")


def crc_a(data: Iterable[int], preset: int = 0x6363) -> bytes:
    """ISO 14443A CRC_A of ``data``, low byte first, as it goes on the air.

    ``preset`` is the register's start value; CRC_A proper starts at 0x6363.
    """
    crc = preset
    for byte in data:
        ch = (byte ^ crc) & 0xFF
        ch = (ch ^ (ch << 4)) & 0xFF
        crc = (crc >> 8) ^ (ch << 8) ^ (ch << 3) ^ (ch >> 4)
    return bytes((crc & 0xFF, crc >> 8))


def bcc(data: Iterable[int]) -> int:
    """The block check character: XOR of the bytes, as sent after a UID part."""
    check = 0
    for byte in data:
        check ^= byte
    return check


@dataclass(frozen=True)
class EmulatedCard:
    """An ISO 14443A card with MIFARE Classic 1K memory.

    ``uid`` is 4, 7 or 10 bytes (single, double or triple size). ``atqa``
    (two bytes as sent, low byte first) and ``blocks`` (64 blocks of 16
    bytes) default to what a factory-fresh card holds: a manufacturer block,
    empty data blocks and trailers with default access bits. ``key`` opens
    every sector, as key A or key B.
    """

    uid: bytes
    atqa: bytes | None = None
    sak: int = 0x08
    blocks: tuple[bytes, ...] = ()
    key: bytes = DEFAULT_KEY

    def __post_init__(self) -> None:
        if len(self.uid) not in _ATQA_BY_SIZE:
            raise ValueError(f"a UID has 4, 7 or 10 bytes, not {len(self.uid)}")
        if self.uid[0] == CASCADE_TAG:
            raise ValueError("a UID cannot start with the cascade tag 0x88")
        if len(self.key) != 6:
            raise ValueError("a MIFARE key has 6 bytes")
        # A frozen dataclass fills its derived defaults through object.__setattr__.
        if self.atqa is None:
            object.__setattr__(self, "atqa", _ATQA_BY_SIZE[len(self.uid)])
        if not self.blocks:
            object.__setattr__(self, "blocks", self._factory_blocks())
        if len(self.blocks) != 64 or any(len(block) != 16 for block in self.blocks):
            raise ValueError("a MIFARE Classic 1K card has 64 blocks of 16 bytes")

    @classmethod
    def from_hex(cls, uid_hex: str, **options: Any) -> EmulatedCard:
        """A card whose UID is written in hex, e.g. ``"04A1B2C3"``."""
        try:
            uid = bytes.fromhex(uid_hex)
        except ValueError:
            raise ValueError(f"not a hex UID: {uid_hex!r}") from None
        return cls(uid, **options)

    def with_block(self, number: int, data: bytes) -> EmulatedCard:
        """A copy of this card with block ``number`` holding ``data``."""
        blocks = list(self.blocks)
        blocks[number] = data
        return dataclasses.replace(self, blocks=tuple(blocks))

    @property
    def cascade_levels(self) -> int:
        """1, 2 or 3 for a single, double or triple-size UID."""
        return (len(self.uid) - 1) // 3

    def uid_part(self, level: int) -> bytes:
        """The four bytes the card answers at cascade ``level``.

        The cascade tag and the next three UID bytes until the last level,
        then the last four UID bytes.
        """
        if level == self.cascade_levels:
            return self.uid[-4:]
        return bytes([CASCADE_TAG]) + self.uid[3 * (level - 1) : 3 * level]

    @property
    def crypto_uid(self) -> bytes:
        """The four UID bytes Crypto1 authentication uses (the last cascade level's)."""
        return self.uid[-4:]

    def _factory_blocks(self) -> tuple[bytes, ...]:
        head = self.uid + (bytes([bcc(self.uid)]) if len(self.uid) == 4 else b"")
        head += bytes([self.sak]) + self.atqa
        manufacturer = head + bytes(16 - len(head))
        # Key A never reads back; key B does with the default access bits.
        trailer = bytes(6) + _TRAILER_ACCESS + self.key
        return tuple(
            manufacturer if n == 0 else trailer if n % 4 == 3 else bytes(16) for n in range(64)
        )


class CardState(enum.Enum):
    """Where a card stands in the ISO 14443-3 state machine."""

    IDLE = "idle"
    READY = "ready"
    ACTIVE = "active"
    HALT = "halt"


class CardInField:
    """The card's side of ISO 14443A: the one card in a reader's field and its state.

    The chip hands each frame it transmits to :meth:`answer` (or, for
    MFAuthent, to :meth:`accepts`) when its field is on and the card is not
    playing dead; the card answers as the ISO 14443-3 state machine says.
    """

    def __init__(self) -> None:
        self.card: EmulatedCard | None = None
        self.state = CardState.IDLE
        #: Whether the card came to READY from HALT (a bad frame sends it back there).
        self.was_halted = False
        self.cascade_level = 1
        self.authenticated_sector: int | None = None

    def power_cycle(self) -> None:
        """The card lost (or newly got) power: it starts again from IDLE."""
        self.state = CardState.IDLE
        self.was_halted = False
        self.cascade_level = 1
        self.authenticated_sector = None

    def answer(
        self, frame: bytes, tx_last_bits: int, *, bad_bcc: bool = False
    ) -> tuple[bytes, int] | None:
        """The card's answer to ``frame`` and its valid bits in the last byte, or silence.

        ``bad_bcc`` makes the card answer anticollision with a wrong BCC.
        """
        if self.card is None:
            return None
        if tx_last_bits == 7 and len(frame) == 1:
            return self._answer_short_frame(frame[0])
        if tx_last_bits != 0 or not frame:
            self._drop()
            return None
        if self.state == CardState.READY:
            return self._answer_anticollision(frame, bad_bcc)
        if self.state == CardState.ACTIVE:
            return self._answer_active(frame)
        return None

    def accepts(self, frame: bytes) -> bool:
        """Whether an MFAuthent frame (command, block, key, UID) opens a sector."""
        card = self.card
        if card is None or self.state != CardState.ACTIVE:
            return False
        ok = (
            len(frame) == 12
            and frame[0] in (MF_AUTH_KEY_A, MF_AUTH_KEY_B)
            and frame[1] < len(card.blocks)
            and frame[2:8] == card.key
            and frame[8:12] == card.crypto_uid
        )
        if ok:
            self.authenticated_sector = frame[1] // 4
        else:
            self._drop()
        return ok

    def _drop(self) -> None:
        """An unexpected frame sends the card back to IDLE, or to HALT if it came from there."""
        self.state = CardState.HALT if self.was_halted else CardState.IDLE
        self.cascade_level = 1
        self.authenticated_sector = None

    def _answer_short_frame(self, command: int) -> tuple[bytes, int] | None:
        state = self.state
        if (command == REQA and state == CardState.IDLE) or (
            command == WUPA and state in (CardState.IDLE, CardState.HALT)
        ):
            self.was_halted = state == CardState.HALT
            self.state = CardState.READY
            self.cascade_level = 1
            self.authenticated_sector = None
            return self.card.atqa, 0
        if state in (CardState.READY, CardState.ACTIVE):
            self._drop()
        return None

    def _answer_anticollision(self, frame: bytes, bad_bcc: bool) -> tuple[bytes, int] | None:
        card = self.card
        level = self.cascade_level
        select = SELECT_CODES[level - 1]
        part = card.uid_part(level)
        check = bcc(part)
        if frame == bytes([select, NVB_ANTICOLLISION]):
            if bad_bcc:
                check ^= 0xFF
            return part + bytes([check]), 0
        expected = bytes([select, NVB_SELECT]) + part + bytes([check])
        if len(frame) == 9 and frame[:7] == expected and frame[7:] == crc_a(frame[:7]):
            if level == card.cascade_levels:
                sak = card.sak
                self.state = CardState.ACTIVE
            else:
                sak = SAK_CASCADE_BIT
                self.cascade_level += 1
            return bytes([sak]) + crc_a([sak]), 0
        self._drop()
        return None

    def _answer_active(self, frame: bytes) -> tuple[bytes, int] | None:
        if len(frame) < 3 or frame[-2:] != crc_a(frame[:-2]):
            return None  # A damaged frame gets no answer.
        if frame[:2] == bytes([HLTA, 0x00]):
            self.state = CardState.HALT
            self.authenticated_sector = None
            return None
        if frame[0] == MF_READ and len(frame) == 4:
            block = frame[1]
            if block >= len(self.card.blocks) or self.authenticated_sector != block // 4:
                return bytes([NAK_INVALID]), 4
            data = self.card.blocks[block]
            return data + crc_a(data), 0
        self._drop()
        return None
