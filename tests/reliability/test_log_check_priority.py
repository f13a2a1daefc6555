"""The nightly log check runs at the lowest CPU and I/O priority.

Each check runs in a child interpreter, so the test process keeps its own priority.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys

from locker_app.log_check import IOPRIO_CLASS_IDLE, IOPRIO_SYSCALLS

PROBE = """
import json, os
from locker_app.log_check import io_priority_class, lower_priority
done = lower_priority()
print(json.dumps({**done, "nice": os.getpriority(os.PRIO_PROCESS, 0),
                  "io_class": io_priority_class(), "reported": done}))
"""


def test_lower_priority_sets_nice_19_and_the_idle_io_class():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout)
    assert seen["nice"] == 19
    assert seen["reported"]["nice"] is True
    if platform.machine() in IOPRIO_SYSCALLS:
        assert seen["io_class"] == IOPRIO_CLASS_IDLE
        assert seen["reported"]["io_idle"] is True
