"""``locker log verify`` and ``locker log export``: the tamper-evident event log.

``app`` is the CLI's :class:`locker_app.cli.App` (config, database, clock, actor).
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import click

from locker.config import Config
from locker_app.cli_group import LockerGroup, fail, friendly

#: Exit status of ``locker log verify`` when the chain or a checkpoint does not hold.
EXIT_CHAIN_BROKEN = 3


# ------------------------------------------------------------------- log


@click.group(cls=LockerGroup)
def log() -> None:
    """The tamper-evident event log."""


@log.command("verify")
@click.option(
    "--checkpoint",
    "printed",
    metavar="ID:HASH",
    multiple=True,
    help="Also check that event ID still carries HASH, as printed on a daily report (repeatable).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the result as one JSON object, with SQLite's quick check of the file "
    "(the daemon's nightly check runs this, at the lowest priority).",
)
@click.option(
    "--incremental",
    is_flag=True,
    help="Walk only the events after the last verified checkpoint, once that still "
    "holds (the daemon's nightly check; a whole walk every 7th time).",
)
@click.pass_obj
@friendly
def log_verify(app, printed: tuple[str, ...], as_json: bool, incremental: bool) -> None:
    """Check the hash chain; exit 3 naming the first bad event if it is broken.

    The whole chain is walked from its start unless --incremental is given.
    With --checkpoint, also hold the log against the checkpoints printed on
    paper: a chain rewritten with its checkpoints agrees with itself, but no
    longer reaches a hash printed before the rewrite.
    """
    from locker.log import paper_mismatch, verify, verify_since_checkpoint

    check = verify_since_checkpoint if incremental else verify
    if as_json:
        _verify_as_json(app, check)
        return
    pairs = [parse_checkpoint(text) for text in printed]
    with app.db.read() as session:
        report = check(session)
        mismatches = [paper_mismatch(session, event_id, digest) for event_id, digest in pairs]
    problems = []
    if report.ok:
        click.echo(
            f"ok: {report.checked} events verified, head {report.head_id} {report.head_hash}"
        )
        if report.resumed_from is not None:
            click.echo(
                f"(walked from the checkpoint at event {report.resumed_from}, verified before)"
            )
    else:
        problems.append(f"chain broken at event {report.first_bad_id}: {report.reason}")
    for (event_id, _digest), mismatch in zip(pairs, mismatches, strict=True):
        if mismatch is None:
            click.echo(f"ok: event {event_id} carries the hash printed on paper")
        else:
            problems.append(f"checkpoint does not match paper: {mismatch}")
    if problems:
        for problem in problems[:-1]:
            click.echo(f"error: {problem}", err=True)
        fail(problems[-1], EXIT_CHAIN_BROKEN)


_PRINTED_CHECKPOINT = re.compile(r"\s*([0-9]{1,18})\s*:\s*([0-9a-fA-F]{64})\s*")


def _verify_as_json(app, check: Callable[[Any], Any]) -> None:
    """The chain (by ``check``) and SQLite's quick check, as JSON, at the lowest priority."""
    import json

    from locker.storage import quick_check
    from locker_app.log_check import lower_priority

    lower_priority()
    integrity = quick_check(app.db.engine)
    with app.db.read() as session:
        report = check(session)
    click.echo(json.dumps({**dataclasses.asdict(report), "integrity": integrity}))
    if not report.ok:
        sys.exit(EXIT_CHAIN_BROKEN)


def parse_checkpoint(text: str) -> tuple[int, str]:
    """``ID:HASH`` as printed on a daily report: an event number and its 64 hex digits."""
    match = _PRINTED_CHECKPOINT.fullmatch(text)
    if match is None or int(match[1]) < 1:
        fail(
            f"--checkpoint {text!r} is not ID:HASH (an event number, a colon and the "
            "64-character hash printed on the report)"
        )
    return int(match[1]), match[2].lower()


def parse_moment(text: str | None, config: Config, *, end: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` (local midnight; the day after for ``--until``) or an ISO time."""
    from locker.rota import FIRST_DAY, LAST_DAY, day_problem

    if text is None:
        return None
    try:
        if len(text) == 10:
            day, why = day_problem(text)
            if day is None:
                raise click.BadParameter(why)
            moment = datetime.combine(day, time(0), tzinfo=config.tz)
            if end:
                moment = datetime.combine(day + timedelta(days=1), time(0), tzinfo=config.tz)
            return moment.astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD) or ISO time") from None
    if not FIRST_DAY <= moment.date() <= LAST_DAY:
        raise click.BadParameter(
            f"{text!r} is out of range: the locker takes days from {FIRST_DAY} to {LAST_DAY}"
        )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=config.tz)
    return moment.astimezone(UTC)


@log.command("export")
@click.option("--since", metavar="DATE|TIME", help="From this local day or ISO time.")
@click.option("--until", metavar="DATE|TIME", help="Up to the end of this local day or time.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv", show_default=True
)
@click.pass_obj
@friendly
def log_export(app, since: str | None, until: str | None, fmt: str) -> None:
    """Stream events to stdout as CSV or JSON lines."""
    from locker.log import export

    start = parse_moment(since, app.config)
    stop = parse_moment(until, app.config, end=True)
    out = sys.stdout
    with app.db.read() as session:
        export(session, out, fmt=fmt, since=start, until=stop)
