"""Login throttling that slows guessing and never locks the real manager out.

Wrong passwords are counted three ways, by what was typed rather than by
account (so a name that does not exist behaves exactly like one that does):

- per client address and typed name (``pair``): after :data:`PAIR_FREE` wrong
  passwords that address waits 30 s before trying that name again, then 60,
  120... up to 15 minutes;
- per client address (``addr``), whatever the names: after :data:`ADDRESS_FREE`;
- per typed name (``name``), from every address: after :data:`NAME_FREE` the
  name is under attack, and an address that already got it wrong twice waits
  too. An address that has not failed on it is still let in, so the manager
  logs in from her own phone or desk while somebody else guesses.

An attempt is counted *before* its password is checked, inside one write
transaction (SQLite's ``BEGIN IMMEDIATE``), so parallel attempts are counted
one after another and at most the allowed number get a real check; a right
password then takes its count back.

Failed attempts are logged at most once a minute per address
(:data:`EVENT_GAP`): the first one at once, the rest counted in ``attempts``
of the next ``auth.failed`` event from that address (or the one written just
before its next successful login).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from locker.models import LoginThrottle

#: Wrong passwords one address may try on one name before it must wait.
PAIR_FREE = 5
#: Wrong passwords one address may try on any names before it must wait.
ADDRESS_FREE = 20
#: Wrong passwords on one name, from every address, after which it is under attack.
NAME_FREE = 20
#: Under attack, an address that failed this many times on the name waits too.
UNDER_ATTACK_FREE = 2
FIRST_DELAY = timedelta(seconds=30)
MAX_DELAY = timedelta(minutes=15)
#: At most one ``auth.failed`` event per client address in this time.
EVENT_GAP = timedelta(minutes=1)
#: Counters untouched for this long, and not throttling anybody, are forgotten.
FORGET_AFTER = timedelta(days=1)


def throttle_delay(failures: int, free: int = PAIR_FREE) -> timedelta | None:
    """How long to wait after ``failures`` wrong passwords when ``free`` are allowed."""
    if failures < free:
        return None
    doublings = min(failures - free, 10)  # 2**10 * 30 s is past the cap already
    return min(FIRST_DELAY * 2**doublings, MAX_DELAY)


def _keys(name: str, address: str) -> dict[str, str]:
    return {
        "pair": f"pair:{address} {name}",
        "addr": f"addr:{address}",
        "name": f"name:{name}",
    }


_FREE = {"pair": PAIR_FREE, "addr": ADDRESS_FREE, "name": NAME_FREE}


def _row(session: Session, key: str, now: datetime) -> LoginThrottle:
    # SQLite's write transaction already holds the database; FOR UPDATE does the
    # same for the row on a database that locks rows (PostgreSQL).
    row = session.get(LoginThrottle, key, with_for_update=True)
    if row is None:
        row = LoginThrottle(key=key, failures=0, unlogged=0, updated_at=now)
        session.add(row)
    return row


def _rows(session: Session, name: str, address: str, now: datetime) -> dict[str, LoginThrottle]:
    return {kind: _row(session, key, now) for kind, key in _keys(name, address).items()}


def _waiting(row: LoginThrottle, now: datetime) -> bool:
    return row.throttled_until is not None and now < row.throttled_until


def reserve(session: Session, name: str, address: str, now: datetime) -> bool:
    """True when this attempt may have its password checked; it is then counted as wrong.

    False when it is throttled: nothing is counted, so trying meanwhile does not
    stretch the wait. Call inside the write transaction that will be committed.
    """
    session.execute(
        delete(LoginThrottle).where(
            LoginThrottle.updated_at < now - FORGET_AFTER,
            or_(LoginThrottle.throttled_until.is_(None), LoginThrottle.throttled_until < now),
        )
    )
    rows = _rows(session, name, address, now)
    attacked = _waiting(rows["name"], now) and rows["pair"].failures >= UNDER_ATTACK_FREE
    if _waiting(rows["pair"], now) or _waiting(rows["addr"], now) or attacked:
        return False
    for kind, row in rows.items():
        row.failures += 1
        row.updated_at = now
        delay = throttle_delay(row.failures, _FREE[kind])
        if delay is not None:
            row.throttled_until = now + delay
    return True


def succeeded(session: Session, name: str, address: str, now: datetime) -> None:
    """The right password: the name's counts start again; the address takes back this one."""
    rows = _rows(session, name, address, now)
    for kind in ("pair", "name"):
        rows[kind].failures = 0
        rows[kind].throttled_until = None
        rows[kind].updated_at = now
    addr = rows["addr"]
    addr.failures = max(addr.failures - 1, 0)
    if throttle_delay(addr.failures, ADDRESS_FREE) is None:
        addr.throttled_until = None


def failure_to_log(session: Session, address: str, now: datetime) -> int | None:
    """Count one failed attempt from ``address`` for the log.

    The number of attempts the ``auth.failed`` event to write now must carry,
    or ``None`` when this one waits for the next event (one per :data:`EVENT_GAP`).
    """
    row = _row(session, _keys("", address)["addr"], now)
    row.updated_at = now
    if row.logged_at is not None and now - row.logged_at < EVENT_GAP:
        row.unlogged += 1
        return None
    attempts, row.unlogged, row.logged_at = row.unlogged + 1, 0, now
    return attempts


def unlogged_failures(session: Session, address: str, now: datetime) -> int:
    """Failed attempts from ``address`` not in the log yet; they count as logged from now."""
    row = _row(session, _keys("", address)["addr"], now)
    attempts, row.unlogged = row.unlogged, 0
    return attempts
