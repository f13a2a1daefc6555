"""One exception hierarchy for the whole product.

Specific errors also inherit the builtin they resemble (as gpiozero does with
``BadPinFactory(GPIOZeroError, ImportError)``) so callers can catch either.
"""


class LockerError(Exception):
    """Base class of every error nursery-locker raises on purpose."""


class ConfigError(LockerError, ValueError):
    """The config file is missing, malformed or fails validation.

    The message always names the offending key, e.g. ``slots[3].lock_pin``.
    """


class RotaError(LockerError, ValueError):
    """A rota file was rejected; ``problems`` lists ``(line_number, reason)``."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        lines = "; ".join(f"line {n}: {why}" for n, why in problems)
        count = f"{len(problems)} bad row{'s' if len(problems) != 1 else ''}"
        super().__init__(f"rota rejected, nothing changed ({count}): {lines}")


class NotFound(LockerError, LookupError):
    """A person, badge, slot, grant or alert named by the caller does not exist."""


class Conflict(LockerError, ValueError):
    """The request makes sense but clashes with what is stored (duplicate name, badge in use)."""


class InvalidRequest(LockerError, ValueError):
    """A command's arguments are wrong (bad reason code, missing note, out of range)."""


class ControllerDown(LockerError, RuntimeError):
    """The daemon is not running, so a request that would open a slot is refused now."""


class StorageUnavailable(LockerError, OSError):
    """The database cannot be written (disk full, locked too long, deleted, corrupted)."""


class IllegalTransition(LockerError, RuntimeError):
    """A slot was asked to move between two states the transition table forbids."""


class ChainBroken(LockerError):
    """The event log's hash chain does not verify; ``event_id`` is the first bad event."""

    def __init__(self, event_id: int | None, reason: str):
        self.event_id = event_id
        self.reason = reason
        where = f"event {event_id}" if event_id is not None else "the log"
        super().__init__(f"{where}: {reason}")


class HardwareError(LockerError, OSError):
    """Something physical misbehaved: a pin, the reader, a lock."""


class ReaderError(HardwareError):
    """The badge reader returned an error status for one exchange."""


class ReaderNotAnswering(ReaderError):
    """The badge reader does not answer its version register."""


class CommandRejected(InvalidRequest):
    """A command's payload is wrong; the message names the field (``locker.commands``)."""


class NoSuchSlot(CommandRejected, NotFound):
    """A command names a slot the bank does not have (a 404 to the panel's callers)."""


class PersonOnHold(Conflict):
    """A legal hold is on the person: their data may be neither erased nor purged."""


class PersonHasDevice(Conflict):
    """The person's device is still in a slot, so they cannot be forgotten yet."""
