"""A fork server for ``locker daemon``: pays for the imports once, then forks a daemon per start.

Run as ``python zygote.py``. Each line on stdin is ``CONFIG_PATH<TAB>LOG_PATH``;
the server forks a child that runs exactly what the ``locker daemon``
console script runs (``locker_app.cli.main(["daemon"])``) with ``LOCKER_CONFIG``
set to ``CONFIG_PATH`` and its stderr in ``LOG_PATH``, and answers the
child's pid on stdout. The child is a separate process with no state of its
own but the imported modules: no database connection, no thread, no pin, no
open file but stdin, stdout and stderr, which it replaces. Killing it with
SIGKILL is killing the daemon. Children are reaped at once (SIGCHLD is
ignored), so a dead child's pid stops answering ``kill(pid, 0)``.

This saves the ~0.4 s of CPU that importing SQLAlchemy, Alembic, gpiozero and
the driver costs a fresh interpreter: the difference between 200 restarts in
a test run and 200 restarts in a long one.
"""

from __future__ import annotations

import os
import signal
import sys
import traceback

import hardware.backend  # noqa: F401 - everything `locker daemon` imports, paid once
import locker_app.cli
import locker_app.service  # noqa: F401


def _child(config_path: str, log_path: str) -> None:
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDWR)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    os.environ["LOCKER_CONFIG"] = config_path
    code = 1
    try:
        locker_app.cli.main(["daemon"], prog_name="locker")
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - reported in the log, then the child exits
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    """Serve start requests until stdin closes."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        config_path, log_path = line.rstrip("\n").split("\t")
        pid = os.fork()
        if pid == 0:
            _child(config_path, log_path)
        sys.stdout.write(f"{pid}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
