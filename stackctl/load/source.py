"""A parsed stack file with the line of every key, so later stages can say FILE:LINE."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

KeyPath = tuple[str | int, ...]


@dataclass
class SourceDoc:
    """One input file after YAML parsing (and interpolation, unless skipped).

    `lines` maps a key path such as ("services", "web", "ports", 0) to the 1-based line
    where that key (or list item) starts in the file.
    """

    filename: str  # as the user gave it; "-" becomes "<stdin>"
    data: dict[str, Any]
    lines: dict[KeyPath, int] = field(default_factory=dict)
    version: str = "3.13"  # normalised: a missing version reads as "3.13"
    # no `version:` key: a Compose Specification file (docs/ordering.md), checked against
    # schemas/compose-spec.json; its model is still the 3.13 one
    spec: bool = False

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p:
            if p in self.lines:
                return self.lines[p]
            p = p[:-1]
        return None

    def has(self, path: Sequence[str | int]) -> bool:
        return tuple(path) in self.lines


def dotted(path: Sequence[str | int]) -> str:
    """("services", "web", "ports", 0) -> "services.web.ports[0]"."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def locate(docs: Sequence[SourceDoc], path: Sequence[str | int]) -> tuple[str | None, int | None]:
    """File and line that define `path` in a merged stack: the last file that has it wins."""
    for doc in reversed(docs):
        if doc.has(path):
            return doc.filename, doc.lines[tuple(path)]
    for doc in reversed(docs):
        line = doc.line_of(path)
        if line is not None:
            return doc.filename, line
    return (docs[0].filename if docs else None), None
