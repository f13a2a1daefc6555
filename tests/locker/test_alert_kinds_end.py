"""Every alert kind has a condition that ends it: a new kind without one fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from locker import events as ev
from locker.alert_conditions import CONDITIONS, ENDED_BY_EVENT

EVENTS_DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


@pytest.mark.parametrize("kind", sorted(ev.ALERT_KINDS))
def test_each_alert_kind_ends_by_a_condition_or_an_event(kind):
    assert (kind in CONDITIONS) != (kind in ENDED_BY_EVENT), (
        f"alert kind {kind!r} needs exactly one way to end: a condition in "
        "locker.alert_conditions.CONDITIONS or an entry in ENDED_BY_EVENT"
    )


def test_nothing_ends_a_kind_that_does_not_exist():
    assert set(CONDITIONS) | set(ENDED_BY_EVENT) <= ev.ALERT_KINDS


def test_the_events_page_says_what_ends_each_kind():
    text = EVENTS_DOC.read_text(encoding="utf-8")
    table = text.split("### What ends each alert", 1)[1].split("\n## ", 1)[0]
    listed = {
        kind
        for line in table.splitlines()
        if line.startswith("| `")
        for kind in re.findall(r"`([a-z_]+)`", line.split("|")[1])
    }
    assert listed == set(ev.ALERT_KINDS)
