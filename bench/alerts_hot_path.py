"""Benchmark: a badge's decision with 0 and with 200 alerts open.

The alert lifecycle resolves the alerts a decision can have ended in the same
transaction, before the lock is driven; it must not make a badge dearer as
alerts pile up. Two banks, alike but for 200 open alerts in one (150 "on
shift, no device" for people who are not badging, 50 "device appeared" on the
slots the badges open, which never end by themselves, so every badge meets
them), take turns: ``Controller.handle(BadgeRead)`` is timed, decision and
commit, for people depositing and collecting in turn on a SQLite file. The
figure is the ratio of medians (200 open / none) in the same run, with the
SQL statements of one badge and the load average.

    .venv/bin/python bench/alerts_hot_path.py [--cycles N] [--json PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from kit import MONDAY, line_ms, local, machine, seed_bank, stats_ms, write_bank_config, write_json
from sqlalchemy import event, func, select

from locker import events as ev
from locker.alerts import store_alert
from locker.clock import SimulatedClock
from locker.controller import Controller
from locker.decisions import BadgeRead, DeviceChanged, DoorChanged, RaiseAlert, SensorReading
from locker.models import Alert

OPEN_ALERTS = 200
PEOPLE = 8
IDLE = 150  # people with no device deposited, who never badge here


class Bank:
    """A controller on its own database, with ``alerts`` open alerts, and its SQL counted."""

    def __init__(self, folder: Path, alerts: int):
        start = local(MONDAY, "07:00")
        config_file = write_bank_config(folder, staff_slots=24, start=start)
        self.seeded = seed_bank(config_file, people=PEOPLE + IDLE, at=start)
        self.clock = SimulatedClock(start)
        self.controller = Controller(self.seeded.config, self.seeded.db, self.clock)
        self.controller.start({n: SensorReading(False, False) for n in range(1, 25)})
        if alerts:
            self._raise(alerts)
        self.statements = 0
        event.listen(self.seeded.db.engine, "before_cursor_execute", self._count)
        self.open: dict[int, bool] = {}

    def _raise(self, count: int) -> None:
        idle = self.seeded.person_ids[PEOPLE:]
        with self.seeded.db.write() as session:
            for i in range(count):
                if i < IDLE:
                    effect = RaiseAlert(ev.ALERT_NO_DEPOSIT, "no device", person_id=idle[i])
                else:
                    effect = RaiseAlert(ev.ALERT_TAMPER, "a device appeared", slot=i % PEOPLE + 1)
                store_alert(session, effect, self.clock.now())
            session.commit()

    def _count(self, *_args) -> None:
        self.statements += 1

    def badge(self, index: int) -> tuple[float, int]:
        """Person ``index`` badges: seconds for the decision and its commit, and statements."""
        before = self.statements
        started = time.perf_counter()
        self.controller.handle(BadgeRead(self.seeded.uids[index]))
        took = time.perf_counter() - started
        return took, self.statements - before

    def world_moves_on(self, slot: int) -> None:
        """The door pops, a device goes in or comes out, the door shuts; time passes."""
        present = not self.open.get(slot, False)
        self.open[slot] = present
        for change in (DoorChanged(slot, True), DeviceChanged(slot, present)):
            self.controller.handle(change)
        self.controller.handle(DoorChanged(slot, False))
        self.clock.advance(5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        banks = {
            "none": Bank(Path(tmp) / "none", 0),
            "open": Bank(Path(tmp) / "open", OPEN_ALERTS),
        }
        times: dict[str, list[float]] = {name: [] for name in banks}
        statements: dict[str, list[int]] = {name: [] for name in banks}
        for cycle in range(args.cycles):
            index = cycle % PEOPLE
            for name, bank in banks.items():  # in turn, so load hits both alike
                took, count = bank.badge(index)
                times[name].append(took)
                statements[name].append(count)
                bank.world_moves_on(index + 1)
        with banks["open"].seeded.db.read() as session:
            left = session.scalar(
                select(func.count()).select_from(Alert).where(Alert.resolved_at.is_(None))
            )
        for bank in banks.values():
            bank.seeded.db.dispose()
    none, many = stats_ms(times["none"]), stats_ms(times["open"])
    ratio = many["median"] / none["median"]
    figures = {
        "machine": machine(),
        "badge_ms_no_alerts": none,
        "badge_ms_200_open": many,
        "ratio_median": round(ratio, 3),
        "statements_per_badge": {k: max(v) for k, v in statements.items()},
        "open_alerts_at_the_end": left,
    }
    print(f"machine: {figures['machine']}")
    print(line_ms("badge -> decision committed, 0 open alerts", times["none"]))
    print(line_ms(f"badge -> decision committed, {OPEN_ALERTS} open", times["open"]))
    print(f"SQL statements per badge (most): {figures['statements_per_badge']}")
    print(f"open alerts still open at the end: {left} of {OPEN_ALERTS}")
    print(f"ratio of medians, {OPEN_ALERTS} open / none: {ratio:.2f}")
    print(f"load average after: {machine()['loadavg']}")
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
