"""The command contract between the panel (or the CLI) and the daemon.

A command is a row in ``commands``: the panel writes it, rings the doorbell,
and the daemon carries it out. This module names the kinds, says which of
them can open a slot, and decides when one is too old to be carried out.

Why commands expire: a manager who asks for a slot to open means *now*. A
request that waited while the daemon was down (a Pi rebooting, a restart
loop) must not open slots minutes or hours later with nobody there, so an
unlocking command older than ``[commands] max_age_s`` when the daemon
reaches it is marked ``expired`` and logged as ``command.expired`` instead.
Age is measured on real (wall) time, which the panel and the daemon share
even when the demo's controller clock runs fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any


class CommandKind(StrEnum):
    """What a command asks the daemon to do."""

    #: Read people, badges and the rota again.
    RELOAD = "reload"
    #: Approve a release for a person (``open_now``: open their slot at once).
    GRANT = "grant"
    #: A manager's release of one slot.
    RELEASE_SLOT = "release_slot"
    #: Evacuation: every slot holding a device opens.
    RELEASE_ALL = "release_all"
    #: Open a free visitor slot for a visitor's phone.
    VISITOR_IN = "visitor_in"
    #: Open a visitor's slot so they can take their phone.
    VISITOR_OUT = "visitor_out"
    #: Open a setting slot for the setting's own device to be put in.
    STOCK = "stock"
    #: Simulator: hold a card to the emulated reader.
    SIM_BADGE = "sim_badge"
    #: Simulator: move a door or a device.
    SIM_SLOT = "sim_slot"
    #: Simulator: move the simulated clock on.
    SIM_CLOCK = "sim_clock"
    #: Simulator: make the emulated reader fail or recover.
    SIM_READER = "sim_reader"


class CommandStatus(StrEnum):
    """Where a command stands."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    #: Too old when the daemon reached it: not carried out.
    EXPIRED = "expired"


#: Commands the simulated world carries out, not the custody rules.
SIMULATOR_KINDS = frozenset(
    {CommandKind.SIM_BADGE, CommandKind.SIM_SLOT, CommandKind.SIM_CLOCK, CommandKind.SIM_READER}
)

#: Commands that open a slot whenever they succeed. A grant opens one only with
#: ``open_now``; a simulated badge may (the rules decide), so it counts too.
_ALWAYS_UNLOCKING = frozenset(
    {
        CommandKind.RELEASE_SLOT,
        CommandKind.RELEASE_ALL,
        CommandKind.VISITOR_IN,
        CommandKind.VISITOR_OUT,
        CommandKind.STOCK,
        CommandKind.SIM_BADGE,
    }
)

#: File name of the daemon's doorbell socket in the data directory.
DOORBELL_NAME = "daemon.sock"


def parse_kind(kind: str) -> CommandKind:
    """``kind`` as a :class:`CommandKind`; ``ValueError`` naming it when unknown."""
    try:
        return CommandKind(kind)
    except ValueError:
        raise ValueError(f"unknown command {kind!r}") from None


def opens_a_slot(kind: str, payload: Mapping[str, Any]) -> bool:
    """Whether carrying out ``kind`` with ``payload`` may unlock a slot at once."""
    if kind == CommandKind.GRANT:
        return payload.get("open_now") is True
    return kind in _ALWAYS_UNLOCKING


def age_s(requested_at: datetime, now: datetime) -> float:
    """Seconds from when a command was asked for to ``now`` (both real UTC times)."""
    return (now - requested_at).total_seconds()


def too_old(kind: str, payload: Mapping[str, Any], age: float, max_age_s: float) -> bool:
    """Whether a command ``age`` seconds old must not be carried out.

    Only commands that open a slot expire: a reload or a grant for the next
    badge does no harm late. A command "from the future" by more than the
    limit means a clock was stepped between asking and now, so its real age
    is unknown: it expires too (fail-secure).
    """
    return opens_a_slot(kind, payload) and not -max_age_s <= age <= max_age_s


def doorbell_path(data_dir: str | Path) -> Path:
    """Where the daemon listens for the panel's doorbell (one place for every caller)."""
    return Path(data_dir) / DOORBELL_NAME
