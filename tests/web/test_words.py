"""One words table (web/words.py): every code the product defines has its words."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from locker import events as ev
from locker.commands import CommandKind, opens_a_slot
from locker.states import SlotState
from web import words

WEB = Path(__file__).resolve().parents[2] / "web"


def test_every_event_kind_has_words():
    assert sorted(ev.ALL_KINDS - set(words.EVENT_WORDS)) == []


def test_every_alert_kind_has_words():
    assert sorted(ev.ALERT_KINDS - set(words.ALERT_WORDS)) == []


def test_every_slot_state_has_words():
    assert sorted({s.value for s in SlotState} - set(words.STATE_WORDS)) == []


def test_every_grant_reason_has_words_for_the_form_and_for_the_log():
    assert tuple(words.GRANT_REASON_WORDS) == ev.GRANT_REASONS
    assert set(ev.GRANT_REASONS) <= set(words.REASON_WORDS)


def test_every_unlocking_request_has_words():
    unlocking = {k.value for k in CommandKind if opens_a_slot(k, {"open_now": True})}
    assert sorted(unlocking - set(words.REQUEST_WORDS)) == []


@pytest.mark.parametrize(
    ("say", "code", "expected"),
    [
        (words.event_words, "brand.new_kind", "Brand new kind"),
        (words.state_words, "open_for_repair", "Open for repair"),
        (words.alert_words, "water_leak", "Water leak"),
        (words.reason_words, "fire_drill", "fire drill"),
    ],
)
def test_a_code_without_words_is_still_shown_in_words(say, code, expected):
    assert say(code) == expected


def test_a_refusal_from_the_controller_names_the_state_in_words():
    message = words.in_words("slot 4 is open_for_release, not holding a device")
    assert message == "slot 4 is open for the device to be taken, not holding a device"


@pytest.mark.parametrize("module", ["log_query.py", "timeline.py", "timeline_picture.py"])
def test_the_log_query_and_the_timeline_need_no_flask(module):
    imported = set()
    for node in ast.walk(ast.parse((WEB / module).read_text())):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert any(m.startswith(("locker", "web")) for m in imported)
    assert not {m for m in imported if m.split(".")[0] in {"flask", "flask_login", "werkzeug"}}


def test_docs_events_names_every_event_and_alert_kind_in_words():
    text = (WEB.parent / "docs" / "events.md").read_text()
    for kind in ev.ALL_KINDS:
        assert f"| `{kind}` | {words.EVENT_WORDS[kind]} |" in text, kind
    for alert in ev.ALERT_KINDS:
        assert f"| `{alert}` | {words.ALERT_WORDS[alert]} |" in text, alert
