"""Flag values every command checks the same way: --format (one check, one message)."""

from __future__ import annotations

from collections.abc import Iterable

from stackctl.errors import UsageError

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
