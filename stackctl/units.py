"""The value grammars every stage shares: Go durations, go-units byte sizes, CPU counts.

One implementation, so that what `validate` accepts is exactly what `load` normalises and
`convert` sends. Each parser raises ValueError with a short, user-facing reason.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_NS_PER_UNIT = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile("(\\d+\\.?\\d*|\\.\\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")
_BARE_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)$")
_BARE_SECONDS = re.compile(r"\d+(\.\d+)?$")  # a --timeout of plain seconds: 45, 2.5


def parse_duration(value: Any) -> int:
    """Go's time.ParseDuration, in nanoseconds: `1m30s`, `1.5h`, `250ms`, `-2s`, `0`.

    A non-bool int is taken as nanoseconds already (a converted spec read back).
    """
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("a duration must be a string such as 30s")
    if isinstance(value, int):
        return value
    text = value.strip()
    body = text
    sign = 1
    if body[:1] in ("+", "-"):
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if body == "0":
        return 0
    if not body:
        raise ValueError(f'invalid duration "{text}"')
    total: int | Fraction = 0
    pos = 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if not match:
            if _BARE_NUMBER.match(body, pos):
                raise ValueError(f'missing unit in duration "{text}" (use ns, us, ms, s, m or h)')
            raise ValueError(f'invalid duration "{text}"')
        number, unit = match.groups()
        # Fractions only where needed: they cost more than the rest of the parse.
        total += (int(number) if number.isdigit() else Fraction(number)) * _NS_PER_UNIT[unit]
        pos = match.end()
    return sign * int(total)  # Go truncates fractional nanoseconds


def format_duration(ns: int) -> str:
    """Go's Duration.String(): `1h30m0s`, `1m0s`, `1.5s`, `10ms`, `0s`."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("\u00b5s", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _decimal(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _decimal(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _decimal(value: int, unit: int) -> str:
    whole, frac = divmod(value, unit)
    if not frac:
        return str(whole)
    width = len(str(unit)) - 1
    return f"{whole}.{str(frac).rjust(width, '0').rstrip('0')}"


_SIZE = re.compile(r"^(\d+(?:\.\d+)?|\.\d+) ?([kmgtp]?)(b|ib)?$", re.IGNORECASE)
_SIZE_NUMBER = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)")
_SIZE_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(value: Any) -> int:
    """go-units RAMInBytes: `512m`, `1.5g`, `10MB`, `100b` (always base 1024), or a plain count."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("a byte size must be a number or a string such as 512M")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a byte size cannot be negative")
        return int(value)
    text = value.strip()
    match = _SIZE.match(text)
    if not match:
        number = _SIZE_NUMBER.match(text)
        if not number:
            raise ValueError(f"invalid size: '{text}'")
        raise ValueError(f"invalid suffix: '{text[number.end():].strip()}'")
    return int(Fraction(match.group(1)) * _SIZE_FACTORS[match.group(2).lower()])


def parse_cpus(value: Any) -> int:
    """A decimal CPU count (`"0.5"`) in NanoCPUs; more than 9 decimals is an error, as in the CLI."""
    text = str(value).strip()
    try:
        if "/" in text:
            raise ValueError(text)
        amount = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f'invalid cpus value "{text}" (use e.g. "0.5" or "2")') from None
    if amount < 0:
        raise ValueError(f'invalid cpus value "{text}": cannot be negative')
    nano = amount * 1_000_000_000
    if nano.denominator != 1:
        raise ValueError(f'invalid cpus value "{text}": value is too precise (at most 9 decimals)')
    return int(nano)


def format_cpus(nanos: int) -> str:
    """NanoCPUs as the decimal CPU count a file writes: 1500000000 -> `1.5`."""
    return _decimal(nanos, 1_000_000_000)


_SIZE_UNITS = tuple(sorted(((u, f) for u, f in _SIZE_FACTORS.items() if u), key=lambda uf: -uf[1]))  # p .. k
_SIZE_SUFFIX = re.compile(r"^\s*[\d.]+\s*([kmgtpKMGTP])((?:[iI])?[bB])?\s*$")


def format_bytes(size: int, like: str | None = None) -> str:
    """A byte count in the suffix of `like` (a file's `64M`, `1GiB`) when exact, else in the largest
    exact one (`64M`), else plain."""
    match = _SIZE_SUFFIX.match(like) if like is not None else None
    if match:
        factor = dict(_SIZE_UNITS)[match.group(1).lower()]
        if size % factor == 0:
            return f"{size // factor}{match.group(1)}{match.group(2) or ''}"
    for unit, factor in _SIZE_UNITS:
        if size and size % factor == 0:
            return f"{size // factor}{unit.upper()}"
    return str(size)


def parse_timeout(text: str | float | int) -> float:
    """A --timeout-like flag in seconds: a Go duration (`10m`, `1h30m`, `500ms`) or bare seconds.

    Here rather than in apply/: a deploy parses its flags before it knows whether it will wait.
    """
    from stackctl.errors import UsageError

    if isinstance(text, int | float):
        return float(text)
    s = text.strip()
    if _BARE_SECONDS.match(s):
        return float(s)
    try:
        return parse_duration(s) / 1e9
    except ValueError:
        raise UsageError(f"invalid duration {text!r} (use e.g. 90s, 10m, 1h30m)") from None


def elapsed(seconds: float) -> str:
    """A short age, the one formatter for every age stackctl shows (ps's CURRENT STATE, the lock's
    holder, the deploy's lock wait, the agent's status page): a unit is kept until two of the next
    one have passed: `90s` under two minutes, `5m` under two hours, `30h` under two days, `400d`
    under two years, then `3y`. A negative age (clock skew) reads as `0s`."""
    whole = max(0, int(seconds))
    for unit, size, below in (("s", 1, 120), ("m", 60, 7200), ("h", 3600, 48 * 3600),
                              ("d", 86400, 2 * 365 * 86400)):
        if whole < below:
            return f"{whole // size}{unit}"
    return f"{whole // (365 * 86400)}y"


def elapsed_words(seconds: float) -> str:
    """An age in the docker CLI's words ("2 minutes", "About an hour"): ps's long CURRENT STATE
    (`--no-trunc`), as `docker service ps` says it; `elapsed` is the short form."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = secs // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds // 3600) // 24 // 365} years"
