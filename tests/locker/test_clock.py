"""The system clock's idea of synchronisation, from systemd-timesyncd's flag file."""

from __future__ import annotations

import os

from locker.clock import SystemClock


def test_no_flag_means_never_synchronised(tmp_path):
    clock = SystemClock(sync_flag=str(tmp_path / "synchronized"))
    assert clock.synced_at() is None
    assert SystemClock(assume_synchronised=True).synced_at() == 0.0


def test_a_flag_there_at_start_is_an_earlier_sync_and_a_touch_is_a_new_one(tmp_path):
    flag = tmp_path / "synchronized"
    flag.touch()
    os.utime(flag, (1000.0, 1000.0))
    clock = SystemClock(sync_flag=str(flag))
    assert clock.synced_at() == 0.0  # before this process started
    os.utime(flag, (2000.0, 2000.0))  # timesyncd synchronised again
    again = clock.synced_at()
    assert again is not None and again > 0.0
    # A wall-clock step leaves the flag alone: no new sync, whatever the times say.
    assert clock.synced_at() == again
