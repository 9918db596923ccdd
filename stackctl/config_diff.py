"""Differences between two stack configs in compose terms: the one differ of rendered configs.

`history STACK N M` compares two revisions (they store the rendered compose config, what
`stackctl config` prints) and `diff --env A --against B` two environments' rendered stacks, key
by key: `services.web.deploy.update_config.delay: 2s → 5s`. Mappings are compared per key;
lists element by element, aligned on equal elements, so inserting one constraint shows one
added element instead of every later element changed. (deepdiff is not used here: importing it
costs ~200 ms of numpy and pydantic; it serves the tests' readable parity reports only.)
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

CHANGED, ADDED, REMOVED = "changed", "added", "removed"
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass
class ConfigChange:
    """One difference: the compose key path, the value before and after (None: absent)."""

    path: str
    old: object
    new: object
    change: str  # changed | added | removed

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "change": self.change, "old": self.old, "new": self.new}

    def text(self) -> str:
        if self.change == ADDED:
            return f"+ {self.path}: {format_value(self.new)}"
        if self.change == REMOVED:
            return f"- {self.path}: {format_value(self.old)}"
        return f"~ {self.path}: {format_value(self.old)} → {format_value(self.new)}"


def key_path(path: Sequence[str | int]) -> str:
    """("services", "web", "ports", 0) -> services.web.ports[0]; keys with dots are quoted:
    labels["com.example.x"]."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            out += ("." if out else "") + part
        else:
            out += f"[{json.dumps(part)}]"
    return out


def format_value(value: object) -> str:
    """Scalars as the file writes them (`2s`, `64M`, `true`); lists and mappings as flow JSON."""
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value) if value != "" else '""'
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def diff_configs(old: object, new: object, path: Sequence[str | int] = ()) -> list[ConfigChange]:
    """Every difference between two configs, in document order of `new` (then keys only in `old`)."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out: list[ConfigChange] = []
        for key in list(new) + [k for k in old if k not in new]:
            sub = (*path, str(key))
            if key not in old:
                out.append(ConfigChange(key_path(sub), None, new[key], ADDED))
            elif key not in new:
                out.append(ConfigChange(key_path(sub), old[key], None, REMOVED))
            else:
                out.extend(diff_configs(old[key], new[key], sub))
        return out
    if isinstance(old, list) and isinstance(new, list):
        return _diff_lists(old, new, path)
    if old == new and type(old) is type(new):
        return []
    return [ConfigChange(key_path(path), old, new, CHANGED)]


def _diff_lists(old: list[object], new: list[object], path: Sequence[str | int]) -> list[ConfigChange]:
    """Align equal elements; a replaced run of the same length is compared element by element."""
    keys_old = [json.dumps(v, sort_keys=True, default=str) for v in old]
    keys_new = [json.dumps(v, sort_keys=True, default=str) for v in new]
    out: list[ConfigChange] = []
    matcher = difflib.SequenceMatcher(a=keys_old, b=keys_new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            for k in range(i2 - i1):
                out.extend(diff_configs(old[i1 + k], new[j1 + k], (*path, j1 + k)))
            continue
        out.extend(ConfigChange(key_path((*path, i)), old[i], None, REMOVED) for i in range(i1, i2))
        out.extend(ConfigChange(key_path((*path, j)), None, new[j], ADDED) for j in range(j1, j2))
    return out
