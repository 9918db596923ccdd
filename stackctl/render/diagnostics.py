"""Errors and warnings as the user reads them: one line per problem, or JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

from stackctl.errors import Diagnostic, StackctlError


def print_error(err: StackctlError, fmt: str = "text") -> None:
    """Print an error to stderr (text) or stdout (json: the same facts as data)."""
    if fmt == "json":
        doc = {
            "schema": "stackctl.error/v1",
            "ok": False,
            "error": err.message or None,
            "kind": type(err).__name__,
            "diagnostics": [d.to_json() for d in err.diagnostics],
        }
        print(json.dumps(doc, indent=2))
        return
    located = {d.format() for d in err.diagnostics}
    for line in err.lines():
        # A located diagnostic (FILE:LINE: ...) reads as it is; the error's own message gets `error: `.
        plain = line in located and (":" in line or line.startswith(("error", "warning")))
        print(line if plain or line.startswith(("error", "warning")) else f"error: {line}", file=sys.stderr)


def print_warnings(warnings: Iterable[Diagnostic]) -> None:
    """Warnings never change the exit code; they go to stderr."""
    for w in warnings:
        print(w.format(), file=sys.stderr)
