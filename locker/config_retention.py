"""The ``[retention]`` block of the config: how long each category of personal data is kept."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def _days(lo: int, hi: int) -> dict[str, Any]:
    return {"range": (lo, hi)}


@dataclass(frozen=True)
class RetentionConfig:
    """How long each category of personal data is kept (UK GDPR: no longer than needed).

    The event log is one hash chain, so whole events leave it only from its
    oldest end: each night the purge removes the oldest events that have all
    passed their category's period (``retention_days`` for the kinds named in
    no category) and stops at the first one that must stay. An event kept
    beyond its category's period by an older neighbour loses its personal
    values (names, card numbers, notes) all the same, so the period holds for
    the personal data. A legal hold (``locker person hold``) suspends both for
    that person, and the purge stops before the first event about them.
    """

    #: Custody and override events (badges, slots, deposits, releases, grants,
    #: on-the-spot approvals), custody records and grants: a year, because an
    #: inspection or an allegation about a day looks back over months, and a
    #: nursery's safeguarding records are read by the year.
    custody_days: int = field(default=365, metadata=_days(30, 36500))
    #: Panel logins and logouts, failed logins, ended panel sessions and the panel's
    #: requests to the daemon: 90 days, long enough to look into misuse of the
    #: panel, short because they track staff at their screens, not the locker.
    login_days: int = field(default=90, metadata=_days(7, 36500))
    #: Alerts (acknowledged or resolved ones): a year, as they belong with the
    #: custody record an inspector reads.
    alerts_days: int = field(default=365, metadata=_days(30, 36500))
    #: Notification messages once sent or given up: 30 days, enough to answer
    #: "was I told?"; the alert itself stays for ``alerts_days``.
    notifications_days: int = field(default=30, metadata=_days(1, 3650))
    #: Shifts and breaks from the rota: 180 days, enough to show past reports
    #: with their shifts through a term; the custody record keeps what happened.
    shifts_days: int = field(default=180, metadata=_days(14, 36500))
