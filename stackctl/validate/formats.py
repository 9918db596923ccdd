"""Parsers for the value formats of stack files: Go durations, byte sizes, CPUs, port specs.

Each `parse_*` returns the parsed value or raises ValueError with a short reason; the
`is_*` wrappers are the JSON-schema format checkers. Pure Python, no imports of note.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_DURATION_UNITS = {
    "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
    "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_BYTES = re.compile(r"^(\d+(?:\.\d*)?|\.\d+) ?([kmgtp]?(?:i?b)?)$", re.IGNORECASE)
_BYTE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
PROTOCOLS = ("tcp", "udp", "sctp")


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds: `1m30s`, `1.5h`, `250ms`, `0`."""
    if not isinstance(text, str):
        raise ValueError("a duration must be a string such as 30s")
    s = text
    sign = 1
    if s[:1] in "+-" and s:
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError("empty duration")
    total = Decimal(0)
    pos = 0
    while pos < len(s):
        match = _DURATION_PART.match(s, pos)
        if not match:
            if re.match(r"(\d+\.?\d*|\.\d+)$", s[pos:]):
                raise ValueError(f"missing unit in duration {text!r}: use ns, us, ms, s, m or h")
            raise ValueError(f"invalid duration {text!r}")
        total += Decimal(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * int(total)


def parse_bytes(value: str | int | float) -> int:
    """go-units RAMInBytes: `512M`, `1.5g`, `10MB`, `1024` (always base 1024)."""
    if isinstance(value, bool):
        raise ValueError("a byte size must be a number or a string such as 512M")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("a byte size cannot be negative")
        return int(value)
    match = _BYTES.match(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"invalid byte size {value!r}, use e.g. 512M, 1.5G or 1024")
    unit = match.group(2).lower()[:1] if match.group(2).lower() not in ("b", "") else ""
    return int(Decimal(match.group(1)) * _BYTE_UNITS[unit])


def parse_cpus(value: str | int | float) -> int:
    """A CPU count as NanoCPUs: `"0.5"` -> 500000000 (at most 9 decimals, as the CLI)."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"invalid CPU count {value!r}, use e.g. \"0.5\" or \"2\"") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"invalid CPU count {value!r}")
    nanos = amount * 1_000_000_000
    if nanos != nanos.to_integral_value():
        raise ValueError(f"CPU count {value!r} is too precise: at most 9 decimals")
    return int(nanos)


@dataclass(frozen=True)
class PortSpec:
    """One short-syntax port mapping, before ranges are expanded."""

    host_ip: str
    published: tuple[int, int] | None  # (start, end), None when not published
    target: tuple[int, int]
    protocol: str


def _port_range(text: str, what: str) -> tuple[int, int]:
    if not text:
        raise ValueError(f"empty {what} port")
    start_s, _, end_s = text.partition("-")
    bounds = []
    for part in (start_s, end_s or start_s):
        if not part.isdigit():
            raise ValueError(f"invalid {what} port {text!r}")
        number = int(part)
        if number > 65535:
            raise ValueError(f"{what} port {number} is out of range 1-65535")
        bounds.append(number)
    if bounds[1] < bounds[0]:
        raise ValueError(f"invalid {what} port range {text!r}: end before start")
    return bounds[0], bounds[1]


def parse_port_spec(value: str | int) -> PortSpec:
    """`[IP:][PUBLISHED[-END]:]TARGET[-END][/PROTOCOL]`, as nat.ParsePortSpec reads it."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("a port must be a number or a string such as \"8080:80\"")
    text = str(value)
    spec, _, rest = text.partition("/")
    protocol = rest.split("/")[0] or "tcp"
    if not spec:
        raise ValueError("no port given")
    if protocol.lower() not in PROTOCOLS:
        raise ValueError(f"invalid protocol {protocol!r}, use tcp, udp or sctp")
    parts = spec.split(":")
    host_ip, published_s = "", ""
    target_s = parts[-1]
    if len(parts) == 2:
        published_s = parts[0]
    elif len(parts) > 2:
        host_ip = ":".join(parts[:-2])
        published_s = parts[-2]
        address = host_ip[1:-1] if host_ip.startswith("[") and host_ip.endswith("]") else host_ip
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise ValueError(f"invalid IP address {host_ip!r}") from None
    target = _port_range(target_s, "target")
    published = _port_range(published_s, "published") if published_s else None
    if published and target[1] != target[0] and published[1] - published[0] != target[1] - target[0]:
        raise ValueError("published and target port ranges differ in size")
    return PortSpec(host_ip, published, target, protocol.lower())


def _checker(parse):  # type: ignore[no-untyped-def]
    def check(value: object) -> bool:
        try:
            parse(value)
        except (ValueError, TypeError):
            return False
        return True

    return check


def is_duration(value: object) -> bool:
    return not isinstance(value, str) or _checker(parse_duration)(value)


def is_bytes(value: object) -> bool:
    return not isinstance(value, (str, int, float)) or _checker(parse_bytes)(value)


def is_ports(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return True
    return _checker(parse_port_spec)(value)


def format_reason(fmt: str, value: object) -> str | None:
    """Why `value` fails format `fmt`, for the hint of a schema diagnostic."""
    parse = {"duration": parse_duration, "bytes": parse_bytes, "ports": parse_port_spec}.get(fmt)
    if parse is None:
        return None
    try:
        parse(value)  # type: ignore[operator]
    except (ValueError, TypeError) as err:
        return str(err)
    return None
