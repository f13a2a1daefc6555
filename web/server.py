"""The panel's HTTP server: waitress, tuned for a Raspberry Pi on a nursery's network.

waitress reads every request whole on its one I/O thread before a worker
thread sees it, so a slow or idle client costs a socket, not a worker. What
an idle or trickling client could still do is fill the connection limit (by
default 100, after which waitress stops accepting and ``/healthz`` times out)
or hold memory with half-sent requests. Hence:

- ``connection_limit`` 500: room for a few hundred stuck sockets with the
  file descriptors a service gets (1,024 by default); ``poll()`` rather than
  ``select()``, which cannot watch past descriptor 1,023;
- ``channel_timeout`` 20 s (default 120): a connection that sends nothing for
  that long is closed, checked every ``cleanup_interval`` 5 s (default 30);
- request headers at most 16 KiB (default 256 KiB) and bodies at most 1 MiB
  (the panel reads 64 KiB at most, see ``MAX_BODY``; a rota file is small),
  held in memory up to 64 KiB (``inbuf_overflow``) and spilled to a
  temporary file beyond;
- 8 worker threads: a Pi has 4 cores and a page is a few database reads.

The figures are measured by ``tests/web/test_live.py``: ``/healthz`` answers
while 200 slow sockets are held open.
"""

from __future__ import annotations

from typing import Any

#: waitress settings for the panel (see the module's docstring for why).
WAITRESS_SETTINGS: dict[str, Any] = {
    "threads": 8,
    "connection_limit": 500,
    "channel_timeout": 20,
    "cleanup_interval": 5,
    "backlog": 256,
    "max_request_header_size": 16 * 1024,
    "max_request_body_size": 1024 * 1024,
    "inbuf_overflow": 64 * 1024,
    "asyncore_use_poll": True,
    "ident": "nursery-locker",
}


def serve(app, *, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until the process is stopped."""
    import waitress

    waitress.serve(app, host=host, port=port, **WAITRESS_SETTINGS)


def create_server(app, *, host: str, port: int):
    """A waitress server for ``app`` not yet running (``run()``, then ``close()``)."""
    import waitress

    return waitress.create_server(app, host=host, port=port, **WAITRESS_SETTINGS)
