"""The hub's JSON API: what sites send (ingest) and what group tools read."""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select, update

from hub import accounts, overview
from hub.alerts import resolve_alerts
from hub.ingest import check_reported_head, parse_batch, take_batch
from hub.models import Site
from hub.security import require_site
from hub.shifts import store_shifts
from hub.totals import after_snapshot
from locker.errors import InvalidRequest

bp = Blueprint("api", __name__, url_prefix="/api")

#: The most a compressed batch may grow to (a week of a busy site is far less).
MAX_INFLATED = 64 * 1024 * 1024
MAX_EVENTS_PAGE = 1000
MAX_SITES_PAGE = 1000
MAX_ALERT_SITES_PAGE = 500
#: A snapshot is a few kilobytes; a bank of 32 slots with every alert open is under this.
MAX_SNAPSHOT = 256 * 1024


def _now():
    return current_app.config["HUB_NOW"]()


def _db():
    return current_app.config["HUB_DB"]


def read_json() -> Any:
    """The request's JSON, gzip-inflated if it says so; a clear 400 otherwise."""
    body = request.get_data(cache=False)
    if request.headers.get("Content-Encoding", "").lower() == "gzip":
        try:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            body = inflater.decompress(body, MAX_INFLATED)
            if inflater.unconsumed_tail:
                raise InvalidRequest(f"the batch inflates past {MAX_INFLATED} bytes")
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise InvalidRequest(f"the body is not gzip: {exc}") from None
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRequest(f"the body is not JSON: {exc}") from None


@bp.get("/healthz")
def healthz():
    """Whether the hub can reach its database."""
    with _db().session() as s:
        s.execute(select(1))
    return jsonify(hub="ok")


@bp.get("/ingest/head")
def ingest_head():
    """The newest event the hub holds of the calling site: where its next batch starts."""
    with _db().session() as s:
        site = s.get(Site, g.site.id)
        return jsonify(id=site.head_seq, hash=site.head_hash)


@bp.post("/ingest/events")
def ingest_events():
    """Take a batch of the calling site's events (verified, idempotent)."""
    result = take_batch(_db(), g.site.id, parse_batch(read_json()), _now())
    return jsonify(
        stored=result.stored,
        duplicates=result.duplicates,
        head={"id": result.head_id, "hash": result.head_hash},
    )


@bp.post("/ingest/status")
def ingest_status():
    """Take the calling site's status snapshot (slots, on shift, alerts, clock)."""
    snapshot = read_json()
    if not isinstance(snapshot, dict):
        raise InvalidRequest("a status snapshot is a JSON object")
    if len(json.dumps(snapshot)) > MAX_SNAPSHOT:
        raise InvalidRequest(f"a status snapshot is at most {MAX_SNAPSHOT} bytes of JSON")
    now = _now()
    with _db().session() as s:
        check_reported_head(s, g.site.id, snapshot.get("log_head"), now)
        s.execute(
            update(Site)
            .where(Site.id == g.site.id)
            .values(snapshot=snapshot, snapshot_at=now, last_seen=now)
        )
        resolve_alerts(s, g.site.id, "offline", now)
        changed = store_shifts(s, g.site.id, snapshot)
        site = s.get(Site, g.site.id)
        s.refresh(site)
        after_snapshot(s, site, changed, now)
    return "", 204


@bp.get("/sites")
def sites():
    """The sites the account may see, by name: ``{name, online, last_seen, events,
    chain_ok}``; at most ``limit`` after the site ``after`` (keyset paging)."""
    after = request.args.get("after") or None
    limit = _int_arg("limit", MAX_SITES_PAGE, 1, MAX_SITES_PAGE)
    with _db().session() as s:
        rows = overview.site_rows(
            s,
            g.visible,
            _now(),
            current_app.config["HUB_OFFLINE_AFTER"],
            after=after,
            limit=limit,
        )
    return jsonify(
        [
            {
                "name": r.name,
                "online": r.online,
                "last_seen": r.last_seen.isoformat() if r.last_seen else None,
                "events": r.events,
                "chain_ok": r.chain_ok,
            }
            for r in rows
        ]
    )


@bp.get("/alerts")
def open_alerts():
    """Open alerts of the sites the account may see: ``{"alerts": [{site, kind, message,
    since, safety}], "next": NAME | null}``, the sites with something open taken
    ``limit`` at a time by name after ``after`` (keyset paging)."""
    after = request.args.get("after") or None
    limit = _int_arg("limit", MAX_ALERT_SITES_PAGE, 1, MAX_ALERT_SITES_PAGE)
    with _db().session() as s:
        rows, later = overview.open_alerts(s, g.visible, after=after, limit=limit)
    return jsonify(
        alerts=[
            {
                "site": r.site,
                "kind": r.kind,
                "message": r.message,
                "since": r.since,
                "safety": r.safety,
            }
            for r in rows
        ],
        next=later,
    )


@bp.get("/sites/<name>/events")
def site_events(name: str):
    """One page of a site's shipped events after ``after_id`` (at most ``limit``)."""
    after_id = _int_arg("after_id", 0, 0, 2**62)
    limit = _int_arg("limit", 100, 1, MAX_EVENTS_PAGE)
    with _db().session() as s:
        site = require_site(accounts.find_site(s, name))
        events = overview.events_after(s, site.id, after_id, limit)
    return jsonify([overview.event_json(e) for e in events])


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequest(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise InvalidRequest(f"{name} must be from {low} to {high}, not {value}")
    return value
