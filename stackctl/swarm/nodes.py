"""Nodes as stackctl reads them, and the one rule for which nodes can take a service's tasks.

`eligible` is the swarm scheduler's filter in the parts a spec decides (swarmkit's ReadyFilter,
availability, ConstraintFilter via placement.py, PlatformFilter): the node is `ready`, its
availability `active` (`pause` and `drain` take no new tasks), every placement constraint holds,
and, when the spec lists platforms, the node's is one of them. Resources, plugins and host ports
are left to the swarm. Used by plan/checks.py (can any node take the service now? `matches`: could
one ever, once it is back up?) and by the rollout wait (how many tasks a global service wants).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from stackctl.placement import node_matches
from stackctl.swarm.api import Node

# Architecture names the swarm's platform filter treats as the same.
_ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armhf": "arm", "i386": "386"}


@dataclass
class ObservedNode:
    """The node attributes placement constraints can name."""

    id: str
    hostname: str
    role: str
    availability: str
    state: str
    os: str
    arch: str
    labels: dict[str, str] = field(default_factory=dict)
    engine_labels: dict[str, str] = field(default_factory=dict)
    addr: str = ""  # Status.Addr: what a node.ip constraint compares

    @property
    def down(self) -> bool:
        """The manager sees the node as down: its tasks are lost, not failed."""
        return self.state == "down"

    @property
    def schedulable(self) -> bool:
        """Ready and active: the swarm may place new tasks on it."""
        return self.state == "ready" and self.availability == "active"


def node_from_inspect(raw: Node) -> ObservedNode:
    """An ObservedNode from one engine node body (a node list's item)."""
    spec = raw.get("Spec") or {}
    desc = raw.get("Description") or {}
    plat = desc.get("Platform") or {}
    status = raw.get("Status") or {}
    return ObservedNode(
        id=raw["ID"],
        hostname=desc.get("Hostname", ""),
        role=spec.get("Role", ""),
        availability=spec.get("Availability", "active"),
        state=status.get("State", ""),
        os=plat.get("OS", ""),
        arch=plat.get("Architecture", ""),
        labels=dict(spec.get("Labels") or {}),
        engine_labels=dict((desc.get("Engine") or {}).get("Labels") or {}),
        addr=str(status.get("Addr") or ""),
    )


def _placement(spec: Mapping[str, object]) -> Mapping[str, object]:
    template = spec.get("TaskTemplate")
    placement = template.get("Placement") if isinstance(template, Mapping) else None
    return placement if isinstance(placement, Mapping) else {}


def constraints_of(spec: Mapping[str, object]) -> list[str]:
    """A ServiceSpec's placement constraints."""
    found = _placement(spec).get("Constraints")
    return [str(c) for c in found] if isinstance(found, list) else []


def _platforms(spec: Mapping[str, object]) -> list[tuple[str, str]]:
    found = _placement(spec).get("Platforms")
    out = []
    for p in found if isinstance(found, list) else []:
        if isinstance(p, Mapping):
            out.append((str(p.get("OS") or ""), str(p.get("Architecture") or "")))
    return out


def _arch(name: str) -> str:
    return _ARCH_ALIASES.get(name.lower(), name.lower())


def platform_matches(node: ObservedNode, platforms: Iterable[tuple[str, str]]) -> bool:
    """The node's OS/architecture is one of `platforms` (none listed: any); an empty part matches any,
    and so does a node that reports no platform (the swarm's filter would refuse it: stackctl does
    not call a service unplaceable on a node body it cannot read whole)."""
    wanted = list(platforms)
    if not wanted or not (node.os or node.arch):
        return True
    return any((not os or os.lower() == node.os.lower()) and (not arch or _arch(arch) == _arch(node.arch))
               for os, arch in wanted)


def matches(node: ObservedNode, spec: Mapping[str, object]) -> bool:
    """The service's placement (constraints, platforms) admits `node`, whatever its state now."""
    return node_matches(node, constraints_of(spec)) and platform_matches(node, _platforms(spec))


def eligible(node: ObservedNode, spec: Mapping[str, object]) -> bool:
    """Whether the swarm may place a task of the service `spec` on `node` now (the module's rule):
    the node is ready and active and the placement admits it."""
    return node.schedulable and matches(node, spec)


def eligible_nodes(spec: Mapping[str, object], nodes: Sequence[ObservedNode]) -> list[ObservedNode]:
    """The nodes that can take the service's tasks (a global service runs one task on each)."""
    return [n for n in nodes if eligible(n, spec)]


def node_names(nodes: Iterable[Node]) -> dict[str, str]:
    """Node ID → hostname."""
    return {n["ID"]: (n.get("Description") or {}).get("Hostname") or n["ID"][:12] for n in nodes}


def down_node_names(nodes: Sequence[ObservedNode]) -> list[str]:
    """Hostnames of the nodes the manager sees as down, sorted."""
    return sorted(n.hostname or n.id for n in nodes if n.down)
