"""The clock's trust: a jump or a lost synchronisation suspends the schedule's
releases until the clock is synchronised again.
"""

from __future__ import annotations

from locker import events as ev
from locker.clock import Instant
from locker.custody.base import RulesBase
from locker.decisions import Outcome


class ClockTrust(RulesBase):
    """Whether the wall clock can be trusted for schedule releases."""

    def _synchronised(self, now: Instant) -> bool:
        """Synchronised since boot, and since the last jump."""
        return now.synced_at is not None and (
            self.jumped_at is None or now.synced_at >= self.jumped_at
        )

    def _check_clock(self, now: Instant, out: Outcome) -> None:
        last = self.last_instant
        drift = (now.wall - last.wall).total_seconds() - (now.mono - last.mono)
        if abs(drift) > self.rules.clock_jump_tolerance_s:
            self.jumped_at = now.mono
            out.log(
                ev.CLOCK_JUMP,
                actor="daemon",
                seconds=round(drift, 3),
                before=last.wall.isoformat(),
                after=now.wall.isoformat(),
                mono=now.mono,
            )
            if self.clock_trusted:
                self.clock_trusted = False
                out.alert(
                    ev.ALERT_CLOCK,
                    f"The clock jumped by {drift:+.0f} s: schedule "
                    "releases are suspended until it is synchronised again.",
                    seconds=round(drift, 3),
                )
            return
        synced = self._synchronised(now)
        if synced and not self.clock_trusted:
            self.clock_trusted = True
            # Moments that passed while the clock was not trusted are not acted on.
            self.schedule_from = now.wall
            out.log(ev.CLOCK_SYNCHRONISED, actor="daemon")
        elif not synced and self.clock_trusted:
            self.clock_trusted = False
            out.log(ev.CLOCK_UNSYNCHRONISED, actor="daemon")
            out.alert(
                ev.ALERT_CLOCK, "The clock lost synchronisation: schedule releases are suspended."
            )
