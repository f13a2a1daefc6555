"""Clock trouble: a clock never synchronised, and a clock that jumps forwards or backwards.

None of them may cause a schedule release (a break, a shift end, closing time):
each is logged, raises a ``clock`` alert and shows as ``clock_synchronised:
false`` in ``GET /api/status``; only a manager's release still works.
"""

from __future__ import annotations

import pytest

from locker import events as ev
from locker.accounts import add_account, create_token
from locker.models import Command
from tests.support.bench import ALICE, BOB, Bench
from tests.support.panel import SECRET
from web import create_app

SCHEDULE_RELEASES = (ev.RELEASE_BREAK, ev.RELEASE_SHIFT_END, ev.RELEASE_CLOSING)


class Panel:
    """The panel on the bench's database, asked over the JSON API with a token."""

    def __init__(self, bench: Bench):
        with bench.db.write() as session:
            add_account(
                session, "mary", "manager", "mary-password", at=bench.clock.now(), actor="test"
            )
            token = create_token(session, "mary", at=bench.clock.now(), actor="test")
            session.commit()
        self.app = create_app({"TESTING": True, "SECRET_KEY": SECRET}, config=bench.config)
        self.headers = {"Authorization": f"Bearer {token}"}

    def status(self) -> dict:
        response = self.app.test_client().get("/api/status", headers=self.headers)
        assert response.status_code == 200
        return response.get_json()

    def close(self) -> None:
        self.app.extensions["locker_db"].dispose()


def make(tmp_path, *, synchronised: bool):
    bench = Bench(tmp_path, synchronised=synchronised)
    bench.daemon.heartbeat_s = 0.0  # every pass writes the heartbeat the panel reads
    return bench, Panel(bench)


@pytest.fixture
def synced(tmp_path):
    bench, panel = make(tmp_path, synchronised=True)
    yield bench, panel
    panel.close()
    bench.close()


@pytest.fixture
def unsynced(tmp_path):
    bench, panel = make(tmp_path, synchronised=False)
    yield bench, panel
    panel.close()
    bench.close()


def shown_untrusted(bench: Bench, panel: Panel) -> None:
    """Logged, alerted and shown: what every kind of clock trouble must do."""
    bench.settle(1)
    status = panel.status()
    assert status["clock_synchronised"] is False
    assert "clock" in [a["alert"] for a in status["alerts"]]
    assert bench.alerts(ev.ALERT_CLOCK)


def no_schedule_release(bench: Bench, edges: dict[int, int]) -> None:
    for kind in SCHEDULE_RELEASES:
        assert bench.count(kind) == 0, kind
    assert {n: bench.energising_edges(n) for n in edges} == edges


def edges_now(bench: Bench) -> dict[int, int]:
    return {n: bench.energising_edges(n) for n in bench.backend.bank.slots}


def test_an_unsynchronised_clock_releases_nothing_by_schedule(unsynced):
    bench, panel = unsynced
    assert bench.count(ev.CLOCK_UNSYNCHRONISED) == 1
    shown_untrusted(bench, panel)
    bench.go_to("07:55")
    bench.deposit(ALICE, 1)  # deposits still work
    bench.deposit(BOB, 2)
    edges = edges_now(bench)
    bench.go_to("12:05")
    bench.badge(ALICE)  # her break, by a clock nobody has checked
    assert bench.state(1) == "held"
    bench.go_to("16:01")  # shift end
    bench.go_to("18:45")  # closing time
    no_schedule_release(bench, edges)
    assert len(bench.alerts(ev.ALERT_CLOCK)) == 1  # one alert, not one per tick
    shown_untrusted(bench, panel)
    # A manager's release still works.
    with bench.db.write() as session:
        session.add(
            Command(
                kind="release_slot",
                payload={"slot": 2, "reason": "needed"},
                account="mary",
                created_at=bench.clock.now(),
                requested_at=bench.clock.now(),
            )
        )
        session.commit()
    bench.daemon.run_commands()
    assert bench.state(2) == "open_for_release"
    assert bench.energising_edges(2) == edges[2] + 1


def test_a_clock_jumping_forwards_into_a_break_and_past_a_shift_end_releases_nothing(synced):
    bench, panel = synced
    bench.go_to("07:55")
    bench.deposit(ALICE, 1)
    bench.deposit(BOB, 2)
    edges = edges_now(bench)
    bench.go_to("10:00")
    bench.clock.jump(2 * 3600 + 5 * 60)  # the wall clock says 12:05: Alice's break
    bench.settle(1)
    assert bench.count(ev.CLOCK_JUMP) == 1
    shown_untrusted(bench, panel)
    bench.badge(ALICE)
    assert bench.state(1) == "held"
    bench.clock.jump(4 * 3600)  # and on past the shift end
    for _ in range(10):
        bench.settle(60)
    no_schedule_release(bench, edges)
    assert bench.count(ev.CLOCK_JUMP) == 2
    assert len(bench.alerts(ev.ALERT_CLOCK)) == 1
    # Synchronised again: the shift end that passed meanwhile is not acted on late.
    bench.clock.synchronise()
    bench.settle(1)
    assert bench.count(ev.CLOCK_SYNCHRONISED) == 1
    assert panel.status()["clock_synchronised"] is True
    no_schedule_release(bench, edges)


def test_a_clock_jumping_backwards_into_a_break_or_before_a_shift_end_releases_nothing(synced):
    bench, panel = synced
    bench.go_to("07:55")
    bench.deposit(ALICE, 1)
    bench.deposit(BOB, 2)
    edges = edges_now(bench)
    bench.go_to("12:40")  # the break is over
    bench.clock.jump(-35 * 60)  # back to 12:05
    bench.settle(1)
    assert bench.count(ev.CLOCK_JUMP) == 1
    shown_untrusted(bench, panel)
    bench.badge(ALICE)
    assert bench.state(1) == "held"
    bench.go_to("15:59")
    bench.clock.jump(-3600)  # 14:59 again; an hour on, 16:00 comes round
    for _ in range(70):
        bench.settle(60)
    no_schedule_release(bench, edges)
    assert bench.state(1) == bench.state(2) == "held"


def test_after_a_jump_and_a_new_synchronisation_breaks_work_again(synced):
    bench, panel = synced
    bench.go_to("07:55")
    bench.deposit(ALICE, 1)
    bench.go_to("11:00")
    bench.clock.jump(-600)
    bench.settle(1)
    bench.go_to("12:05")
    bench.badge(ALICE)
    assert bench.state(1) == "held"  # suspended
    bench.clock.synchronise()
    bench.settle(1)
    bench.badge(ALICE)
    assert bench.state(1) == "open_for_release"  # her break, on a trusted clock
    assert bench.count(ev.RELEASE_BREAK) == 1
    assert panel.status()["clock_synchronised"] is True
