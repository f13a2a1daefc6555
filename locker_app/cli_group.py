"""How the ``locker`` command line reads its words, for every command and group.

Three things a person typing at a terminal expects, done once here for every
command, including groups other modules register with ``main.group()``:

- ``--config PATH`` works before or after the command's name
  (``locker --config c.toml init`` and ``locker init --config c.toml``);
- a usage mistake is one ``error: ...`` line on stderr and exit status 2, not
  click's three-line usage block;
- an unknown command gets a "did you mean" when one is close.
"""

from __future__ import annotations

import difflib
import functools
import sys
from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from locker.errors import LockerError, RotaError

#: Exit status of a command that failed (its error on one line).
EXIT_ERROR = 1
#: Exit status of a usage mistake (as click, argparse and the shells use).
EXIT_USAGE = 2
#: The option every command takes wherever it is written.
CONFIG_OPTION = "--config"


def hoist_config(args: Sequence[str]) -> list[str]:
    """``args`` with every ``--config PATH`` (or ``--config=PATH``) moved to the front.

    Only the last one counts, as with any repeated option. Nothing after a
    ``--`` is touched: that is an argument, whatever it looks like.
    """
    args = list(args)
    hoisted: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg == CONFIG_OPTION:
            if i + 1 >= len(args):
                raise click.UsageError(f"{CONFIG_OPTION} needs a PATH after it")
            hoisted = [CONFIG_OPTION, args[i + 1]]
            i += 2
            continue
        if arg.startswith(CONFIG_OPTION + "="):
            hoisted = [arg]
        else:
            rest.append(arg)
        i += 1
    return hoisted + rest


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``choices``, or nothing."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class LockerGroup(click.Group):
    """A click group with the behaviour above; its subgroups are of the same class."""

    group_class = type

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """The command named first in ``args``; an unknown one is refused with a suggestion."""
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = self.list_commands(ctx)
            raise click.UsageError(
                f"{ctx.command_path} has no command {name!r}{did_you_mean(name, known)}; "
                f"the commands are: {', '.join(known)}",
                ctx,
            )
        return super().resolve_command(ctx, args)

    def main(  # type: ignore[override]
        self, args: Sequence[str] | None = None, prog_name: str | None = None, **extra: Any
    ) -> Any:
        """Run the command line; a usage mistake ends as one ``error:`` line, exit 2."""
        argv = list(sys.argv[1:] if args is None else args)
        extra.pop("standalone_mode", None)
        try:
            argv = hoist_config(argv)
            code = super().main(argv, prog_name or "locker", standalone_mode=False, **extra)
        except click.UsageError as exc:
            where = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            click.echo(f"error: {exc.format_message()}{where}", err=True)
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: stopped, nothing more was done", err=True)
            sys.exit(1)
        # Standalone, click ends the process here too: ``--help`` and ``--version``
        # come back as their exit status, a command that ran as ``None``.
        sys.exit(code if isinstance(code, int) else 0)


def read_password() -> str:
    """A password typed twice at a terminal, or the first line of stdin (scripts, tests)."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


def fail(message: str, code: int = EXIT_ERROR) -> None:
    """Print ``error: message`` to stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def friendly(func):
    """Turn the product's own errors into one line on stderr and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except RotaError as exc:
            click.echo(f"error: {exc.args[0].split(':')[0]}:", err=True)
            for line, why in exc.problems:
                click.echo(f"  line {line}: {why}", err=True)
            sys.exit(EXIT_ERROR)
        except LockerError as exc:
            fail(str(exc))
        except SQLAlchemyError as exc:
            fail(f"database: {exc.__class__.__name__}: {str(exc.orig or exc).splitlines()[0]}")
        except OSError as exc:
            fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))

    return wrapper
