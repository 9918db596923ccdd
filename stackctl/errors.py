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


# EngineError.failure: how an engine call failed (set by stackctl.engine.translate).
REFUSED = "refused"  # the engine answered with an HTTP error: `status` and `reason` say which
DOWN = "down"  # nothing listens (connection refused, no socket): the request was not sent
LOST = "lost"  # the connection broke during the request: whether it took effect is unknown
TIMEOUT = "timeout"  # no answer in time: whether it took effect is unknown
OTHER = "other"  # TLS, bad host, not a manager...


@dataclass
class EngineError(StackctlError):
    """The engine is unreachable, not a manager, or refused a call.

    Code decides on `status` (the HTTP status code: 404 not found, 409 conflict...) and
    `failure`, never on the text; `reason` is the engine's own message, `message` the
    sentence a user reads.
    """

    status: int | None = None
    reason: str = ""
    failure: str = OTHER

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        """409: a name that already exists (the engine's AlreadyExists)."""
        return self.status == 409

    @property
    def connection_failed(self) -> bool:
        """The engine stopped, restarted or went away: rerunning later is the remedy."""
        return self.failure in (DOWN, LOST, TIMEOUT)

    @property
    def unavailable(self) -> bool:
        """A 5xx answer: the engine is there but could not serve the call (a swarm electing a new
        leader answers so for a few seconds); a read may well succeed when asked again."""
        return self.failure == REFUSED and (self.status or 0) >= 500

    def during(self, what: str) -> EngineError:
        """The same failure, told as `cannot <what>: <reason>`."""
        # A lost connection says which engine went away; an engine's refusal, its own reason.
        why = self.message if self.connection_failed else (self.reason or self.message)
        return EngineError(f"cannot {what}: {why}", list(self.diagnostics),
                           self.exit_code, self.status, self.reason, self.failure)


class PlanError(StackctlError):
    """The plan cannot be made or would fail (unsatisfiable constraint, port taken...)."""


class ApplyError(StackctlError):
    """Applying the plan failed; the message says what was done and what was not."""


class LabError(StackctlError):
    """The lab swarm cannot be started or stopped."""
