"""Real services on loopback that notifications go to: an SMTP server (aiosmtpd)
and an HTTP receiver (what apprise's ``json://`` posts), each stoppable and
restartable on its port, so an outage can be played."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class _Inbox:
    """aiosmtpd's handler: keeps every message it accepts."""

    def __init__(self, messages: list[email.message.EmailMessage]):
        self.messages = messages

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


class SmtpServer:
    """A real SMTP server on ``127.0.0.1:port``; ``stop()`` and ``start()`` play an outage."""

    def __init__(self):
        self.port = free_port()
        self.messages: list[email.message.EmailMessage] = []
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(_Inbox(self.messages), hostname=HOST, port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(self, to: str = "manager@nursery.test") -> str:
        """The apprise URL that mails ``to`` through this server."""
        return f"mailto://{HOST}:{self.port}?from=locker@nursery.test&to={to}"

    def subjects(self) -> list[str]:
        return [str(m["Subject"]) for m in self.messages]

    def wait_for(self, count: int, timeout_s: float = 30.0) -> list[str]:
        """The subjects once ``count`` messages have arrived (or what came by the timeout)."""
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.subjects()


class HttpReceiver:
    """A real HTTP server on loopback keeping every JSON body posted to it."""

    def __init__(self):
        self.bodies: list[dict] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                bodies.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://{HOST}:{self.port}/{path}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
