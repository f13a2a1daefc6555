"""The MFRC522's registers, commands and bits (NXP datasheet rev. 3.9), named as there.

The emulated chip (:mod:`hardware.mfrc522_emulator`) and the tests that poke
it share these; the reader's own driver (the ``mfrc522`` package) has its own.
"""

# Register addresses (datasheet section 9.2); names follow the datasheet.
COMMAND_REG = 0x01
COM_IEN_REG = 0x02
DIV_IEN_REG = 0x03
COM_IRQ_REG = 0x04
DIV_IRQ_REG = 0x05
ERROR_REG = 0x06
STATUS1_REG = 0x07
STATUS2_REG = 0x08
FIFO_DATA_REG = 0x09
FIFO_LEVEL_REG = 0x0A
WATER_LEVEL_REG = 0x0B
CONTROL_REG = 0x0C
BIT_FRAMING_REG = 0x0D
MODE_REG = 0x11
TX_CONTROL_REG = 0x14
CRC_RESULT_REG_H = 0x21
CRC_RESULT_REG_L = 0x22
T_MODE_REG = 0x2A
T_PRESCALER_REG = 0x2B
T_RELOAD_REG_H = 0x2C
T_RELOAD_REG_L = 0x2D
T_COUNTER_VAL_REG_H = 0x2E
T_COUNTER_VAL_REG_L = 0x2F
VERSION_REG = 0x37

# Commands (datasheet table 149).
CMD_IDLE = 0x0
CMD_MEM = 0x1
CMD_GENERATE_RANDOM_ID = 0x2
CMD_CALC_CRC = 0x3
CMD_TRANSMIT = 0x4
CMD_NO_CMD_CHANGE = 0x7
CMD_RECEIVE = 0x8
CMD_TRANSCEIVE = 0xC
CMD_MF_AUTHENT = 0xE
CMD_SOFT_RESET = 0xF

# ComIrqReg bits; bit 7 of a write is Set1.
TX_IRQ = 0x40
RX_IRQ = 0x20
IDLE_IRQ = 0x10
HI_ALERT_IRQ = 0x08
LO_ALERT_IRQ = 0x04
ERR_IRQ = 0x02
TIMER_IRQ = 0x01
# DivIrqReg bits; bit 7 of a write is Set2.
CRC_IRQ = 0x04

# ErrorReg bits.
BUFFER_OVFL = 0x10
RECEIVE_ERRORS = 0x0F  # CollErr, CRCErr, ParityErr, ProtocolErr

MF_CRYPTO1_ON = 0x08  # Status2Reg
START_SEND = 0x80  # BitFramingReg
T_AUTO = 0x80  # TModeReg
T_AUTO_RESTART = 0x10  # TModeReg
FIFO_SIZE = 64
CHIP_CLOCK_HZ = 13.56e6
IRQ_INV = 0x80  # ComIEnReg: the IRQ pin is low while an interrupt is pending
#: What one spidev transfer costs on a Pi beyond its bits on the wire (the
#: ioctl, the kernel's SPI queue): with a two-byte register access at 1 MHz
#: (16 us of clock) a transfer takes about 30 us, as measured on a Pi.
SPIDEV_OVERHEAD_S = 14e-6

#: VersionReg of a genuine MFRC522 version 2.0.
VERSION_MFRC522_V2 = 0x92

# Power-on values (datasheet section 9.3); registers not listed reset to 0.
RESET_VALUES = {
    COMMAND_REG: 0x20,
    COM_IEN_REG: 0x80,
    COM_IRQ_REG: IDLE_IRQ | LO_ALERT_IRQ,
    STATUS1_REG: 0x21,
    WATER_LEVEL_REG: 0x08,
    CONTROL_REG: 0x10,
    0x0E: 0xA0,  # CollReg
    MODE_REG: 0x3F,
    TX_CONTROL_REG: 0x80,
    0x16: 0x10,  # TxSelReg
    0x17: 0x84,  # RxSelReg
    0x18: 0x84,  # RxThresholdReg
    0x19: 0x4D,  # DemodReg
    0x1C: 0x62,  # MfTxReg
    0x1F: 0xEB,  # SerialSpeedReg
    CRC_RESULT_REG_H: 0xFF,
    CRC_RESULT_REG_L: 0xFF,
    0x24: 0x26,  # ModWidthReg
    0x26: 0x48,  # RFCfgReg
    0x27: 0x88,  # GsNReg
    0x28: 0x20,  # CWGsPReg
    0x29: 0x20,  # ModGsPReg
    0x33: 0x80,  # TestPinEnReg
    0x36: 0x40,  # AutoTestReg
}
# Registers the host cannot write (status, results, version).
READ_ONLY = frozenset({ERROR_REG, STATUS1_REG, T_COUNTER_VAL_REG_H, T_COUNTER_VAL_REG_L, 0x37})
# ModeReg CRCPreset bits 1..0 (datasheet table 43).
CRC_PRESETS = (0x0000, 0x6363, 0xA671, 0xFFFF)
