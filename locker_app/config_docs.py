"""docs/config.md from the typed config itself: every key, its default, its range, its comment.

``python -m locker_app.config_docs > docs/config.md`` writes it; a test
(``tests/locker/test_config_docs.py``) fails when the file and the config
disagree, so a key cannot be added without its documentation.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
from collections.abc import Iterator
from typing import Any, get_args, get_origin, get_type_hints

from locker.config import Config

INTRO = """# The config file

`locker init` writes a commented config (three staff slots and one visitor slot
wired as in the README's table); the daemon, the panel and every `locker`
command read it at start-up. It is TOML. Every key is optional unless marked
*required*; a value out of its range, a key of the wrong type, a missing pin
or an unknown key (with a "did you mean" for a near miss) is refused with the
key's name, and nothing starts.

The file is found by `--config PATH` (before or after any command), else
`$LOCKER_CONFIG`, else `/etc/nursery-locker/config.toml`.

This page is generated from the typed config (`locker/config.py`) by
`python -m locker_app.config_docs > docs/config.md`; a test fails when they
disagree.
"""


def field_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comment above each field of ``cls``, joined into one line."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and pending:
            comments[match[1]] = " ".join(pending)
        if not stripped.startswith("#"):
            pending = []
    return comments


def _table_of(hint: Any) -> type | None:
    """The config class a field holds (directly or as a tuple of them), if any."""
    if dataclasses.is_dataclass(hint):
        return hint
    if get_origin(hint) is tuple:
        inner = get_args(hint)[0]
        return inner if dataclasses.is_dataclass(inner) else None
    return None


def keys(cls: type = Config, prefix: str = "") -> Iterator[tuple[str, str, str, str]]:
    """``(key, default, range, meaning)`` for every key, tables after their parent's keys."""
    hints = get_type_hints(cls)
    comments = field_comments(cls)
    tables = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        name = f"{prefix}{f.name}"
        table = _table_of(hints[f.name])
        if table is not None:
            tables.append(
                (f"{name}[]." if get_origin(hints[f.name]) is tuple else f"{name}.", table)
            )
            continue
        yield name, _default(f), _range(f, hints[f.name]), comments.get(f.name, "")
    for table_prefix, table in tables:
        yield from keys(table, table_prefix)


def _default(f: dataclasses.Field) -> str:
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return "*required*"
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    if value in ("", None):
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"`{value}`"


def _range(f: dataclasses.Field, hint: Any) -> str:
    if "range" in f.metadata:
        lo, hi = f.metadata["range"]
        return f"{lo} to {hi}"
    choices = [a for a in get_args(hint) if isinstance(a, str) and a]
    if choices:
        return " or ".join(f"`{c}`" for c in choices)
    return ""


def markdown() -> str:
    """The whole of docs/config.md."""
    out = [INTRO]
    section = None
    for key, default, allowed, meaning in keys():
        head = key.rsplit(".", 1)[0] if "." in key else ""
        if head != section:
            section = head
            title = f"`[{head.replace('[].', '').replace('[]', '')}]`" if head else "Top level"
            if head.endswith("[]"):
                title = f"`[[{head[:-2]}]]` (one table per item)"
            out += [
                "",
                f"## {title}",
                "",
                "| key | default | allowed | meaning |",
                "| --- | --- | --- | --- |",
            ]
        out.append(
            f"| `{key}` | {default} | {allowed} | {meaning.replace('``', '`').replace('|', '/')} |"
        )
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
