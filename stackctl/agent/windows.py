"""Sync windows: cron-style allow/deny windows with a duration (as Argo CD's sync windows).

A window opens each time its cron expression matches and stays open for `duration`. A stack may
sync when no deny window is open and, if it has allow windows, one of them is open. Pure
functions of a given time (`now`): unit tests pass a fake clock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackctl.agent.config import WindowConfig


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    reason: str = ""  # why not: "deny window '0 16 * * 5' until 2026-12-07 08:00 UTC"
    until: datetime | None = None  # when the blocking window ends (None: unknown / not blocked)


def cron_problem(expression: str) -> str | None:
    """Why a cron expression is not valid (None: it is)."""
    from croniter import croniter

    if len(expression.split()) != 5:
        return "needs five fields"
    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=timezone.utc))
    except (ValueError, KeyError) as err:
        return str(err) or "invalid"
    return None


def last_start(expression: str, now: datetime) -> datetime:
    """The latest time at or before `now` at which `expression` matched."""
    from croniter import croniter

    it = croniter(expression, now + timedelta(seconds=1))
    start: datetime = it.get_prev(datetime)
    return start


def open_until(window: WindowConfig, now: datetime) -> datetime | None:
    """When the window's current opening ends; None when it is closed at `now`."""
    start = last_start(window.cron, now)
    end = start + timedelta(seconds=window.duration)
    return end if start <= now < end else None


def verdict(windows: Sequence[WindowConfig], now: datetime, zone: str = "UTC") -> Verdict:
    """May a stack with these windows sync at `now` (an aware datetime)? `zone`: the crons' time zone."""
    if not windows:
        return Verdict(True)
    import zoneinfo

    local = now.astimezone(zoneinfo.ZoneInfo(zone))
    for window in windows:
        if window.kind == "deny":
            end = open_until(window, local)
            if end is not None:
                return Verdict(False, f"deny window '{window.cron}' until {_show(end)}", end)
    allows = [w for w in windows if w.kind == "allow"]
    if not allows:
        return Verdict(True)
    for window in allows:
        if open_until(window, local) is not None:
            return Verdict(True)
    from croniter import croniter

    starts = [croniter(w.cron, local).get_next(datetime) for w in allows]
    nxt = min(starts)
    return Verdict(False, f"outside the allow windows until {_show(nxt)}", nxt)


def _show(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M %Z").strip()
