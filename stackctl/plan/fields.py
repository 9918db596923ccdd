"""Field-level differences between two normalised specs, as dotted Engine API paths.

`normalize_service` feeds a service spec to the one normaliser with what the observed swarm
knows (network IDs, the engine's API version): the form every service comparison uses.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence

from stackctl.convert.normalize_spec import normalize_service_spec
from stackctl.load.source import dotted
from stackctl.observe import ObservedStack
from stackctl.plan.model import FieldChange

Part = str | int  # a key, or a list index


def value_at(value: object, path: Sequence[Part]) -> object:
    for part in path:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return None
            value = value[part]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
    return value


def _is_scalar_list(value: object) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)


# Two mappings sharing fewer than a third of their keys are reported as one change of the whole
# mapping, not key by key (what plans showed when deepdiff did this: its threshold_to_diff_deeper).
_WHOLE_BELOW = 0.33


def _differences(old: object, new: object, path: list[Part], out: list[list[Part]]) -> None:
    """The paths where two JSON-shaped values differ: a key only one side has, a list index only one
    side has, a scalar (or type) that differs, or a whole mapping (see _WHOLE_BELOW). Lists are
    compared index by index (scalar lists are reported whole by the caller)."""
    if isinstance(old, dict) and isinstance(new, dict):  # no `==` shortcut: 1 == True, yet they differ
        union = len(old.keys() | new.keys())
        if union > 1 and len(old.keys() & new.keys()) / union < _WHOLE_BELOW:
            out.append(path)  # barely a key in common: a different object, shown whole
            return
        for key in old:
            if key in new:
                _differences(old[key], new[key], [*path, key], out)
            else:
                out.append([*path, key])
        out.extend([*path, key] for key in new if key not in old)
    elif isinstance(old, list) and isinstance(new, list):
        for i in range(max(len(old), len(new))):
            if i < len(old) and i < len(new):
                _differences(old[i], new[i], [*path, i], out)
            else:
                out.append([*path, i])
    elif type(old) is not type(new) or old != new:  # 1 and 1.0 or True differ, as in JSON
        out.append(path)


def field_changes(old: object, new: object) -> list[FieldChange]:
    """Field-level differences of two normalised specs; scalar lists are reported whole.

    Our own walk of the JSON data: deepdiff, used here before, imports numpy and pydantic (~200 ms,
    bench/README.md) to tell what a one-service change changed.
    """
    if old == new:
        return []
    found: list[list[Part]] = []
    _differences(old, new, [], found)
    paths: dict[str, list[Part]] = {}
    for path in found:
        for i, part in enumerate(path):
            if isinstance(part, int):
                parent = path[:i]
                if _is_scalar_list(value_at(old, parent)) and _is_scalar_list(value_at(new, parent)):
                    path = parent
                    break
        paths.setdefault(dotted(path), path)
    out = []
    for text, path in sorted(paths.items(), key=lambda kv: _sort_key(kv[1])):
        out.append(FieldChange(text, copy.deepcopy(value_at(old, path)), copy.deepcopy(value_at(new, path))))
    # an aggregated parent hides its children
    kept: list[FieldChange] = []
    for ch in out:
        if any(ch.path.startswith(k.path + ".") or ch.path.startswith(k.path + "[") for k in kept):
            continue
        kept.append(ch)
    return kept


def _sort_key(path: list[Part]) -> list[tuple[int, Part]]:
    return [(0, p) if isinstance(p, int) else (1, str(p)) for p in path]


def path_parts(text: str) -> list[Part]:
    parts: list[Part] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text):
        parts.append(int(index) if index else name)
    return parts


def normalize_service(spec: Mapping[str, object] | None, observed: ObservedStack) -> dict[str, object]:
    """`spec` through the one normaliser, with what the observed swarm tells it: the network
    name of each ID and the engine's API version (fields it predates are dropped)."""
    network_ids = {name: net_id for net_id, name in observed.network_names.items()}
    return normalize_service_spec(spec or {}, network_ids, api_version=observed.api_version or None)
