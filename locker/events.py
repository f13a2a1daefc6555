"""Event kinds (``domain.action``) and alert kinds: the names SPEC.md fixes."""

BADGE_GRANTED = "badge.granted"
BADGE_REFUSED = "badge.refused"
BADGE_UNKNOWN = "badge.unknown"
SLOT_UNLOCKED = "slot.unlocked"
SLOT_LOCKED = "slot.locked"
DOOR_OPENED = "door.opened"
DOOR_CLOSED = "door.closed"
DEVICE_DETECTED = "device.detected"
DEVICE_REMOVED = "device.removed"
DEPOSIT_CONFIRMED = "deposit.confirmed"
DEPOSIT_EMPTY = "deposit.empty"
RELEASE_BREAK = "release.break"
RELEASE_GRANT = "release.grant"
RELEASE_SHIFT_END = "release.shift_end"
RELEASE_MANAGER = "release.manager"
RELEASE_ALL = "release.all"
RELEASE_CLOSING = "release.closing"
RELEASE_TIMEOUT = "release.timeout"
GRANT_CREATED = "grant.created"
GRANT_USED = "grant.used"
GRANT_EXPIRED = "grant.expired"
APPROVAL_ON_THE_SPOT = "approval.on_the_spot"
ALERT_RAISED = "alert.raised"
ALERT_ACKNOWLEDGED = "alert.acknowledged"
#: An alert's condition ended (details: ``alert``, ``alert_id``, ``why``).
ALERT_RESOLVED = "alert.resolved"
#: A message reached one notification destination (details name it, never its URL).
NOTIFY_SENT = "notify.sent"
#: A message could not be sent to a destination (details: the error; a retry is due).
NOTIFY_FAILED = "notify.failed"
VISITOR_SIGNED_IN = "visitor.signed_in"
VISITOR_SIGNED_OUT = "visitor.signed_out"
SETTING_CHECKED_OUT = "setting.checked_out"
SETTING_RETURNED = "setting.returned"
SHIFT_CHANGED = "shift.changed"
BREAK_STARTED = "break.started"
AUTH_LOGIN = "auth.login"
AUTH_FAILED = "auth.failed"
AUTH_LOGOUT = "auth.logout"
CONFIG_CHANGED = "config.changed"
SYSTEM_STARTED = "system.started"
SYSTEM_STOPPED = "system.stopped"
CLOCK_UNSYNCHRONISED = "clock.unsynchronised"
CLOCK_SYNCHRONISED = "clock.synchronised"
CLOCK_JUMP = "clock.jump"
LOG_CHECKPOINT = "log.checkpoint"
LOG_PURGED = "log.purged"
#: The whole chain was verified (once a day, by the daemon); details give the result.
LOG_VERIFIED = "log.verified"
#: An unlocking command was too old when the daemon reached it: not carried out.
COMMAND_EXPIRED = "command.expired"
#: The database took writes again after a storage fault (details: since, late events).
STORAGE_RECOVERED = "storage.recovered"

# Data protection (issue 17): who read or took personal data, and subject access.
#: Everything held about one person was exported (details: ``via``, cli or panel).
PERSON_EXPORTED = "person.exported"
#: Somebody viewed the log, a report or a person's page, or exported the log
#: (details: ``what``; ``person_id`` is the person whose page it was). One a day
#: per account and page kind; every export is one.
DATA_VIEWED = "data.viewed"

# Privacy (issue 17): a leaver erased, and a legal hold put on or taken off.
#: A person was forgotten: badges revoked, name and personal values erased.
PERSON_FORGOTTEN = "person.forgotten"
#: A legal hold was put on a person (details: ``reason``) or released (``released``).
PERSON_HOLD = "person.hold"

#: Every way a device leaves its slot for its owner, in the order reports list them.
RELEASE_KINDS = (
    RELEASE_BREAK,
    RELEASE_GRANT,
    RELEASE_SHIFT_END,
    RELEASE_MANAGER,
    RELEASE_ALL,
    RELEASE_CLOSING,
    RELEASE_TIMEOUT,
)

#: What the panel's "override log" shows.
OVERRIDE_KINDS = frozenset(
    {GRANT_CREATED, APPROVAL_ON_THE_SPOT, RELEASE_MANAGER, RELEASE_ALL, RELEASE_GRANT}
)

ALL_KINDS = frozenset(
    value for name, value in dict(globals()).items() if name.isupper() and isinstance(value, str)
)

# Alert kinds, carried in ``details.alert`` of ``alert.raised``.
ALERT_DOOR_FORCED = "door_forced"
ALERT_TAMPER = "tamper"
ALERT_DOOR_LEFT_OPEN = "door_left_open"
ALERT_OVERDUE = "overdue"
ALERT_NO_DEPOSIT = "no_deposit"
ALERT_FORGOTTEN_DEVICE = "forgotten_device"
ALERT_UNKNOWN_BADGES = "unknown_badges"
ALERT_HARDWARE_FAULT = "hardware_fault"
ALERT_CLOCK = "clock"
#: The daemon's daily verification of the whole event log found it broken.
ALERT_LOG_BROKEN = "log_broken"
#: The database cannot be written, or is not the file the daemon opened.
ALERT_STORAGE = "storage"
#: The panel has heard nothing from the controller daemon for over a minute.
ALERT_CONTROLLER_OFFLINE = "controller_offline"

ALERT_KINDS = frozenset(
    {
        ALERT_DOOR_FORCED,
        ALERT_TAMPER,
        ALERT_DOOR_LEFT_OPEN,
        ALERT_OVERDUE,
        ALERT_NO_DEPOSIT,
        ALERT_FORGOTTEN_DEVICE,
        ALERT_UNKNOWN_BADGES,
        ALERT_HARDWARE_FAULT,
        ALERT_CLOCK,
        ALERT_LOG_BROKEN,
        ALERT_STORAGE,
        ALERT_CONTROLLER_OFFLINE,
    }
)

#: Alerts about the locks' safety or the record's integrity: shown first on the
#: panel, and sent even in quiet hours.
SAFETY_ALERTS = frozenset(
    {
        ALERT_DOOR_FORCED,
        ALERT_TAMPER,
        ALERT_STORAGE,
        ALERT_LOG_BROKEN,
        ALERT_HARDWARE_FAULT,
        ALERT_UNKNOWN_BADGES,
        ALERT_CONTROLLER_OFFLINE,
    }
)
#: Alerts about the day's routine (overdue, no deposit...): grouped on the panel,
#: held back in quiet hours.
OPERATIONAL_ALERTS = ALERT_KINDS - SAFETY_ALERTS

#: Reason codes a manager may give for a release grant.
GRANT_REASONS = ("emergency", "outing", "home_visit", "training", "other")
