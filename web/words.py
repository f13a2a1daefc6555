"""Every word the panel shows for a code: one table per kind of code.

The log, the database and the API speak in codes (``release.grant``,
``open_for_release``, ``home_visit``); a manager reads words. Every page that
shows a code looks it up here, so a code has one wording everywhere, and a
code without an entry shows in words anyway (its underscores and dots as
spaces) rather than as a code. ``tests/web/test_words.py`` checks that every
kind, state, alert and reason the code defines has its words.
"""

from __future__ import annotations

from locker import events as ev

#: A slot's state, as the status page and the simulator say it.
STATE_WORDS = {
    "free": "Free",
    "open_for_deposit": "Open for a device to go in",
    "held": "Device locked in",
    "open_for_release": "Open for the device to be taken",
    "out": "Device out",
    "unknown": "Not seen by the controller yet",
}

#: A slot's kind.
SLOT_KIND_WORDS = {"staff": "Staff", "visitor": "Visitor", "setting": "Setting's devices"}

#: Why a slot opened or is reserved, as the status page says it.
SLOT_REASON_WORDS = {
    "deposit": "deposit",
    "return": "coming back",
    "setting_return": "coming back",
    "break": "on a break",
    "grant": "approved release",
    "on_the_spot": "approved on the spot",
    "manager": "released by a manager",
    "all": "release all",
    "shift_end": "shift ended",
    "closing": "closing time",
    "visitor": "visitor",
    "visitor_sign_out": "visitor signing out",
    "stock": "stocking",
    "tamper": "taken while locked",
    "return_empty": "came back empty",
}

#: Alert kinds (``details.alert`` of ``alert.raised``).
ALERT_WORDS = {
    "door_forced": "Door forced open",
    "tamper": "Device removed while locked",
    "door_left_open": "Door left open",
    "overdue": "Device overdue",
    "no_deposit": "On shift, no device deposited",
    "forgotten_device": "Device forgotten after closing",
    "unknown_badges": "Repeated unknown badges",
    "hardware_fault": "Reader or sensor fault",
    "clock": "Clock not synchronised",
    "log_broken": "Event log found broken",
    "storage": "Storage fault (database)",
    "controller_offline": "Controller not running",
}

#: Reason codes of grants and of the controller, in words.
REASON_WORDS = {
    **SLOT_REASON_WORDS,
    "emergency": "emergency",
    "outing": "outing",
    "home_visit": "home visit",
    "training": "training (online course)",
    "other": "other",
    "release": "release",
    "already_open": "slot already open",
    "checkout": "setting's device checkout",
    "on_shift": "on shift, not on a break",
    "not_collected": "device not taken",
    "door_closed": "door closed",
    "empty": "no device put in",
    "timeout": "door not opened in time",
    "restart": "controller restarted",
    "inactive": "person no longer active",
    "revoked": "badge revoked",
    "clock_unsynchronised": "clock not synchronised",
    "slot_not_free": "their slot is not free",
    "no_free_slot": "no free slot",
    # A slot whose expander does not answer: its door is unknown, nothing opens.
    "cannot_check": "their slot cannot be checked (hardware fault)",
}

#: Codes for a grant's reason, as the manager chooses them.
GRANT_REASON_WORDS = {
    "emergency": "Emergency",
    "outing": "Outing",
    "home_visit": "Home visit",
    "training": "Training (online course)",
    "other": "Other (say why in the note)",
}

#: Why a device was out, on the report's timeline.
RELEASE_WORDS = {
    "break": "break",
    "grant": "manager's grant",
    "on_the_spot": "approved on the spot",
    "manager": "released by a manager",
    "all": "release all",
    "tamper": "taken while locked",
}

#: A person's role.
ROLE_WORDS = {"staff": "Staff", "manager": "Manager or deputy", "visitor": "Visitor"}

#: How a changed field of a person is named to the manager.
CHANGE_WORDS = {
    "name": "the name",
    "role": "the role",
    "slot": "the own slot",
    "setting_authorised": "the setting's devices permission",
}

#: What each kind of segment of the report's timeline means, for the legend and the text.
SEGMENT_WORDS = {
    "held": "Device in the locker",
    "break": "Out on a break",
    "release": "Out on an approved release",
    "late": "Late back, within the grace period",
    "overdue": "Overdue (alert raised)",
    "tamper": "Taken out while locked",
}
#: Short labels written on the timeline's bars when they are wide enough.
SEGMENT_LABELS = {
    "held": "In locker",
    "break": "Break",
    "release": "Release",
    "late": "Late",
    "overdue": "Overdue",
    "tamper": "Taken",
}

