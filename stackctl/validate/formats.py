"""Format checks for the schema: port specs here; durations, sizes and CPUs from stackctl.formats.

Each `parse_*` returns the parsed value or raises ValueError with a short reason; the
`is_*` wrappers are the JSON-schema format checkers. Pure Python, no imports of note.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from stackctl.formats import parse_bytes, parse_cpus, parse_duration

PROTOCOLS = ("tcp", "udp", "sctp")


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


__all__ = ["PROTOCOLS", "PortSpec", "format_reason", "is_bytes", "is_duration", "is_ports", "parse_bytes",
           "parse_cpus", "parse_duration", "parse_port_spec"]


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
