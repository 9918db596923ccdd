"""Key order of the normalised stack, as `docker stack config` prints it.

Struct-like mappings keep a fixed field order (learned from the reference's output);
map-like ones (services, environment, labels, x- content...) are sorted the way Go's
yaml.v3 sorts map keys: runs of digits compare as numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

from stackctl.model.compose import BY_PATH, children


@dataclass(frozen=True)
class Struct:
    """A struct-like mapping: `keys` first in this order (the rest sorted), `sub` for their values."""

    keys: tuple[str, ...]
    sub: Mapping[str, Spec]


@dataclass(frozen=True)
class MapOf:
    """A map-like mapping (sorted keys) whose values are `item`."""

    item: Spec


@dataclass(frozen=True)
class ListOf:
    item: Spec


Spec = Struct | MapOf | ListOf | None  # None: a leaf (any mapping in it is sorted)


def _spec(path: str) -> Spec:
    """The order of the value at `path`, from the compose field registry (model/compose.py)."""
    fields = [row for row in children(path) if row.key not in ("*", "[]") and row.ordered]
    if fields:
        subs = {row.key: _spec(row.path) for row in fields}
        return Struct(tuple(row.key for row in fields), {k: s for k, s in subs.items() if s is not None})
    if path + "[]" in BY_PATH:
        return ListOf(_spec(path + "[]"))
    if path + ".*" in BY_PATH:
        return MapOf(_spec(path + ".*"))
    return None


TOP = _spec("")


def go_key_less(a: str, b: str) -> bool:
    """yaml.v3's map-key order: letters compare as text, digit runs as numbers."""
    digits = False
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            digits = ca.isdigit()
            continue
        al, bl = ca.isalpha(), cb.isalpha()
        if al and bl:
            return ca < cb
        if al or bl:
            return al if digits else bl
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and a[j].isdigit():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdigit():
            an = an * 10 + int(a[ai])
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdigit():
            bn = bn * 10 + int(b[bi])
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)


def _cmp(a: str, b: str) -> int:
    if a == b:
        return 0
    return -1 if go_key_less(a, b) else 1


_KEY = functools.cmp_to_key(_cmp)


def sort_keys(keys: list[str]) -> list[str]:
    return sorted(keys, key=_KEY)


def order(value: object, spec: Spec = TOP) -> object:
    """A copy of `value` with keys in the reference's printing order."""
    if isinstance(value, dict):
        if isinstance(spec, Struct):
            out = {k: order(value[k], spec.sub.get(k)) for k in spec.keys if k in value}
            rest = sort_keys([k for k in value if k not in out])
            for k in rest:
                out[k] = order(value[k], None)
            return out
        item_spec = spec.item if isinstance(spec, MapOf) else None
        return {k: order(value[k], item_spec) for k in sort_keys(list(value))}
    if isinstance(value, list):
        item_spec = spec.item if isinstance(spec, ListOf) else None
        return [order(v, item_spec) for v in value]
    return value


def order_config(config: dict[str, object]) -> dict[str, object]:
    """The whole normalised stack in the reference's printing order."""
    out = order(config)
    if not isinstance(out, dict):
        raise TypeError("order() keeps a mapping a mapping")
    return out
