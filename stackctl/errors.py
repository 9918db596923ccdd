"""One error type per pipeline stage; the CLI turns them into messages and exit codes.

This module is a leaf: it imports nothing heavy, so every stage (and the CLI's fast
paths) can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Exit codes shared by every command (documented in docs/exit-codes.md).
EXIT_OK = 0
EXIT_ERROR = 1  # invalid input, engine error, stack not found
# Bad flags/arguments: 64 (EX_USAGE of sysexits.h), not click's 2, which `diff` uses for "changes":
# a mistyped flag in CI must never read as "the plan has changes" (cli.py applies it to click's own).
EXIT_USAGE = 64
EXIT_CHANGES = 2  # `diff` only: the plan has changes (terraform -detailed-exitcode)
EXIT_DEPLOY_FAILED = 3  # a service failed to converge (tasks failing, update paused)
EXIT_ROLLED_BACK = 4  # the swarm (or --rollback-on-failure) rolled the deploy back
EXIT_TIMEOUT = 5  # --timeout passed before convergence
EXIT_INTERRUPTED = 130  # Ctrl-C / SIGTERM


@dataclass(frozen=True)
class Diagnostic:
    """One problem, located: `FILE:LINE: key.path: message (hint)`."""

    message: str
    file: str | None = None
    line: int | None = None
    path: str = ""
    hint: str | None = None
    severity: str = "error"  # "error" | "warning"

    def format(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        key = f"{self.path}: " if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}{prefix}{key}{self.message}{hint}"

    def to_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass
class StackctlError(Exception):
    """Base of every error a user may see. Never shown with a traceback."""

    message: str = ""
    diagnostics: list[Diagnostic] = field(default_factory=list)
    exit_code: int = EXIT_ERROR

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message or "\n".join(d.format() for d in self.diagnostics)

    def lines(self) -> list[str]:
        """What the user reads, one problem per line."""
        out = [d.format() for d in self.diagnostics]
        if self.message and (not out or self.message not in out):
            out.insert(0, self.message)
        return out


class UsageError(StackctlError):
    """Bad command line (flags, arguments)."""

    def __init__(self, message: str = "", diagnostics: list[Diagnostic] | None = None) -> None:
        super().__init__(message, diagnostics or [], EXIT_USAGE)


class LoadError(StackctlError):
    """A file could not be read, parsed, interpolated or merged."""


class ValidationError(StackctlError):
    """The stack file is well-formed YAML but wrong: schema or meaning."""


class ConvertError(StackctlError):
    """The validated stack cannot be expressed as Engine API objects."""


class EngineError(StackctlError):
    """The engine is unreachable, not a manager, or refused a call."""


class PlanError(StackctlError):
    """The plan cannot be made or would fail (unsatisfiable constraint, port taken...)."""


class ApplyError(StackctlError):
    """Applying the plan failed; the message says what was done and what was not."""


class LabError(StackctlError):
    """The lab swarm cannot be started or stopped."""
