"""Who hears about what, and when: the ``[notify]`` config and its pure policy.

Each destination is an apprise URL with a name and the alert kinds it wants
(kinds, or ``"safety"``, ``"operational"``, ``"all"``). Operational alerts
wait out the quiet hours; safety alerts never do. Sending is not done here
(see ``locker_app.notify``): this module only decides.

A URL may carry secrets (an SMTP password, an ntfy token) as ``${NAME}``,
filled from ``secrets_file``: a TOML file of ``NAME = "value"`` lines readable
only by the service users, so the config itself can be shown and kept in
version control.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from locker import events as ev
from locker.errors import ConfigError

#: Kind names that stand for a group of alert kinds.
GROUPS = {
    "all": ev.ALERT_KINDS,
    "safety": ev.SAFETY_ALERTS,
    "operational": ev.OPERATIONAL_ALERTS,
}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://\S+$")
SECRET = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
QUIET = re.compile(r"^(\d\d:\d\d)-(\d\d:\d\d)$")


@dataclass(frozen=True)
class Destination:
    """One place messages go: e-mail, ntfy, a webhook... (an apprise URL)."""

    #: What the log and the panel call it (never its URL).
    name: str
    #: An apprise URL, e.g. ``mailtos://...`` or ``ntfys://topic``; ``${NAME}``
    #: is replaced by the secret NAME from ``notify.secrets_file``.
    url: str
    #: Alert kinds it gets, or ``"safety"``, ``"operational"``, ``"all"``.
    kinds: tuple[str, ...] = ("all",)

    def wants(self, alert: str) -> bool:
        """Whether alerts of kind ``alert`` go here."""
        return any(alert == kind or alert in GROUPS.get(kind, ()) for kind in self.kinds)


@dataclass(frozen=True)
class NotifyConfig:
    """Notifications to the manager, wherever she is."""

    destinations: tuple[Destination, ...] = ()
    #: TOML file of secrets (``NAME = "value"``) the URLs refer to as ``${NAME}``.
    secrets_file: str = ""
    #: Local ``HH:MM-HH:MM`` in which operational alerts wait (safety ones never do).
    quiet_hours: str = ""
    #: Destinations (names) that get the daily summary at closing time.
    summary_to: tuple[str, ...] = ()
    #: The panel's address as the manager's phone reaches it, for links in messages.
    panel_url: str = ""
    #: Hours a message is retried before it is given up (and logged so).
    retry_for_h: float = field(default=24.0, metadata={"range": (1.0, 24.0 * 14)})

    def destination(self, name: str) -> Destination:
        """The destination called ``name``."""
        for dest in self.destinations:
            if dest.name == name:
                return dest
        raise KeyError(name)

    def recipients(self, topic: str, alert: str | None, only: str | None) -> list[Destination]:
        """The destinations a message of ``topic`` (about an ``alert`` kind) goes to."""
        if only is not None:
            return [d for d in self.destinations if d.name == only]
        if topic == "summary":
            return [d for d in self.destinations if d.name in self.summary_to]
        if alert is None:
            return list(self.destinations)
        return [d for d in self.destinations if d.wants(alert)]

    def quiet_until(self, alert: str | None, at: datetime, tz: ZoneInfo) -> datetime | None:
        """When a message about ``alert`` may go, if ``at`` is in the quiet hours and
        ``alert`` is operational; None when it may go now."""
        if not self.quiet_hours or alert not in ev.OPERATIONAL_ALERTS:
            return None
        start, end = quiet_window(self.quiet_hours)
        local = at.astimezone(tz)
        now = local.time()
        inside = start <= now < end if start < end else now >= start or now < end
        if not inside:
            return None
        day = local.date() if now < end else local.date() + timedelta(days=1)
        return datetime.combine(day, end, tzinfo=tz).astimezone(UTC)


def quiet_window(text: str) -> tuple[time, time]:
    """``"HH:MM-HH:MM"`` as two times (the window may wrap past midnight)."""
    match = QUIET.match(text)
    if not match:
        raise ValueError(text)
    return time.fromisoformat(match[1]), time.fromisoformat(match[2])


def check_notify(config: NotifyConfig) -> None:
    """Refuse a ``[notify]`` section with a mistake, naming the key."""
    names: set[str] = set()
    for i, dest in enumerate(config.destinations):
        key = f"notify.destinations[{i}]"
        if not NAME.match(dest.name):
            raise ConfigError(
                f"{key}.name: {dest.name!r} is not a name (letters, digits, '-', '_', '.')"
            )
        if dest.name in names:
            raise ConfigError(f"{key}.name: {dest.name!r} is used twice")
        names.add(dest.name)
        if not URL.match(dest.url.strip()):
            raise ConfigError(
                f"{key}.url: not an apprise URL (scheme://...), e.g. mailtos://... or ntfys://..."
            )
        if not dest.kinds:
            raise ConfigError(f'{key}.kinds: empty (use "all" for every alert)')
        for kind in dest.kinds:
            if kind not in GROUPS and kind not in ev.ALERT_KINDS:
                known = ", ".join(sorted([*GROUPS, *ev.ALERT_KINDS]))
                raise ConfigError(f"{key}.kinds: unknown alert kind {kind!r} (one of {known})")
    if config.quiet_hours:
        try:
            quiet_window(config.quiet_hours)
        except ValueError:
            raise ConfigError(
                f"notify.quiet_hours: expected HH:MM-HH:MM, not {config.quiet_hours!r}"
            ) from None
    for name in config.summary_to:
        if name not in names:
            raise ConfigError(f"notify.summary_to: no destination is called {name!r}")
    if config.panel_url and not re.match(r"^https?://\S+$", config.panel_url):
        raise ConfigError(f"notify.panel_url: expected http(s)://..., not {config.panel_url!r}")


def scheme(url: str) -> str:
    """The scheme of an apprise URL (``mailtos``, ``ntfy``...)."""
    match = URL.match(url.strip())
    return match["scheme"] if match else ""


def read_secrets(path: str) -> dict[str, str]:
    """The secrets file: ``NAME = "value"`` lines (TOML); refused if others can read it."""
    import tomllib

    file = Path(path)
    try:
        mode = file.stat().st_mode
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"notify.secrets_file: {path}: no such file") from None
    except OSError as exc:
        raise ConfigError(f"notify.secrets_file: {path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"notify.secrets_file: {path}: not valid TOML: {exc}") from None
    if mode & 0o007:
        raise ConfigError(
            f"notify.secrets_file: {path}: readable by every user; chmod 640 (or 600) it"
        )
    bad = sorted(k for k, v in raw.items() if not isinstance(v, str))
    if bad:
        raise ConfigError(f"notify.secrets_file: {path}: {bad[0]} must be a quoted string")
    return raw


def fill_secrets(url: str, secrets: dict[str, str], where: str) -> str:
    """``url`` with each ``${NAME}`` replaced by its secret; an unknown NAME is an error."""

    def secret(match: re.Match[str]) -> str:
        if match[1] not in secrets:
            raise ConfigError(f"{where}.url: the secrets file has no {match[1]}")
        return secrets[match[1]]

    return SECRET.sub(secret, url)