#: Every event kind in words.
EVENT_WORDS = {
    ev.BADGE_GRANTED: "Badge accepted",
    ev.BADGE_REFUSED: "Badge refused",
    ev.BADGE_UNKNOWN: "Unknown badge",
    ev.SLOT_UNLOCKED: "Slot unlocked",
    ev.SLOT_LOCKED: "Slot locked",
    ev.DOOR_OPENED: "Door opened",
    ev.DOOR_CLOSED: "Door closed",
    ev.DEVICE_DETECTED: "Device detected in the slot",
    ev.DEVICE_REMOVED: "Device taken out of the slot",
    ev.DEPOSIT_CONFIRMED: "Device deposited",
    ev.DEPOSIT_EMPTY: "No device deposited",
    ev.RELEASE_BREAK: "Released for a break",
    ev.RELEASE_GRANT: "Released on a manager's grant",
    ev.RELEASE_SHIFT_END: "Released at the end of the shift",
    ev.RELEASE_MANAGER: "Released by a manager",
    ev.RELEASE_ALL: "Release all (evacuation)",
    ev.RELEASE_CLOSING: "Released at closing time",
    ev.RELEASE_TIMEOUT: "Release not collected, slot relocked",
    ev.GRANT_CREATED: "Release granted by a manager",
    ev.GRANT_USED: "Grant used",
    ev.GRANT_EXPIRED: "Grant expired unused",
    ev.APPROVAL_ON_THE_SPOT: "Approved on the spot by a manager's badge",
    ev.ALERT_RAISED: "Alert raised",
    ev.ALERT_ACKNOWLEDGED: "Alert acknowledged",
    ev.ALERT_RESOLVED: "Alert resolved (its cause ended)",
    ev.NOTIFY_SENT: "Notification sent",
    ev.NOTIFY_FAILED: "Notification not sent (will retry)",
    ev.PERSON_FORGOTTEN: "Person forgotten (personal data erased)",
    ev.PERSON_HOLD: "Legal hold put on or released",
    ev.VISITOR_SIGNED_IN: "Visitor signed in",
    ev.VISITOR_SIGNED_OUT: "Visitor signed out",
    ev.SETTING_CHECKED_OUT: "Setting's device checked out",
    ev.SETTING_RETURNED: "Setting's device returned",
    ev.SHIFT_CHANGED: "Shift changed",
    ev.BREAK_STARTED: "Break started now",
    ev.AUTH_LOGIN: "Panel login",
    ev.AUTH_FAILED: "Panel login failed",
    ev.AUTH_LOGOUT: "Panel logout",
    ev.CONFIG_CHANGED: "Settings changed",
    ev.SYSTEM_STARTED: "Controller started",
    ev.SYSTEM_STOPPED: "Controller stopped",
    ev.CLOCK_UNSYNCHRONISED: "Clock not synchronised",
    ev.CLOCK_SYNCHRONISED: "Clock synchronised",
    ev.CLOCK_JUMP: "Clock jumped",
    ev.LOG_CHECKPOINT: "Daily checkpoint of the log",
    ev.LOG_PURGED: "Old events removed (retention)",
    ev.LOG_VERIFIED: "Whole log verified",
    ev.COMMAND_EXPIRED: "Request too old, not carried out",
    ev.STORAGE_RECOVERED: "Storage working again",
    ev.PERSON_EXPORTED: "Everything held about a person downloaded (access request)",
    ev.DATA_VIEWED: "Personal data viewed",
}

#: Detail keys in words; ``None`` shows the value alone.
DETAIL_WORDS: dict[str, str | None] = {
    "uid": "card number",
    "action": "for",
    "explanation": None,
    "message": None,
    "what": None,
    "alert": None,
    "note": "note",
    "client": "from address",
    "return_due": "due back",
    "return_minutes": "back within",
    "valid_until": "valid until",
    "break_start": "break from",
    "break_end": "break until",
    "grant_id": "grant",
    "alert_id": "alert",
    "manager": "approved by",
    "person": "for",
    "forced": "forced open",
    "returned": "coming back",
    "automatic": "automatic",
    "while_down": "while the controller was down",
    "no_shift_today": "no shift today",
    "device_out": "device was out",
    "declared_empty": "said they had no device",
    "event_id": "event",
    "through_id": "through event",
    "through_hash": "hash",
    "clock_synchronised": "clock synchronised",
    "due": "due back",
    "cutoff": "older than",
}

#: The override log's "what happened" column.
OVERRIDE_WHAT = {
    ev.GRANT_CREATED: "Release granted",
    ev.RELEASE_GRANT: "Grant used: slot opened",
    ev.APPROVAL_ON_THE_SPOT: "Approved on the spot (manager's badge)",
    ev.RELEASE_MANAGER: "Slot released by a manager",
    ev.RELEASE_ALL: "Release all (evacuation)",
}

