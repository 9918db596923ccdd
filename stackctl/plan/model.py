"""The plan's data: field changes, actions and the plan itself (what diff renders, apply runs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stackctl.errors import Diagnostic, PlanError
from stackctl.names import descope
from stackctl.observe import ObservedStack
from stackctl.plan.compose_terms import ComposeChange
from stackctl.plan.digests import short_digest

CREATE, UPDATE, REMOVE, UNCHANGED = "create", "update", "remove", "unchanged"
KEPT = "kept"  # an object the files no longer have, left in place without --prune (Plan.kept)
KIND_ORDER = ("network", "secret", "config", "service")


@dataclass
class FieldChange:
    """One changed field: Engine API path (dotted), old and new value, and whether it drifted.

    `drift` is true when the live value is not what stackctl last applied: the field was
    changed on the swarm outside the file (deploy sets it back).
    """

    path: str
    old: object
    new: object
    drift: bool = False

    def to_json(self) -> dict[str, object]:
        """The stackctl.diff/v2 change shape; a field of a network, secret or config has no
        compose path and keeps the engine's value."""
        return {"compose_path": None, "engine_path": self.path, "path": self.path, "file": None,
                "line": None, "old": self.old, "new": self.new, "element": False, "drift": self.drift}


@dataclass
class Action:
    """What deploy will do to one object. `desired` is never rendered (secrets carry Data)."""

    kind: str  # network | secret | config | service
    name: str
    action: str  # create | update | remove | unchanged
    changes: list[FieldChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    drift: bool = False
    id: str | None = None
    version: int | None = None
    desired: dict[str, Any] | None = None  # spec/body to send
    current: dict[str, Any] | None = None  # the engine's spec now
    digest: str | None = None  # services: spec digest; secrets/configs: content digest
    image_changed: bool = True  # services: the compose image differs from the deployed one
    # services: `changes` said in compose keys, the files' units and FILE:LINE (what people read)
    compose: list[ComposeChange] = field(default_factory=list)
    # services: compose keys holding sensitive values (plan/sensitive.py); the apply labels them
    sensitive_keys: tuple[str, ...] = ()

    @property
    def writes(self) -> bool:
        return self.action in (CREATE, UPDATE, REMOVE)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "id": self.id,
            "version": self.version,
            "drift": self.drift,
            "changes": [c.to_json() for c in (self.compose if self.compose else self.changes)],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }
        if self.kind in ("secret", "config"):
            out["digest"] = short_digest(self.digest) if self.digest else None
        elif self.kind == "service":
            out["spec_digest"] = self.digest
        return out


@dataclass
class Plan:
    """Ordered actions plus the problems found before any write."""

    stack: str
    actions: list[Action] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    prune: bool = False
    observed: ObservedStack | None = None
    # "secrets"/"configs" -> base name (STACK_key or name:) -> the version the services will use
    versions: dict[str, dict[str, str]] = field(default_factory=dict)
    # objects of the stack the files no longer have, left in place (no --prune): action KEPT,
    # never in `actions` (apply writes nothing for them); with --prune they are REMOVE actions
    kept: list[Action] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {CREATE: 0, UPDATE: 0, REMOVE: 0, UNCHANGED: 0}
        for a in self.actions:
            out[a.action] += 1
        out[KEPT] = len(self.kept)
        return out

    def drop(self, action: Action) -> None:
        """An object the files no longer have: removed with --prune, else listed as kept."""
        if self.prune:
            self.actions.append(action)
        else:
            action.action = KEPT
            self.kept.append(action)

    @property
    def has_changes(self) -> bool:
        return any(a.writes for a in self.actions)

    def by_kind(self, kind: str, *actions: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind and (not actions or a.action in actions)]

    def action_for(self, kind: str, name: str) -> Action | None:
        for a in self.actions:
            if a.kind == kind and a.name == name:
                return a
        return None

    def check(self, *, would: bool = False) -> None:
        """Raise PlanError when a blocking problem was found. `would`: said by `diff`, which changes
        nothing anyway: "deploy would fail: ..." rather than "nothing was changed"."""
        if self.errors:
            n = len(self.errors)
            problems = f"the plan for stack {self.stack} has {n} blocking problem{'s' if n > 1 else ''}"
            raise PlanError(f"deploy would fail: {problems}" if would else f"{problems}; nothing was changed",
                            list(self.errors))

    def to_json(self) -> dict[str, object]:
        return {
            "stack": self.stack,
            "changes": self.has_changes,
            "summary": self.counts(),
            "actions": [a.to_json() for a in self.actions],
            "kept": [{"kind": a.kind, "name": a.name, "id": a.id} for a in self.kept],
            "warnings": [d.to_json() for d in self.warnings],
            "errors": [d.to_json() for d in self.errors],
        }


def short_name(full: str, stack: str) -> str:
    return descope(stack, full)
