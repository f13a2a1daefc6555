"""Write the daemon's live status file as the daemon would (see ``locker.live_status``)."""

from __future__ import annotations

from typing import Any

from locker.config import Config
from locker.live_status import read_live_status, status_path, write_live_status


def publish(config: Config, **fields: Any) -> None:
    """Write the live status file of ``config``'s daemon, keeping fields not given."""
    path = status_path(config.status_dir)
    status = read_live_status(path) or {"storage": "ok", "reader_ok": True}
    status.update(fields)
    assert write_live_status(path, status)


def published(config: Config) -> dict[str, Any]:
    """What the live status file says now."""
    return read_live_status(status_path(config.status_dir)) or {}
