"""The short volume syntax `[SOURCE:]TARGET[:OPTIONS]` and the path tests it depends on."""

from __future__ import annotations

import re
from typing import Any

PROPAGATIONS = frozenset(("rprivate", "private", "rshared", "shared", "rslave", "slave"))


def _is_drive(buffer: str) -> bool:
    return len(buffer) == 1 and buffer.isalpha()


def parse_volume_spec(spec: str) -> dict[str, Any]:
    """`[SOURCE:]TARGET[:OPTIONS]` → a long-syntax dict (`type` bind for a path source, else
    volume). A `C:` drive letter is not a separator. Raises ValueError."""
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
    volume: dict[str, Any] = {}
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
            elif option in PROPAGATIONS:
                volume["bind"] = {"propagation": option}
    source = volume.get("source", "")
    volume_type = "bind" if source and is_file_path(source) else "volume"
    return {"type": volume_type, **volume}


def is_file_path(source: str) -> bool:
    """A source that names a host path (a bind mount), not a named volume."""
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) >= 2 and source[0].isalpha() and source[1] == ":"


def is_windows_abs(path: str) -> bool:
    """`C:\\x`, `C:/x` or a UNC path: absolute although it does not start with `/`."""
    return bool(re.match(r"[a-zA-Z]:[\\/]", path)) or path.startswith("\\\\")
