"""An environment of many swarms, as stackctl.yml says it: targets, waves, bake, gates, on_failure.

Plain data resolved from the project file (stackctl/project.py), checked by meaning with FILE:LINE
(the schema, schemas/stackctl-project.json, checked the shapes already):

- a target has its own `host`/`context` (one of them), `labels`, and `files`/`env_files`/
  `variables` that come after the environment's (which come after the project's);
- a wave selects targets by `targets:` (names) and/or `labels:` (all must match); every target is
  in exactly one wave, and a wave selects at least one target;
- without `rollout:` the targets go one by one, in the order listed (one wave each).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackctl.errors import Diagnostic, UsageError, ValidationError

if TYPE_CHECKING:
    from stackctl.project import EnvironmentTarget, Project

STOP, ROLLBACK_WAVE, ROLLBACK_ALL = "stop", "rollback_wave", "rollback_all"
POLICIES = (STOP, ROLLBACK_WAVE, ROLLBACK_ALL)
DEFAULT_GATE_TIMEOUT = 30.0


@dataclass(frozen=True)
class Target:
    """One swarm of the environment, resolved: what `deploy --env` would use for it alone."""

    name: str
    env: EnvironmentTarget  # files, env_files, variables, host/context of this swarm
    labels: Mapping[str, str] = field(default_factory=dict)
    where: str = ""  # FILE:LINE of the target's entry

    @property
    def swarm(self) -> str:
        """How the target's swarm is named in messages: its host or context."""
        if self.env.context:
            return f"context {self.env.context}"
        return self.env.host or "the shell's DOCKER_HOST"


@dataclass(frozen=True)
class Gate:
    """A check after the bake: `http` (a URL answering 2xx) or `command` (exit 0)."""

    kind: str  # "http" | "command"
    value: str | tuple[str, ...]
    timeout: float = DEFAULT_GATE_TIMEOUT
    where: str = ""

    def describe(self) -> str:
        if self.kind == "http":
            return f"http {self.value}"
        shown = self.value if isinstance(self.value, str) else " ".join(self.value)
        return f"command {shown!r}"


@dataclass(frozen=True)
class Wave:
    number: int  # from 1, in the file's order
    targets: tuple[str, ...]
    max_parallel: int = 1
    bake: float = 0.0  # seconds
    gates: tuple[Gate, ...] = ()
    name: str = ""
    where: str = ""

    @property
    def label(self) -> str:
        return f"wave {self.number}" + (f" ({self.name})" if self.name else "")


@dataclass(frozen=True)
class Rollout:
    """An environment with `targets:`: the swarms and the waves that reach them."""

    env: str
    stack: str
    targets: tuple[Target, ...]
    waves: tuple[Wave, ...]
    on_failure: str = STOP
    project_path: str = ""

    def target(self, name: str) -> Target:
        for t in self.targets:
            if t.name == name:
                return t
        raise KeyError(name)

    def wave_of(self, target: str) -> Wave:
        for w in self.waves:
            if target in w.targets:
                return w
        raise KeyError(target)

    def limited(self, targets: Sequence[str] = (), wave: int | None = None) -> Rollout:
        """The rollout reduced to `--targets a,b` and/or `--wave N` (empty waves dropped)."""
        known = [t.name for t in self.targets]
        for name in targets:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}"
                raise UsageError(f"--targets: environment {self.env!r} has no target {name!r} ({hint})")
        if wave is not None and not 1 <= wave <= len(self.waves):
            raise UsageError(f"--wave {wave}: environment {self.env!r} has waves 1 to {len(self.waves)}")
        waves = []
        for w in self.waves:
            if wave is not None and w.number != wave:
                continue
            chosen = tuple(t for t in w.targets if not targets or t in targets)
            if chosen:
                waves.append(Wave(w.number, chosen, w.max_parallel, w.bake, w.gates, w.name, w.where))
        if not waves:
            raise UsageError("--targets and --wave leave no target to deploy")
        return Rollout(self.env, self.stack, self.targets, tuple(waves), self.on_failure, self.project_path)


def has_targets(project: Project, env: str) -> bool:
    envs = project.doc.data.get("environments") or {}
    return bool((envs.get(env) or {}).get("targets"))


