"""Flag values every command checks the same way: --format, --resolve-image (one check, one message each)."""

from __future__ import annotations

from collections.abc import Iterable

from stackctl.errors import UsageError
from stackctl.resolve import RESOLVE_MODES

TABLE_FORMATS = ("table", "json")
LIST_FORMATS = ("table", "wide", "json")  # ps, services, ls, history: `-o wide` as kubectl's
TEXT_FORMATS = ("text", "json")
YAML_FORMATS = ("yaml", "json")


def check_format(fmt: str, allowed: Iterable[str]) -> str:
    """`--format` in lower case, checked against `allowed` (the first is the default rendering).

    `text` and `table` name that default rendering for every command (`text` for `config` is YAML).
    A bad value is a usage error (exit 64) found before any file is read or engine asked.
    """
    allowed = tuple(allowed)
    value = (fmt or "").strip().lower()
    if value in ("text", "table") and value not in allowed:
        return allowed[0]
    if value not in allowed:
        raise UsageError(f"invalid --format {fmt!r} (expected one of: {', '.join(allowed)})")
    return value


def check_resolve_image(mode: str) -> str:
    """`--resolve-image`, checked against `resolve.RESOLVE_MODES` (the layers below assert it).

    A bad value is a usage error (exit 64) found before any file is read or engine asked.
    """
    if mode not in RESOLVE_MODES:
        choices = ", ".join(RESOLVE_MODES[:-1]) + " or " + RESOLVE_MODES[-1]
        raise UsageError(f"invalid --resolve-image {mode!r} ({choices})")
    return mode
