"""The badge reader chips that work, by the value of their VersionReg.

One table for the reader driver (:mod:`hardware.reader` refuses any other value
as a reader that is not answering) and for ``locker doctor`` (which names the
chip it found). It lives in the core because both may import the core, and the
core may import neither of them.
"""

from __future__ import annotations

#: VersionReg value -> the chip's name: MFRC522 v1.0 and v2.0, FM17522 clones
#: (0x88) and the 0x12 some counterfeit boards report.
READER_VERSIONS = {
    0x91: "MFRC522 v1.0",
    0x92: "MFRC522 v2.0",
    0x88: "FM17522 clone",
    0x12: "clone",
}
