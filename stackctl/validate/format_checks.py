"""The JSON-schema format checkers (`duration`, `bytes`, `ports`) and the reason a value fails.

Only adapters: the grammars live in `stackctl.units` and `stackctl.syntax.ports`, so what the
schema accepts is exactly what load expands and convert sends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackctl.syntax.ports import parse_port_spec
from stackctl.units import parse_bytes, parse_duration


def _passes(parse: Callable[[Any], object], value: object) -> bool:
    try:
        parse(value)
    except (ValueError, TypeError):
        return False
    return True


def is_duration(value: object) -> bool:
    return not isinstance(value, str) or _passes(parse_duration, value)


def is_bytes(value: object) -> bool:
    return not isinstance(value, (str, int, float)) or _passes(parse_bytes, value)


def is_ports(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return True
    return _passes(parse_port_spec, value)


def format_reason(fmt: str, value: object) -> str | None:
    """Why `value` fails format `fmt`, for the hint of a schema diagnostic."""
    parse: Callable[[Any], object] | None = {
        "duration": parse_duration, "bytes": parse_bytes, "ports": parse_port_spec}.get(fmt)
    if parse is None:
        return None
    try:
        parse(value)
    except (ValueError, TypeError) as err:
        return str(err)
    return None
