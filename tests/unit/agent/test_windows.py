"""Sync windows on a fake clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from stackctl.agent.config import WindowConfig
from stackctl.agent.windows import cron_problem, verdict

# No syncs from Friday 16:00 to Monday 08:00 (64 h).
WEEKEND = WindowConfig("deny", "0 16 * * 5", 64 * 3600)
OFFICE = WindowConfig("allow", "0 8 * * 1-5", 9 * 3600)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=timezone.utc)  # 2026-12-04 is a Friday


def test_no_windows_always_allowed() -> None:
    assert verdict([], at(4, 17)).allowed


def test_deny_window_holds_from_start_to_end() -> None:
    assert verdict([WEEKEND], at(4, 15, 59)).allowed
    held = verdict([WEEKEND], at(4, 16))
    assert not held.allowed and held.until == at(7, 8)
    assert "deny window '0 16 * * 5'" in held.reason
    assert not verdict([WEEKEND], at(6, 12)).allowed
    assert not verdict([WEEKEND], at(7, 7, 59)).allowed
    assert verdict([WEEKEND], at(7, 8)).allowed


def test_allow_windows() -> None:
    assert verdict([OFFICE], at(3, 9)).allowed
    outside = verdict([OFFICE], at(3, 18))
    assert not outside.allowed and outside.until == at(4, 8)
    assert verdict([OFFICE, WEEKEND], at(4, 15)).allowed
    assert not verdict([OFFICE, WEEKEND], at(4, 16, 30)).allowed


def test_time_zone() -> None:
    # 16:00 in Berlin (UTC+1 in December) is 15:00 UTC.
    assert not verdict([WEEKEND], at(4, 15, 30), "Europe/Berlin").allowed
    assert verdict([WEEKEND], at(4, 15, 30)).allowed


def test_short_window_by_the_minute() -> None:
    now = at(2, 10, 30) + timedelta(seconds=20)
    window = WindowConfig("deny", "30 10 * * *", 30)
    assert not verdict([window], now).allowed
    assert verdict([window], now + timedelta(seconds=11)).allowed


def test_cron_problem() -> None:
    assert cron_problem("0 16 * * 5") is None
    assert cron_problem("0 16 * *") == "needs five fields"
    assert cron_problem("0 25 * * 5")
