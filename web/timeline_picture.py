"""The report's timeline pictures: inline SVG shapes on an hour axis, and the same as text.

Drawn on the server so the page prints the same with or without scripts; the
text beside each picture says everything the picture shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from locker.models import Shift
from locker.rota import day_bounds
from web.timeline import HELD, Segment
from web.words import RELEASE_WORDS, SEGMENT_LABELS, SEGMENT_WORDS

#: Width of every timeline picture, in SVG units.
WIDTH = 800
#: The opening day drawn at least: these local hours.
FIRST_HOUR = 7
LAST_HOUR = 19
BAR_Y = 30
BAR_HEIGHT = 28
#: Bars narrower than this carry no label (the text beside the picture still says it all).
LABEL_MIN_WIDTH = 56


@dataclass(frozen=True)
class Axis:
    """The hours a day's pictures show, and where a moment falls on them."""

    start: datetime
    end: datetime
    ticks: list[tuple[float, str]] = field(default_factory=list)

    def x(self, moment: datetime) -> float:
        """Where ``moment`` falls, from 0 to ``WIDTH``."""
        span = (self.end - self.start).total_seconds()
        offset = (moment - self.start).total_seconds()
        return round(min(max(offset / span, 0.0), 1.0) * WIDTH, 1)


def axis_for(
    day: date, tz: ZoneInfo, moments: Iterable[datetime], closing: time | None = None
) -> Axis:
    """Whole local hours covering the opening day (07:00-19:00 at least), closing time
    and every moment drawn; never beyond the day itself."""
    day_start, day_end = day_bounds(day, tz)
    first = _local(day, time(FIRST_HOUR), tz)
    last = _local(day, time(LAST_HOUR), tz)
    if closing is not None:
        last = max(last, _ceil_hour(_local(day, closing, tz), tz))
    for moment in moments:
        first = min(first, _floor_hour(moment, tz))
        last = max(last, _ceil_hour(moment, tz))
    first, last = max(first, day_start), min(last, day_end)
    axis = Axis(first, last)
    tick = first
    while tick <= last:
        axis.ticks.append((axis.x(tick), tick.astimezone(tz).strftime("%H:%M")))
        tick += timedelta(hours=1)
    return axis


def _local(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _floor_hour(moment: datetime, tz: ZoneInfo) -> datetime:
    local = moment.astimezone(tz)
    return local.replace(minute=0, second=0, microsecond=0).astimezone(UTC)


def _ceil_hour(moment: datetime, tz: ZoneInfo) -> datetime:
    floor = _floor_hour(moment, tz)
    return floor if floor == moment else floor + timedelta(hours=1)


def span_text(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """``HH:MM–HH:MM`` in the site's zone."""
    return f"{start.astimezone(tz):%H:%M}–{end.astimezone(tz):%H:%M}"


def _duration(delta: timedelta) -> str:
    minutes = round(delta.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def picture(
    segments: Sequence[Segment],
    shift: Shift | None,
    alerts: Sequence[tuple[datetime, str]],
    axis: Axis,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """The shapes of one person's timeline, and the same facts as text."""
    bars = []
    for seg in segments:
        x1, x2 = axis.x(seg.start), axis.x(seg.end)
        width = max(round(x2 - x1, 1), 1.0)
        text = f"{SEGMENT_WORDS[seg.kind]} {span_text(seg.start, seg.end, tz)}"
        if seg.reason and seg.kind != HELD:
            text += f" ({RELEASE_WORDS.get(seg.reason, seg.reason)})"
        bars.append(
            {
                "kind": seg.kind,
                "x": x1,
                "w": width,
                "mid": round(x1 + width / 2, 1),
                "label": SEGMENT_LABELS[seg.kind] if width >= LABEL_MIN_WIDTH else "",
                "title": text,
            }
        )
    markers = []
    breaks = []
    if shift is not None:
        markers = [
            {"x": axis.x(shift.start), "label": f"Start {shift.start.astimezone(tz):%H:%M}"},
            {"x": axis.x(shift.end), "label": f"End {shift.end.astimezone(tz):%H:%M}"},
        ]
        for pause in shift.breaks:
            x1, x2 = axis.x(pause.start), axis.x(pause.end)
            breaks.append(
                {
                    "x": x1,
                    "w": max(round(x2 - x1, 1), 2.0),
                    "title": f"Planned break {span_text(pause.start, pause.end, tz)}",
                }
            )
    totals: dict[str, timedelta] = {}
    for seg in segments:
        totals[seg.kind] = totals.get(seg.kind, timedelta(0)) + (seg.end - seg.start)
    return {
        "bars": bars,
        "markers": markers,
        "breaks": breaks,
        "alerts": [
            {"x": axis.x(at), "title": f"Alert at {at.astimezone(tz):%H:%M}: {words}"}
            for at, words in alerts
        ],
        "rows": [
            {
                "kind": seg.kind,
                "span": span_text(seg.start, seg.end, tz),
                "words": SEGMENT_WORDS[seg.kind],
                "why": RELEASE_WORDS.get(seg.reason, seg.reason) if seg.reason else "",
                "due": f"{seg.due.astimezone(tz):%H:%M}" if seg.due else "",
                "length": _duration(seg.end - seg.start),
            }
            for seg in segments
        ],
        "totals": [
            (words, _duration(totals[kind]))
            for kind, words in SEGMENT_WORDS.items()
            if kind in totals
        ],
    }
