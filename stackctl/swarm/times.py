"""Engine times: RFC 3339 timestamps with nanoseconds (Go's zero time for "never"), and `--since`."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from stackctl.errors import UsageError
from stackctl.units import parse_duration

_ZERO_TIME_PREFIX = "0001-01-01"
_TS_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$"
)
_UNIX_SECONDS = re.compile(r"\d+(\.\d+)?")


def parse_time(value: str | None) -> datetime | None:
    """Engine timestamp (RFC 3339, nanoseconds) as an aware datetime; None for Go's zero time."""
    if not value or value.startswith(_ZERO_TIME_PREFIX):
        return None
    m = _TS_RE.match(value.strip())
    if not m:
        return None
    date, clock, frac, zone = m.groups()
    micro = (frac or "0")[:6].ljust(6, "0")
    tz = "+00:00" if zone in (None, "Z") else zone
    return datetime.fromisoformat(f"{date}T{clock}.{micro}{tz}").astimezone(timezone.utc)


def epoch(value: str | None) -> float | None:
    """Engine timestamp as epoch seconds (what the rollout wait compares); None for Go's zero time."""
    moment = parse_time(value)
    return moment.timestamp() if moment else None


def format_time(value: datetime | None) -> str | None:
    """UTC, second precision, `Z`: what the JSON output carries."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_since(value: str, now: datetime) -> str:
    """`--since` as the engine wants it (UNIX seconds): a Go duration (`10m`, `1h30m`) counts back
    from `now`; an RFC 3339 time or a UNIX timestamp is taken as is."""
    text = value.strip()
    if _UNIX_SECONDS.fullmatch(text):
        return text
    try:
        seconds = parse_duration(text) / 1e9
    except ValueError:
        pass
    else:
        return f"{now.timestamp() - seconds:.6f}"
    when = parse_time(text if "T" in text else f"{text}T00:00:00Z")
    if when is None:
        raise UsageError(f"invalid --since {value!r} (expected a duration like 10m, an RFC 3339 time "
                         "or a UNIX timestamp)")
    return f"{when.timestamp():.6f}"
