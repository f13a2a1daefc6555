"""End to end: the real daemon (on mock pins) raises, the panel's worker thread sends.

The sender runs on its own thread, as in the panel's process; the daemon's
loop is stepped here and never waits for it, even while a mail server hangs.
"""

from __future__ import annotations

import dataclasses
import socket
import time

from locker import events as ev
from locker.notify_policy import Destination, NotifyConfig
from locker_app.notify.worker import NotifyWorker
from tests.support.bench import ALICE, Bench
from tests.support.nursery import make_config
from tests.support.receivers import HOST


def bench_with(tmp_path, *destinations: Destination) -> Bench:
    config = dataclasses.replace(make_config(), notify=NotifyConfig(destinations=destinations))
    bench = Bench(tmp_path, config=config)
    return bench


def test_a_forced_door_reaches_the_smtp_server_within_seconds(tmp_path, smtp):
    bench = bench_with(tmp_path, Destination("office", smtp.url(), ("safety",)))
    worker = NotifyWorker(bench.config, bench.db, bench.clock, interval_s=0.5)
    worker.start()
    try:
        opened = time.monotonic()
        bench.door(2, True)  # locked and opened: forced
        subjects = smtp.wait_for(1, timeout_s=60)  # generous; it comes on the next round
        took = time.monotonic() - opened
    finally:
        worker.stop()
        bench.close()
    assert subjects == ["[Test Nursery] Door forced open (slot 2)"]
    print(f"forced door -> SMTP server: {took:.2f} s")


def test_the_daemon_carries_on_while_a_mail_server_hangs(tmp_path):
    # A server that takes the connection and never answers: the sender waits on it.
    hanging = socket.socket()
    hanging.bind((HOST, 0))
    hanging.listen(8)
    url = f"mailto://{HOST}:{hanging.getsockname()[1]}?from=a@b.test&to=c@d.test&cto=20"
    bench = bench_with(tmp_path, Destination("office", url, ("all",)))
    worker = NotifyWorker(bench.config, bench.db, bench.clock, interval_s=0.1)
    worker.start()
    try:
        bench.door(3, True)  # forced: a message the sender now hangs on
        time.sleep(0.5)  # let the worker reach the hanging server
        started = time.monotonic()
        bench.door(3, False)
        bench.badge(ALICE)  # the loop still decides: a slot opens for her deposit
        loop_s = time.monotonic() - started
        assert bench.unlocks(1) == 1
        assert bench.count(ev.ALERT_RESOLVED) == 1  # the door shut: resolved meanwhile
        assert bench.count(ev.NOTIFY_SENT) == 0
    finally:
        hanging.close()
        worker.stop()
        bench.close()
    print(f"badge -> unlock while the sender hung: {loop_s:.2f} s")
