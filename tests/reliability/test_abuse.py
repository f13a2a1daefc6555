"""Brute force: unknown cards tried one after another at the reader, and passwords guessed
at the panel's login."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from locker import events as ev
from locker.models import Event, LoginThrottle
from tests.support.bench import ALICE
from tests.support.panel import AuthActions
from web.auth import WRONG_LOGIN
from web.throttle import ADDRESS_FREE, MAX_DELAY


def unknown_uids(count: int) -> list[str]:
    """Distinct card UIDs nobody holds: what a UID-emulating tool plays one after another."""
    return [f"{0x0BAD0000 + n:08X}" for n in range(count)]


# ------------------------------------------------------------------ at the reader


def test_repeated_unknown_badges_raise_an_alert_and_open_nothing(bench):
    edges = {n: bench.energising_edges(n) for n in bench.backend.bank.slots}
    for uid in unknown_uids(5):  # one every 1.1 s: within the 60 s window
        bench.badge(uid)
    alerts = bench.alerts(ev.ALERT_UNKNOWN_BADGES)
    assert len(alerts) == 1
    assert alerts[0].details["count"] == 5
    bench.settle(bench.config.rules.unknown_badge_window_s)  # past the reader's cool-down
    for uid in unknown_uids(10)[5:]:
        bench.badge(uid)
    assert len(bench.alerts(ev.ALERT_UNKNOWN_BADGES)) == 2  # and again for the next five
    assert bench.count(ev.BADGE_UNKNOWN) == 10
    assert {n: bench.energising_edges(n) for n in edges} == edges
    assert bench.unlocked_events() == 0


def test_the_reader_slows_its_answers_under_a_brute_force(bench):
    # Thirty unknown cards, one every 1.1 s: after the alert (the fifth) the
    # reader answers one card per cool-down gap, so trying UIDs gets expensive.
    offered = unknown_uids(30)
    for uid in offered:
        bench.badge(uid)
    answered = bench.count(ev.BADGE_UNKNOWN)
    gap = bench.config.rules.unknown_badge_cooldown_s
    assert answered <= 5 + round(25 * 1.1 / gap) + 1, (
        f"{answered} of {len(offered)} unknown cards were answered, one every 1.1 s: "
        "nothing slowed the reader down after the unknown_badges alert"
    )
    assert bench.alerts(ev.ALERT_UNKNOWN_BADGES)[0].details["cooldown_s"] == gap


def test_staff_are_answered_once_the_cool_down_gap_is_over(bench):
    for uid in unknown_uids(5):
        bench.badge(uid)
    assert len(bench.alerts(ev.ALERT_UNKNOWN_BADGES)) == 1
    bench.go_to("07:55")  # a minute later: the cool-down is over
    bench.badge(ALICE)
    assert bench.state(1) == "open_for_deposit"


# ------------------------------------------------------------------ at the login


def attempt(app, username: str, password: str, address: str = "127.0.0.1"):
    """One login attempt from a fresh browser at ``address``."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return AuthActions(client).login(username, password)


def logged_in(response) -> bool:
    return response.status_code == 302 and "/login" not in response.headers["Location"]


def counter(db, key: str) -> LoginThrottle | None:
    with db.read() as session:
        return session.get(LoginThrottle, key)


def test_wrong_passwords_throttle_that_name_from_that_address_only_and_not_for_good(app, db, clock):
    for _ in range(5):
        assert not logged_in(attempt(app, "manager", "guess-guess"))
    throttled = attempt(app, "manager", "manager-password")  # the right one, too soon
    assert not logged_in(throttled)
    assert WRONG_LOGIN in throttled.get_data(as_text=True)  # says no more than a wrong one
    until = counter(db, "pair:127.0.0.1 manager").throttled_until
    assert until is not None and until - clock.now() == timedelta(seconds=30)
    assert logged_in(attempt(app, "viewer", "viewer-password"))  # per name
    assert logged_in(attempt(app, "manager", "manager-password", "192.168.1.20"))  # per address
    clock.advance(31)
    assert logged_in(attempt(app, "manager", "manager-password"))
    assert counter(db, "pair:127.0.0.1 manager").failures == 0


def test_guessing_during_a_throttle_gains_nothing(app, db, clock):
    for _ in range(5):
        attempt(app, "manager", "guess-guess")
    until = counter(db, "pair:127.0.0.1 manager").throttled_until
    for _ in range(50):
        attempt(app, "manager", "another-guess")
        clock.advance(0.5)
    clock.advance(35)  # the throttle ends; the next guess is checked again
    # Refused unchecked, and the throttle is not stretched by the tries.
    assert counter(db, "pair:127.0.0.1 manager").throttled_until == until
    assert counter(db, "pair:127.0.0.1 manager").failures == 5
    # Logged, but not one event each: the first, then one a minute with the count.
    with db.read() as session:
        logged = [
            json.loads(e.details)
            for e in session.scalars(select(Event).where(Event.kind == ev.AUTH_FAILED))
        ]
    assert len(logged) == 1 and logged[0]["attempts"] == 1
    attempt(app, "manager", "a-guess-after-it")
    with db.read() as session:
        last = session.scalars(select(Event).where(Event.kind == ev.AUTH_FAILED)).all()[-1]
    assert json.loads(last.details)["attempts"] == 4 + 50 + 1  # all counted in one event


def test_the_throttle_never_passes_fifteen_minutes_however_long_the_attack(app, db, clock):
    longest = timedelta(0)
    for _ in range(60):  # an attacker who comes back each time the throttle ends
        attempt(app, "manager", "guess-guess")
        until = counter(db, "pair:127.0.0.1 manager").throttled_until
        if until is not None:
            wait = until - clock.now()
            longest = max(longest, wait)
            clock.advance(wait.total_seconds() + 1)
    assert longest == MAX_DELAY == timedelta(minutes=15)
    assert counter(db, "pair:127.0.0.1 manager").failures == 60
    # The real manager, from the attacker's own address, waits at most fifteen minutes...
    attempt(app, "manager", "guess-guess")
    assert not logged_in(attempt(app, "manager", "manager-password"))
    clock.advance(MAX_DELAY.total_seconds())
    assert logged_in(attempt(app, "manager", "manager-password"))


def test_an_attack_from_many_addresses_never_keeps_the_manager_out(app, db, clock):
    # Forty addresses, five guesses each: the name is under attack, and every
    # address that got it wrong twice waits; a new one still gets in at once.
    for n in range(40):
        for _ in range(5):
            assert not logged_in(attempt(app, "manager", "guess-guess", f"10.0.0.{n}"))
    assert counter(db, "name:manager").throttled_until > clock.now()
    assert counter(db, "pair:10.0.0.39 manager").failures == 2
    assert logged_in(attempt(app, "manager", "manager-password", "192.168.1.20"))
    # ...and the name's count starts again after the right password.
    assert counter(db, "name:manager").failures == 0


def test_one_address_trying_many_names_waits(app, db, clock):
    for n in range(ADDRESS_FREE):
        attempt(app, f"name{n}", "guess-guess")
    assert counter(db, "addr:127.0.0.1").throttled_until == clock.now() + timedelta(seconds=30)
    assert not logged_in(attempt(app, "viewer", "viewer-password"))
    assert logged_in(attempt(app, "viewer", "viewer-password", "192.168.1.20"))


def test_an_unknown_user_gets_the_same_answer(app):
    unknown = attempt(app, "nobody", "whatever-password").get_data(as_text=True)
    wrong = attempt(app, "manager", "whatever-password").get_data(as_text=True)
    assert WRONG_LOGIN in unknown and WRONG_LOGIN in wrong
