"""Service modes and the tasks a service wants: one rule for ps, services, plan checks and the wait.

The modes as the docker CLI (and compose's `deploy.mode`) names them. Tasks wanted, as the swarm
counts them: `replicas` (the engine's default 1 when unset); a replicated job's TotalCompletions,
which defaults to MaxConcurrent, which defaults to 1 (Engine API 1.41, ServiceSpec.Mode); a global
service or job one per eligible node (swarm/nodes.py: `eligible_nodes`), so the caller says how
many nodes are eligible, or gets None when it cannot know.
"""

from __future__ import annotations

from collections.abc import Mapping

SERVICE_MODES = ("replicated", "global", "replicated-job", "global-job")
# ServiceSpec.Mode key -> the compose / docker CLI name
MODE_NAMES = {"Replicated": "replicated", "Global": "global", "ReplicatedJob": "replicated-job",
              "GlobalJob": "global-job"}


def _part(value: object, key: str) -> Mapping[str, object]:
    """`value[key]` when both are JSON objects, else an empty one."""
    if isinstance(value, Mapping):
        found = value.get(key)
        if isinstance(found, Mapping):
            return found
    return {}


def _count(value: object) -> int | None:
    return int(value) if isinstance(value, int | float | str) and str(value) != "" else None


def service_mode(spec: Mapping[str, object]) -> str:
    """A ServiceSpec's mode as the docker CLI names it (one of SERVICE_MODES); unset is replicated."""
    mode = spec.get("Mode")
    if isinstance(mode, Mapping):
        for key in mode:
            if key in MODE_NAMES:
                return MODE_NAMES[key]
    return "replicated"


def is_job(mode: str) -> bool:
    """A job runs to completion (replicated-job, global-job)."""
    return mode in ("replicated-job", "global-job")


def is_global(mode: str) -> bool:
    """One task per eligible node (global, global-job)."""
    return mode in ("global", "global-job")


def tasks_wanted(spec: Mapping[str, object], eligible: int | None = None) -> int | None:
    """The tasks a service wants: replicas, a job's total completions, or (global modes) the
    number of `eligible` nodes, None when that is not given."""
    mode = service_mode(spec)
    if is_global(mode):
        return eligible
    if mode == "replicated-job":
        job = _part(spec.get("Mode"), "ReplicatedJob")
        total = _count(job.get("TotalCompletions")) or _count(job.get("MaxConcurrent"))
        return total or 1
    replicas = _count(_part(spec.get("Mode"), "Replicated").get("Replicas"))
    return 1 if replicas is None else replicas
