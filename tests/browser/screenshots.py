"""Retake the README's screenshots after a busy morning in the demo.

    .venv/bin/python -m tests.browser.screenshots [FOLDER]

Starts ``locker demo`` on its own data directory, plays the busy morning of
:mod:`tests.support.busy_day` and photographs the pages the README shows, on
a manager's phone (390×844) and a desktop (1366×900), into FOLDER (default
``docs/screenshots``). ``--all`` also photographs every other page at phone
size, to look at (not to commit).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.support.busy_day import play_busy_morning
from tests.support.demo import CHROMIUM, CHROMIUM_ARGS, Demo, log_in

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
#: The README's pictures: file name, page, screen, whole page or the first screen only.
README_SHOTS = [
    ("status-phone.png", "/", PHONE, False),
    ("overrides-phone.png", "/log/overrides", PHONE, False),
    ("status-desktop.png", "/", DESKTOP, True),
    ("report-desktop.png", "/report", DESKTOP, False),
]
#: Every other page, to look at on a phone.
OTHER_PAGES = ["/log", "/actions", "/people", "/people/3/edit", "/rota", "/sim"]


def logged_in(browser, url: str, viewport: dict[str, int]) -> Page:
    """A new page of the demo at ``url``, logged in as its manager."""
    context = browser.new_context(base_url=url, viewport=viewport)
    page = context.new_page()
    log_in(page)
    page.wait_for_url("**/")
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="docs/screenshots", type=Path)
    parser.add_argument("--all", action="store_true", help="every page at phone size too")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data_dir:
        demo = Demo(Path(data_dir))
        try:
            play_busy_morning(demo.url, Path(data_dir))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                shots = list(README_SHOTS)
                if args.all:
                    shots += [(_name(path), path, PHONE, True) for path in OTHER_PAGES]
                for name, path, viewport, whole in shots:
                    page = logged_in(browser, demo.url, viewport)
                    page.goto(path)
                    page.wait_for_load_state("networkidle")
                    page.screenshot(path=str(args.folder / name), full_page=whole)
                    page.context.close()
                    print(args.folder / name)
                browser.close()
        finally:
            demo.stop()


def _name(path: str) -> str:
    return (path.strip("/").replace("/", "-") or "status") + "-phone-full.png"


if __name__ == "__main__":
    main()
