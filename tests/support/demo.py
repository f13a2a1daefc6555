"""The real product for browser tests: ``locker demo`` in a subprocess, Debian's chromium,
and logging in as the demo's manager (the fixtures are in ``tests/browser/conftest.py``)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
USER, PASSWORD = "manager", "manager-demo"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Demo:
    """``locker demo`` in a subprocess, on its own port and data directory."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        # Beside the data directory, not a pipe: nobody reads a pipe while the
        # tests run, and a demo that filled one would hang on its next log line.
        self.output_path = data_dir.with_name(f"{data_dir.name}.log")
        self.output = self.output_path.open("wb")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "locker_app",
                "demo",
                "--data-dir",
                str(data_dir),
                "--port",
                str(self.port),
                "--start",
                "2026-01-05T07:50",
            ],
            env={**os.environ, "LOCKER_CONFIG": str(data_dir / "config.toml")},
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.wait_until_up()

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.said())
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    if b'"daemon":"ok"' in answer.read():
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the demo did not start within 60 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        finally:
            self.output.close()
            # Whatever happened to the demo, its daemon (same session) goes too.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def said(self, last: int = 8_000) -> str:
        """The end of what the demo (its daemon and panel) printed: shown when a test fails."""
        self.output.flush()
        return self.output_path.read_bytes()[-last:].decode("utf-8", "replace")


def log_in(page: Page) -> None:
    """Log in as the demo's manager."""
    page.goto("/login")
    page.fill("input[name=username]", USER)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