#: Unlocking requests, as the manager would name them.
REQUEST_WORDS = {
    "grant": "An open-now release",
    "release_slot": "A slot release",
    "release_all": "Release all",
    "visitor_in": "A visitor sign-in",
    "visitor_out": "A visitor sign-out",
    "stock": "Stocking a setting slot",
    "sim_badge": "A simulated badge",
}


#: The button on a free setting slot that opens it to be stocked (the ``stock`` command).
STOCK_WORDS = "Open to put the setting's tablet in"

# Data protection (issue 17): the access log and the person's privacy page.
#: What was looked at (``details.what`` of ``data.viewed``).
VIEWED_WORDS = {
    "log": "the log",
    "log_export": "a download of the log",
    "report": "the daily report",
    "person": "a person's page",
    "api_events": "the log through the API",
}
#: How everything about a person was downloaded (``details.via`` of ``person.exported``).
VIA_WORDS = {"cli": "on the command line", "panel": "from the panel"}
#: What the locker holds about a person, by table, on their privacy page.
HELD_WORDS = {
    "badges": "badges (cards)",
    "shifts": "shifts",
    "custody": "stays of a device in the locker",
    "grants": "releases approved by a manager",
    "alerts": "alerts",
    "slots": "slots in use now",
    "events": "log events",
    "panel_accounts": "panel accounts they use",
}
#: The privacy page's buttons and answers, for a manager who is not a lawyer.
PRIVACY_WORDS = {
    "export": "Download everything we hold (access request)",
    "hold": "Put on hold",
    "release": "Release the hold",
    "forget": "Forget this person (leaver)",
    "hold_done": "The hold is on: nothing of theirs is erased or removed until it is released.",
    "release_done": "The hold is released: their records follow the usual retention again.",
    "tick_to_confirm": "Tick the box to confirm that this person is to be forgotten.",
    "password_needed": "Type your own password again: forgetting somebody cannot be undone.",
    "password_wrong": "That password is not right. Nothing was erased.",
    "forgotten": (
        "{name} is forgotten: their badges are revoked and their name and card numbers "
        "erased. Their history stays as {alias}."
    ),
    "view_not_recorded": (
        "This page shows personal data, and every look at it is recorded in the log; "
        "the record cannot be written just now (the locker's storage is failing, see the "
        "status page), so the page is not shown. Try again in a minute. The status page "
        "and the locker itself keep working."
    ),
}


def plain(code: str) -> str:
    """A code with no entry in a table, in words: ``home_visit`` → ``home visit``."""
    return code.replace("_", " ").replace(".", " ")


def event_words(kind: str) -> str:
    """An event kind in words."""
    return EVENT_WORDS.get(kind) or plain(kind).capitalize()


def state_words(state: str) -> str:
    """A slot state in words."""
    return STATE_WORDS.get(state) or plain(state).capitalize()


def slot_kind_words(kind: str) -> str:
    """A slot kind in words."""
    return SLOT_KIND_WORDS.get(kind) or plain(kind).capitalize()


def alert_words(alert: str) -> str:
    """An alert kind in words."""
    return ALERT_WORDS.get(alert) or plain(alert).capitalize()


def reason_words(reason: str) -> str:
    """A reason code (a grant's, the controller's or a slot's) in words."""
    return REASON_WORDS.get(reason) or plain(reason)


def role_words(role: str) -> str:
    """A person's role in words."""
    return ROLE_WORDS.get(role) or plain(role).capitalize()


def in_words(message: str) -> str:
    """A message from the controller with any slot-state code in it put in words.

    The controller's refusals name the state a slot is in (``slot 4 is
    open_for_release, not holding a device``); a manager reads ``slot 4 is
    open for the device to be taken, not holding a device``.
    """
    for code, words in STATE_WORDS.items():
        if "_" in code:
            message = message.replace(code, words.lower())
    return message


# The simulator (issue 16) says what each move led to.
#: What a badge that was let in opened its slot for (``action`` of ``badge.granted``).
SIM_OPENED_FOR = {
    "deposit": "for a device to go in: put it in and close the door",
    "return": "for the device to come back: put it in and close the door",
    "setting_return": "for the setting's device to come back",
    "checkout": "for the setting's device to be taken",
    "release": "for the device to be taken",
    "already_open": "(it was open already: it stays open a little longer)",
}
#: The simulator: why the daemon locked a slot again, where no other event of the move says it.
SIM_LOCKED_BECAUSE = {
    "not_collected": "The device was not taken: the slot locked again.",
    "collected": "The device is taken: the slot locked.",
    "door_closed": "The slot locked.",
}
