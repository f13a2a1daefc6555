"""The panel attacked as a hostile visitor on the nursery's network would: a real
``locker web`` on 127.0.0.1 (or the app on waitress), real HTTP, real sockets."""

from __future__ import annotations

import socket
import statistics
import threading

import pytest

from locker.accounts import check_password
from tests.support.live_panel import HOST, Browser, LivePanel, ThreadedPanel, logged_in
from tests.support.panel import PASSWORDS
from web.auth import WRONG_LOGIN
from web.throttle import PAIR_FREE

RIGHT = PASSWORDS["manager"]


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """``locker web`` with reauth_min = 0: every unlocking call asks for the password."""
    panel = LivePanel(tmp_path_factory.mktemp("live"), reauth_min=0)
    yield panel
    panel.stop()


def test_a_replayed_cookie_after_logout_gets_401_and_the_login_page(live):
    browser = Browser(live.port, "127.0.0.11")
    assert logged_in(browser.login("manager", RIGHT))
    copied = browser.cookie
    thief = Browser(live.port, "127.0.0.12")
    thief.cookie = copied
    assert thief.get("/api/status").status == 200
    assert browser.post_form("/logout", {}).status == 302
    thief.cookie = copied
    assert thief.get("/api/status").status == 401
    thief.cookie = copied
    page = thief.get("/")
    assert page.status == 302 and page.headers["Location"].startswith("/login")


def test_the_right_password_from_another_address_logs_in_during_an_attack(live):
    attacker = Browser(live.port, "127.0.0.21")
    for _ in range(PAIR_FREE + 3):
        answer = attacker.login("viewer", "guess-guess")
        assert answer.status == 200 and WRONG_LOGIN in answer.text
    assert not logged_in(attacker.login("viewer", PASSWORDS["viewer"]))  # the attacker waits
    viewer = Browser(live.port, "127.0.0.22")
    assert logged_in(viewer.login("viewer", PASSWORDS["viewer"]))


def test_an_open_now_grant_without_reauthentication_is_refused(live):
    browser = Browser(live.port, "127.0.0.31")
    assert logged_in(browser.login("manager", RIGHT))
    csrf = browser.csrf_token("/")
    grant = {"person_id": 1, "reason": "emergency", "open_now": True}
    answer = browser.post_json("/api/grants", grant, headers={"X-CSRFToken": csrf})
    assert answer.status == 403
    assert "type your password again in 'password'" in answer.json["error"]


def test_a_revoked_token_gets_401(live):
    made = live.cli("token", "create", "viewer")
    assert made.returncode == 0, made.stderr
    headers = {"Authorization": f"Bearer {made.stdout.strip()}"}
    browser = Browser(live.port, "127.0.0.41")
    assert browser.get("/api/status", headers=headers).status == 200
    token_id = live.cli("token", "list").stdout.splitlines()[-1].split()[0]
    assert live.cli("token", "revoke", token_id).returncode == 0
    answer = browser.get("/api/status", headers=headers)
    assert answer.status == 401
    assert answer.json == {"error": "the bearer token is unknown or revoked"}


def test_healthz_answers_within_a_second_while_200_slow_sockets_are_held(live):
    held: list[socket.socket] = []
    try:
        for n in range(200):
            sock = socket.create_connection((HOST, live.port), timeout=5)
            # Half the sockets trickle an unfinished request, half say nothing at all.
            if n % 2:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            held.append(sock)
        # Each sock is accepted by now or waits in the backlog; either way it holds a place.
        answers = [Browser(live.port, "127.0.0.51").get("/healthz") for _ in range(5)]
    finally:
        for sock in held:
            sock.close()
    assert all(a.status == 200 for a in answers)
    slowest = max(a.seconds for a in answers)
    assert slowest < 1.0, f"/healthz took {slowest:.2f} s with 200 slow sockets held"


def test_throttled_and_unknown_names_cost_the_same_time_as_a_real_check(live):
    # Throttle one address on the admin's name; measure in rounds, so a change in
    # the machine's load touches all three kinds of attempt alike.
    throttled = Browser(live.port, "127.0.0.61")
    for _ in range(PAIR_FREE):
        throttled.login("admin", "guess-guess")
    times: dict[str, list[float]] = {"real": [], "unknown": [], "throttled": []}
    for n in range(11):  # the first two rounds warm up: the panel's figures follow this load
        real = Browser(live.port, f"127.0.1.{n + 1}")  # a fresh address: a real check
        unknown = Browser(live.port, f"127.0.2.{n + 1}")
        for kind, browser, name in (
            ("real", real, "admin"),
            ("unknown", unknown, f"nobody-{n}"),
            ("throttled", throttled, "admin"),
        ):
            token = browser.csrf_token()
            answer = browser.post_form(
                "/login", {"username": name, "password": "guess-guess"}, token
            )
            assert answer.status == 200 and WRONG_LOGIN in answer.text
            if n >= 2:
                times[kind].append(answer.seconds)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    for kind in ("unknown", "throttled"):
        ratio = medians[kind] / medians["real"]
        assert 0.8 <= ratio <= 1.2, f"{kind} {medians[kind]:.3f} s vs real {medians['real']:.3f} s"


def test_24_parallel_wrong_passwords_get_at_most_the_allowed_checks(app, monkeypatch):
    checks = []

    def counted(account, password):
        checks.append(account.username)
        return check_password(account, password)

    monkeypatch.setattr("web.auth.check_password", counted)
    panel = ThreadedPanel(app)
    try:
        browsers = [Browser(panel.port, "127.0.0.71") for _ in range(24)]
        tokens = [b.csrf_token() for b in browsers]
        start = threading.Barrier(24)
        answers = [None] * 24

        def guess(n: int) -> None:
            start.wait(timeout=30)
            fields = {"username": "manager", "password": f"guess-{n}"}
            answers[n] = browsers[n].post_form("/login", fields, tokens[n])

        threads = [threading.Thread(target=guess, args=(n,)) for n in range(24)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        panel.stop()
    assert all(a is not None and a.status == 200 for a in answers)
    assert 1 <= len(checks) <= PAIR_FREE, f"{len(checks)} real checks for 24 parallel guesses"
