"""docs/config.md documents every key of the typed config, and says what each one means."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from locker.config import Config
from locker_app.config_docs import keys, markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"


def test_every_key_of_the_config_is_documented_with_its_meaning():
    text = DOC.read_text()
    for key, _default, _allowed, meaning in keys():
        assert f"| `{key}` |" in text, f"{key} is not in docs/config.md"
        assert meaning, f"{key} has no #: comment in locker/config.py"


def test_the_keys_are_those_the_config_reads():
    listed = {key for key, *_ in keys()}
    top = {f.name for f in dataclasses.fields(Config) if not f.metadata.get("internal")}
    assert {k.split(".")[0].removesuffix("[]") for k in listed} == top
    assert {"commands.max_age_s", "slots[].lock_pin", "rules.assignment"} <= listed


def test_the_page_is_the_one_the_config_generates():
    assert DOC.read_text() == markdown(), (
        "docs/config.md is out of date: python -m locker_app.config_docs > docs/config.md"
    )
