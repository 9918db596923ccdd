"""Values as the Engine API wants them: Go strings (durations, sizes, CPUs: stackctl.units; image
references: stackctl.images).

Each parser raises `ValueError` with a user-facing message; the converter turns it into a
diagnostic carrying the key path.
"""

from __future__ import annotations


def go_string(value: object) -> str:
    """How a YAML scalar reads as a Go string (`true`, `1.5`, `42`), for labels, options, env."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
