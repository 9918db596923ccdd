"""The short port syntax `[IP:][PUBLISHED[-END]:]TARGET[-END][/PROTOCOL]`: parse and expand.

One grammar for the schema's `ports` format check (validate) and for the expansion to the
long syntax (load), read the way the reference reads it: the protocol is what follows the
*first* `/` up to any next one (`80/tcp/udp` is tcp, `80/udp/tcp` udp, `80/` tcp), in any
case; a host IP must be an address (brackets allowed for IPv6) and is then ignored with a
warning, as `docker stack deploy` ignores it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

PROTOCOLS = ("tcp", "udp", "sctp")


@dataclass(frozen=True)
class PortSpec:
    """One short-syntax port mapping, before ranges are expanded."""

    host_ip: str
    published: tuple[int, int] | None  # (start, end), None when not published
    target: tuple[int, int]
    protocol: str


@dataclass
class PortExpansion:
    """The long-syntax entries of one short port spec, and warnings for what swarm ignores."""

    ports: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


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


def parse_port_spec(value: object) -> PortSpec:
    """`[IP:][PUBLISHED[-END]:]TARGET[-END][/PROTOCOL]`; ValueError with a short reason."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("a port must be a number or a string such as \"8080:80\"")
    text = str(value)
    spec, _, rest = text.partition("/")
    protocol = rest.split("/")[0].lower() or "tcp"
    if not spec:
        raise ValueError("no port given")
    if protocol not in PROTOCOLS:
        raise ValueError(f"invalid protocol {protocol!r}, use tcp, udp or sctp")
    parts = spec.split(":")
    host_ip, published_s = "", ""
    target_s = parts[-1]
    if len(parts) == 2:
        published_s = parts[0]
    elif len(parts) > 2:
        host_ip = ":".join(parts[:-2])
        published_s = parts[-2]
        if host_ip.startswith("[") and host_ip.endswith("]"):
            host_ip = host_ip[1:-1]
        try:
            ipaddress.ip_address(host_ip)
        except ValueError:
            raise ValueError(f"invalid IP address {host_ip!r}") from None
    target = _port_range(target_s, "target")
    published = _port_range(published_s, "published") if published_s else None
    if published and target[1] != target[0] and published[1] - published[0] != target[1] - target[0]:
        raise ValueError("published and target port ranges differ in size")
    return PortSpec(host_ip, published, target, protocol)


def expand_port_spec(value: object) -> PortExpansion:
    """The long-syntax entries (`mode`, `target`, `published`, `protocol`) `docker stack config`
    prints for one short spec: a range becomes one entry per port, a published range for one
    target one entry per published port. ValueError as `parse_port_spec`."""
    spec = parse_port_spec(value)
    (t_low, t_high), proto = spec.target, spec.protocol
    result = PortExpansion()
    # The reference walks a Go map keyed "PORT/PROTO": string order, so 10000 sorts before 9000.
    for target in sorted(range(t_low, t_high + 1), key=lambda p: f"{p}/{proto}"):
        offset = target - t_low
        if spec.published is None:
            published: list[int] = [0]
        elif t_low == t_high:
            published = list(range(spec.published[0], spec.published[1] + 1))
        else:
            published = [spec.published[0] + offset]
        for pub in published:
            entry: dict[str, Any] = {"mode": "ingress", "target": target}
            if pub:
                entry["published"] = pub
            entry["protocol"] = proto
            result.ports.append(entry)
        if spec.host_ip and spec.host_ip != "0.0.0.0":
            if spec.published is None:
                shown = ""
            elif len(published) > 1:
                shown = f"{spec.published[0]}-{spec.published[1]}"
            else:
                shown = str(published[0])
            result.warnings.append(f"ignoring IP-address ({spec.host_ip}:{shown}:{target}/{proto}) "
                                   "service will listen on '0.0.0.0'")
    return result
