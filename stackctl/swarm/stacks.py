"""A stack's objects in the swarm: the engine filters that select them, their names and order."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from stackctl.names import NAMESPACE_LABEL


def stack_filters(stack: str, extra: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """Engine filters selecting the stack's objects (plus the user's own, ANDed by the engine)."""
    filters = {k: list(v) for k, v in (extra or {}).items()}
    filters.setdefault("label", []).append(f"{NAMESPACE_LABEL}={stack}")
    return filters


def object_name(obj: Mapping[str, object]) -> str:
    """Name of a service, secret, config (under Spec) or network (top level)."""
    spec = obj.get("Spec")
    spec_name = spec.get("Name") if isinstance(spec, Mapping) else None
    return str(obj.get("Name") or spec_name or obj.get("ID", ""))


def natural_key(text: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that orders `web.2` before `web.10`."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", text) if part != "")
