"""Sending one message to one destination, through apprise.

URLs are filled with their secrets here and nowhere else; errors are told in
words that never carry a URL or a secret.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import apprise

from locker.config import Config
from locker.errors import ConfigError, LockerError
from locker.notify_policy import Destination, fill_secrets, read_secrets, scheme


class SendError(LockerError):
    """A destination did not accept a message (the words are safe to log)."""


@dataclass(frozen=True)
class Problem:
    """Why a destination cannot be used as configured, and the config key at fault
    (``None`` when ``why`` names it already)."""

    destination: str
    why: str
    key: str | None = None

    def __str__(self) -> str:
        where = f"{self.key}: " if self.key else ""
        return f"{where}{self.why} (destination {self.destination!r})"


def check_destinations(config: Config) -> None:
    """Refuse a ``[notify]`` section apprise cannot use: an unknown scheme, a URL its
    service cannot take, a secret missing. :class:`ConfigError` names the first
    destination at fault and its key.

    The core checks the section's shape when the config is loaded
    (:func:`locker.notify_policy.check_notify`) but cannot ask apprise, so the
    commands that send (``locker web``, ``locker demo``, ``locker notify test``)
    call this as they start. The daemon does not: it never sends, and a bad
    destination must never stop the lockers.
    """
    problems = AppriseChannel(config).problems
    if problems:
        raise ConfigError(str(problems[0]))


class AppriseChannel:
    """Sends through apprise to the configured destinations, secrets filled in."""

    def __init__(self, config: Config):
        self.config = config
        #: The secrets' values, to scrub from any error text.
        self._secrets: dict[str, str] = {}
        #: Each usable destination's URL, secrets filled in (kept in memory only).
        self._urls: dict[str, str] = {}
        #: Destinations that cannot be used, with why (see :meth:`problems`).
        self.problems: list[Problem] = []
        self._prepare()

    def _prepare(self) -> None:
        notify = self.config.notify
        if not notify.destinations:
            # Nothing to check: asking apprise which schemes it knows loads all of
            # its two hundred plugins, 16 MB of a panel that sends nothing.
            return
        try:
            if notify.secrets_file:
                self._secrets = read_secrets(notify.secrets_file)
        except ConfigError as exc:
            self.problems = [Problem(d.name, str(exc)) for d in notify.destinations]
            return
        known = _schemes()
        for i, dest in enumerate(notify.destinations):
            try:
                url = fill_secrets(dest.url.strip(), self._secrets, f"notify.destinations[{i}]")
            except ConfigError as exc:
                self.problems.append(Problem(dest.name, str(exc)))
                continue
            key = f"notify.destinations[{i}].url"
            if scheme(url) not in known:
                why = f"unknown scheme {scheme(url)!r}: not a service apprise knows"
                self.problems.append(Problem(dest.name, why, key))
                continue
            if apprise.Apprise.instantiate(url) is None:
                why = f"not a valid {scheme(url)}:// URL (see apprise's wiki)"
                self.problems.append(Problem(dest.name, why, key))
                continue
            self._urls[dest.name] = url

    def problem(self, name: str) -> str | None:
        """Why destination ``name`` cannot be used, or None."""
        return next((p.why for p in self.problems if p.destination == name), None)

    def send(self, dest: Destination, subject: str, body: str) -> None:
        """Send to ``dest``; :class:`SendError` says why it was not accepted."""
        why = self.problem(dest.name)
        if why is not None:
            raise SendError(why)
        url = self._urls.get(dest.name)
        if url is None:
            raise SendError("not configured (the panel must be restarted after a config change)")
        # A new service object each time: apprise paces calls on one object by
        # seconds of real time, and the outbox already paces its retries.
        sender = apprise.Apprise()
        sender.add(apprise.Apprise.instantiate(url))
        with apprise.LogCapture(level=logging.WARNING) as logs:
            accepted = sender.notify(
                body=body, title=subject, body_format=apprise.NotifyFormat.TEXT
            )
        if not accepted:
            text = logs.getvalue().strip().splitlines()
            last = text[-1].split(" - ", 2)[-1] if text else "the service refused the message"
            raise SendError(self.scrub(last))

    def scrub(self, text: str) -> str:
        """``text`` without any secret's value in it."""
        for value in self._secrets.values():
            if value:
                text = text.replace(value, "***")
        return text


def _schemes() -> set[str]:
    """Every URL scheme the installed apprise plugins answer to."""
    found: set[str] = set()
    for plugin in apprise.Apprise().details()["schemas"]:
        found.update(plugin.get("protocols") or ())
        found.update(plugin.get("secure_protocols") or ())
    return found
