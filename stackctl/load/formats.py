"""Short syntax the loader expands: port specs and volume specs (durations and sizes: stackctl.formats)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# --- ports ---------------------------------------------------------------------------------


@dataclass
class PortParse:
    ports: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _port_range(text: str, what: str, spec: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    try:
        low = int(start, 10)
        high = int(end, 10) if sep else low
    except ValueError:
        raise ValueError(f"invalid {what} port in '{spec}'") from None
    if not (0 <= low <= 65535 and 0 <= high <= 65535) or high < low:
        raise ValueError(f"invalid {what} port range in '{spec}'")
    return low, high


def parse_port_spec(spec: str | int) -> PortParse:
    """Short port syntax `[ip:][published[-end]:]target[-end][/proto]` → long-syntax dicts."""
    text = str(spec)
    raw, slash, proto = text.rpartition("/")
    if not slash:
        raw, proto = text, "tcp"
    proto = proto.lower() or "tcp"
    if proto not in ("tcp", "udp", "sctp"):
        raise ValueError(f"invalid protocol '{proto}' in port '{text}'")
    parts = raw.split(":")
    target = parts[-1]
    host_ip, published = "", ""
    if len(parts) == 2:
        published = parts[0]
    elif len(parts) >= 3:
        host_ip, published = ":".join(parts[:-2]), parts[-2]
    if host_ip.startswith("[") and host_ip.endswith("]"):
        host_ip = host_ip[1:-1]
    if not target:
        raise ValueError(f"no port specified in '{text}'")
    t_low, t_high = _port_range(target, "target", text)
    p_low = p_high = 0
    if published:
        p_low, p_high = _port_range(published, "published", text)
        if (t_high - t_low) != (p_high - p_low) and t_high != t_low:
            raise ValueError(f"invalid ranges for target and published ports in '{text}'")
    result = PortParse()
    keys = sorted(range(t_low, t_high + 1), key=lambda p: f"{p}/{proto}")
    for target_port in keys:
        offset = target_port - t_low
        if published and t_low == t_high and p_low != p_high:
            published_ports = list(range(p_low, p_high + 1))
        elif published:
            published_ports = [p_low + offset]
        else:
            published_ports = [0]
        for pub in published_ports:
            entry = {"mode": "ingress", "target": target_port}
            if pub:
                entry["published"] = pub
            entry["protocol"] = proto
            result.ports.append(entry)
        if host_ip and host_ip != "0.0.0.0":
            if published and t_low == t_high and p_low != p_high:
                shown = f"{p_low}-{p_high}"
            else:
                shown = str(p_low + offset) if published else ""
            result.warnings.append(
                f"ignoring IP-address ({host_ip}:{shown}:{target_port}/{proto}) "
                "service will listen on '0.0.0.0'"
            )
    return result


# --- volumes -------------------------------------------------------------------------------

_PROPAGATIONS = frozenset(("rprivate", "private", "rshared", "shared", "rslave", "slave"))


def _is_drive(buffer: str) -> bool:
    return len(buffer) == 1 and buffer.isalpha()


def parse_volume_spec(spec: str) -> dict:
    """Short volume syntax `[source:]target[:options]` → a long-syntax dict. Raises ValueError."""
    if not spec:
        raise ValueError("invalid empty volume spec")
    if len(spec) <= 2:
        return {"type": "volume", "target": spec}
    fields: list[str] = []
    buffer = ""
    for char in spec:
        if char == ":" and _is_drive(buffer):
            buffer += char
        elif char == ":":
            fields.append(buffer)
            buffer = ""
        else:
            buffer += char
    fields.append(buffer)
    if any(not f for f in fields):
        raise ValueError(f"invalid spec: {spec}: empty section between colons")
    if len(fields) > 3:
        raise ValueError(f"invalid spec: {spec}: too many colons")
    volume: dict = {}
    if len(fields) == 1:
        volume["target"] = fields[0]
    else:
        volume["source"], volume["target"] = fields[0], fields[1]
    if len(fields) == 3:
        for option in fields[2].split(","):
            if option == "ro":
                volume["read_only"] = True
            elif option == "rw":
                volume.pop("read_only", None)
            elif option == "nocopy":
                volume["volume"] = {"nocopy": True}
            elif option in _PROPAGATIONS:
                volume["bind"] = {"propagation": option}
    source = volume.get("source", "")
    volume_type = "bind" if source and is_file_path(source) else "volume"
    return {"type": volume_type, **volume}


def is_file_path(source: str) -> bool:
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) >= 2 and source[0].isalpha() and source[1] == ":"


def is_windows_abs(path: str) -> bool:
    return bool(re.match(r"[a-zA-Z]:[\\/]", path)) or path.startswith("\\\\")
