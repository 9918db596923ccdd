"""swarm/times.py: one engine-time parser; `--since` through units.py's Go-duration parser."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from stackctl.errors import UsageError
from stackctl.swarm.times import epoch, format_time, parse_since, parse_time

NOW = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)


def test_parse_time_and_epoch_agree() -> None:
    moment = parse_time("2026-11-25T16:48:42.940017961Z")
    assert moment is not None and format_time(moment) == "2026-11-25T16:48:42Z"
    assert epoch("2026-11-25T16:48:42.940017961Z") == pytest.approx(moment.timestamp())
    assert parse_time("0001-01-01T00:00:00Z") is None and epoch(None) is None


@pytest.mark.parametrize(("value", "seconds_back"), [("10m", 600), ("1h30m", 5400), ("1.5s", 1.5),
                                                     ("250ms", 0.25)])
def test_since_durations_count_back_from_now(value: str, seconds_back: float) -> None:
    assert float(parse_since(value, NOW)) == pytest.approx(NOW.timestamp() - seconds_back)


def test_since_times_and_bad_values() -> None:
    assert parse_since("1714564800", NOW) == "1714564800"
    assert float(parse_since("2024-05-01", NOW)) == NOW.timestamp() - 12 * 3600
    with pytest.raises(UsageError):
        parse_since("10x", NOW)


def test_no_second_duration_parser() -> None:
    import stackctl.swarm.times as times
    from stackctl import units

    assert times.parse_duration is units.parse_duration
    assert not [n for n in vars(times) if "DURATION" in n.upper() and n != "parse_duration"]