def load_rollout(project: Project, env: str) -> Rollout:
    """The environment's targets and waves; ValidationError (FILE:LINE) for what the schema cannot say."""
    from stackctl.load.source import dotted
    from stackctl.project import EnvironmentTarget, string_values
    base = project.target(env)  # unknown env, stack name and the environment's own paths
    data = (project.doc.data.get("environments") or {}).get(env) or {}
    doc = project.doc
    problems: list[Diagnostic] = []

    def diag(path: tuple[str | int, ...], message: str, hint: str | None = None) -> Diagnostic:
        return Diagnostic(message, project.path, doc.line_of(path), dotted(path), hint)

    def where(path: tuple[str | int, ...]) -> str:
        return f"{project.path}:{doc.line_of(path) or 1}"

    root = ("environments", env)
    if data.get("host") or data.get("context"):
        key = "host" if data.get("host") else "context"
        problems.append(diag((*root, key), f"{key} and targets are exclusive",
                             "name each target's swarm in its entry"))
    targets: list[Target] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(data.get("targets") or []):
        at: tuple[str | int, ...] = (*root, "targets", index)
        name = str(entry.get("name"))
        if name in seen:
            problems.append(diag((*at, "name"), f"target {name!r} is listed twice",
                                 f"first at line {doc.line_of((*root, 'targets', seen[name]))}"))
            continue
        seen[name] = index
        if not entry.get("host") and not entry.get("context"):
            problems.append(diag(at, f"target {name!r} names no swarm", "give it host: or context:"))
        files: list[tuple[str, Any]] = project.paths((*at, "files"), entry.get("files"))
        env_files: list[tuple[str, Any]] = project.paths((*at, "env_files"), entry.get("env_files"))
        for path, p in files + env_files:
            if not os.path.isfile(path):
                problems.append(diag(p, f"no such file: {path}"))
        resolved = EnvironmentTarget(
            name=env, stack=base.stack, files=base.files + [p for p, _ in files],
            env_files=base.env_files + [p for p, _ in env_files],
            variables={**base.variables, **string_values(entry.get("variables"))},
            context=entry.get("context"), host=entry.get("host"))
        targets.append(Target(name, resolved, string_values(entry.get("labels")), where(at)))
    names = [t.name for t in targets]
    rollout = data.get("rollout") or {}
    waves: list[Wave] = []
    placed: dict[str, int] = {}
    for index, entry in enumerate(rollout.get("waves") or []):
        at = (*root, "rollout", "waves", index)
        number = index + 1
        chosen: list[str] = []
        if not entry.get("targets") and not entry.get("labels"):
            problems.append(diag(at, "the wave selects no target", "give it targets: or labels:"))
        for i, name in enumerate(entry.get("targets") or []):
            if name not in names:
                close = difflib.get_close_matches(str(name), names, n=1)
                hint = f"did you mean {close[0]!r}?" if close else f"targets: {', '.join(names)}"
                problems.append(diag((*at, "targets", i), f"no target {name!r}", hint))
            elif name not in chosen:
                chosen.append(name)
        wanted = string_values(entry.get("labels"))
        if wanted:
            by_label = [t.name for t in targets if all(t.labels.get(k) == v for k, v in wanted.items())]
            if entry.get("targets"):  # both: the named targets that also carry the labels
                chosen = [n for n in chosen if n in by_label]
            else:
                chosen = by_label
            if not chosen:
                shown = ", ".join(f"{k}={v}" for k, v in wanted.items())
                problems.append(diag((*at, "labels"), f"no target has the labels {shown}"))
        for name in chosen:
            if name in placed:
                problems.append(diag(at, f"target {name!r} is already in wave {placed[name]}",
                                     "each target goes in one wave"))
            else:
                placed[name] = number
        bake = 0.0
        if entry.get("bake") is not None:
            try:
                bake = _seconds(entry["bake"])
            except ValueError as err:
                problems.append(diag((*at, "bake"), str(err), "a duration such as 2m or 30s"))
        gates: list[Gate] = []
        for g, gate in enumerate(entry.get("gates") or []):
            gp = (*at, "gates", g)
            kinds = [k for k in ("http", "command") if k in gate]
            if len(kinds) != 1:
                problems.append(diag(gp, "a gate is either http: or command:", "give exactly one"))
                continue
            timeout = DEFAULT_GATE_TIMEOUT
            if gate.get("timeout") is not None:
                try:
                    timeout = _seconds(gate["timeout"])
                except ValueError as err:
                    problems.append(diag((*gp, "timeout"), str(err)))
            value = gate[kinds[0]]
            gates.append(Gate(kinds[0], value if isinstance(value, str) else tuple(map(str, value)),
                              timeout, where(gp)))
        waves.append(Wave(number, tuple(chosen), int(entry.get("max_parallel") or 1), bake, tuple(gates),
                          str(entry.get("name") or ""), where(at)))
    if rollout.get("waves"):
        left = [n for n in names if n not in placed]
        if left:
            problems.append(diag((*root, "rollout", "waves"), f"target{'s' if len(left) > 1 else ''} "
                                 f"{', '.join(left)} {'are' if len(left) > 1 else 'is'} in no wave",
                                 "add them to a wave, or remove them"))
    elif targets:
        waves = [Wave(i + 1, (t.name,), where=t.where) for i, t in enumerate(targets)]
    if rollout and not data.get("targets"):
        problems.append(diag((*root, "rollout"), "rollout: needs targets:"))
    if problems:
        raise ValidationError(diagnostics=problems)
    return Rollout(env, base.stack, tuple(targets), tuple(waves), str(rollout.get("on_failure") or STOP),
                   project.path)


def _seconds(value: Any) -> float:
    """A bake or gate timeout: a Go duration (`2m`, `30s`) or a number of seconds."""
    from stackctl.units import parse_duration

    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value)
    seconds = parse_duration(str(value)) / 1e9
    if seconds < 0:
        raise ValueError("must not be negative")
    return seconds
