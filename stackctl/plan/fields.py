"""Field-level differences between two normalised specs, as dotted Engine API paths.

`normalize_service` feeds a service spec to the one normaliser with what the observed swarm
knows (network IDs, the engine's API version): the form every service comparison uses.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from stackctl.convert.normalize_spec import normalize_service_spec
from stackctl.load.source import dotted
from stackctl.observe import ObservedStack
from stackctl.plan.model import FieldChange


def value_at(value: Any, path: list[Any]) -> Any:
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


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)


def field_changes(old: Any, new: Any) -> list[FieldChange]:
    """Field-level differences (deepdiff on normalised data); scalar lists are reported whole."""
    if old == new:
        return []  # the common case, without deepdiff's cost
    from deepdiff import DeepDiff

    diff = DeepDiff(old, new, view="tree", verbose_level=2)
    paths: dict[str, list[Any]] = {}
    for _report, levels in diff.items():
        for level in levels:
            path = list(level.path(output_format="list"))
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


def _sort_key(path: list[Any]) -> list[tuple[int, Any]]:
    return [(0, p) if isinstance(p, int) else (1, str(p)) for p in path]


def path_parts(text: str) -> list[Any]:
    parts: list[Any] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text):
        parts.append(int(index) if index else name)
    return parts


def normalize_service(spec: Mapping[str, Any] | None, observed: ObservedStack) -> dict[str, Any]:
    """`spec` through the one normaliser, with what the observed swarm tells it: the network
    name of each ID and the engine's API version (fields it predates are dropped)."""
    network_ids = {name: net_id for net_id, name in observed.network_names.items()}
    return normalize_service_spec(spec or {}, network_ids, api_version=observed.api_version or None)
