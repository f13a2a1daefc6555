"""Badge UIDs as each account sees them: whole for managers and admins, the last four
hex digits for viewers.

A viewer (an inspector, the owner) has no use for a whole UID, and a whole
manager's UID is what a cloned card needs to give on-the-spot approvals. The
panel's pages, its log exports and the JSON API show UIDs through :func:`shown`.
"""

from __future__ import annotations

import json
from typing import Any

from flask import has_request_context
from flask_login import current_user

#: How many of a UID's last hex digits a viewer sees.
SHOWN_DIGITS = 4
MASK = "****"


def masked(uid: str) -> str:
    """``uid`` with all but its last :data:`SHOWN_DIGITS` hex digits hidden."""
    return MASK + uid[-SHOWN_DIGITS:]


def may_see_whole() -> bool:
    """True for an account that may act (a manager or admin), or outside a request."""
    if not has_request_context():
        return True
    return bool(current_user.is_authenticated and current_user.can_act)


def shown(uid: Any) -> Any:
    """``uid`` as the caller may see it (anything but text is left as it is)."""
    if not isinstance(uid, str) or may_see_whole():
        return uid
    return masked(uid)


def shown_details(details: Any) -> Any:
    """An event's details with its ``uid`` as the caller may see it."""
    if isinstance(details, dict) and "uid" in details and not may_see_whole():
        return {**details, "uid": shown(details["uid"])}
    return details


def shown_details_text(stored: str) -> str:
    """An event's stored details (canonical JSON) with its ``uid`` masked, for a viewer's export."""
    try:
        details = json.loads(stored)
    except (TypeError, ValueError):
        return stored
    if not isinstance(details, dict) or not isinstance(details.get("uid"), str):
        return stored
    details["uid"] = masked(details["uid"])
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
