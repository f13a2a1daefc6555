"""The daemon's live status: a small JSON file the panel reads, beside the database.

The heartbeat, what the output pins show, the clock's trust, the last unknown
card and the storage state change every few seconds, so they are not committed
to the database (an SD card write each time), and a database row could not say
"the database is failing" anyway. The daemon rewrites this file instead
(atomically: a new file renamed over the old), in ``run_dir``: on a Pi the
tmpfs systemd gives it, which costs the SD card nothing and still works when
the data disk is full. The panel reads it for everything it says about the daemon.
"""

from __future__ import annotations

import contextlib
import json
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

FILE_NAME = "daemon-status.json"
#: Seconds without a heartbeat after which the daemon counts as down.
HEARTBEAT_STALE_S = 15


def status_path(directory: str | os.PathLike[str]) -> Path:
    """Where the live status file lives in ``directory`` (``Config.status_dir``)."""
    return Path(directory) / FILE_NAME


def write_live_status(path: Path, status: dict[str, Any]) -> bool:
    """Replace the file at ``path`` with ``status``; False if it could not be written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(status, default=_iso), encoding="utf-8")
        os.chmod(tmp, 0o640)  # the panel reads it through the shared group
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return False
    return True


def read_live_status(path: Path) -> dict[str, Any] | None:
    """What the daemon last published, or None if there is no readable file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def remove_live_status(path: Path) -> None:
    """Remove the file (the daemon stopped cleanly: it publishes nothing any more)."""
    with contextlib.suppress(OSError):
        path.unlink()


def parse_time(value: Any) -> datetime | None:
    """An ISO time from the file, or None if it is missing or malformed."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def heartbeat_fresh(live: dict[str, Any], real: datetime) -> bool:
    """Whether the daemon that wrote ``live`` is running: its heartbeat is recent at ``real``."""
    beat = parse_time(live.get("heartbeat_at"))
    return beat is not None and real - beat <= timedelta(seconds=HEARTBEAT_STALE_S)


def controller_time(live: dict[str, Any], real: datetime, sim_speed: float) -> datetime:
    """The controller's idea of now, from its live status ``live`` at real time ``real``:
    simulated time in the demo (carried on at ``sim_speed`` since the last heartbeat,
    or frozen where it stopped), real time otherwise."""
    reported = parse_time(live.get("controller_now"))
    if not live.get("simulated") or reported is None:
        return real
    beat = parse_time(live.get("heartbeat_at"))
    if beat is None:
        return reported
    return reported + max(real - beat, timedelta(0)) * sim_speed


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON: {type(value).__name__}")
