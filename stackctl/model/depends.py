"""The services' dependency graph from `depends_on`, in one place.

Validation (validate/meaning.py) reports unknown names, cycles and impossible conditions from it with
FILE:LINE; deploy ordering writes services tier by tier in the order `dependency_graph` gives, waiting on
each edge's condition. Pure: the normalised config in, plain data out (docs/ordering.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stackctl.names import scope

STARTED = "service_started"
HEALTHY = "service_healthy"
COMPLETED = "service_completed_successfully"
CONDITIONS = (STARTED, HEALTHY, COMPLETED)


@dataclass(frozen=True)
class Edge:
    """`service` depends on `dependency`: written only once `condition` holds for it."""

    service: str
    dependency: str
    condition: str = STARTED  # the list syntax means service_started
    required: bool = True
    restart: bool = False  # long syntax `restart: true`


class DependencyCycle(ValueError):
    """The services depend on each other in a circle; `cycle` is the path, first name repeated last."""

    def __init__(self, cycle: list[str]) -> None:
        super().__init__("dependency cycle: " + " -> ".join(cycle))
        self.cycle = tuple(cycle)


@dataclass(frozen=True)
class DependencyGraph:
    """`tiers[0]` depends on nothing; every service of `tiers[n]` depends only on earlier tiers.

    Names are sorted inside a tier; services of one tier do not depend on each other and may be written
    in parallel. `edges` holds only the edges between services of the stack.
    """

    tiers: tuple[tuple[str, ...], ...]
    edges: tuple[Edge, ...]

    @property
    def order(self) -> tuple[str, ...]:
        """Every service, dependencies first (the tiers one after the other)."""
        return tuple(name for tier in self.tiers for name in tier)

    def dependencies(self, service: str) -> tuple[Edge, ...]:
        """The edges `service` waits on."""
        return tuple(edge for edge in self.edges if edge.service == service)

    def dependents(self, service: str) -> tuple[Edge, ...]:
        """The edges that wait on `service`."""
        return tuple(edge for edge in self.edges if edge.dependency == service)

    def tier_of(self, service: str) -> int:
        for index, tier in enumerate(self.tiers):
            if service in tier:
                return index
        raise KeyError(service)


def edges_of(config: Mapping[str, Any]) -> list[Edge]:
    """Every `depends_on` entry of every service, as written (names that are not services included)."""
    services = config.get("services")
    out: list[Edge] = []
    if not isinstance(services, Mapping):
        return out
    for name, service in services.items():
        depends = service.get("depends_on") if isinstance(service, Mapping) else None
        if isinstance(depends, list):
            out += [Edge(str(name), str(dep)) for dep in depends]
        elif isinstance(depends, Mapping):
            for dep, options in depends.items():
                options = options if isinstance(options, Mapping) else {}
                out.append(Edge(str(name), str(dep), str(options.get("condition") or STARTED),
                                options.get("required") is not False, options.get("restart") is True))
    return out


def find_cycle(nodes: Iterable[str], edges: Iterable[Edge]) -> list[str] | None:
    """A dependency cycle as a path (`[a, b, a]`: a depends on b, b on a), or None.

    Deterministic: services are visited in sorted order, so the same file reports the same cycle."""
    after: dict[str, list[str]] = {node: [] for node in nodes}
    for edge in edges:
        if edge.service in after and edge.dependency in after:
            after[edge.service].append(edge.dependency)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(after):
        if state.get(start):
            continue
        path = [start]
        todo = [iter(sorted(set(after[start])))]
        state[start] = 1
        while todo:
            following = next(todo[-1], None)
            if following is None:
                state[path.pop()] = 2
                todo.pop()
            elif state.get(following) == 1:
                return path[path.index(following):] + [following]
            elif not state.get(following):
                state[following] = 1
                path.append(following)
                todo.append(iter(sorted(set(after[following]))))
    return None


def dependency_graph(config: Mapping[str, Any]) -> DependencyGraph:
    """The tiers and edges of the stack's services; DependencyCycle if there is a cycle.

    Edges to names that are not services are left out (validation reports them; an optional one,
    `required: false`, is simply absent)."""
    services = config.get("services")
    names = [str(name) for name in services] if isinstance(services, Mapping) else []
    known = set(names)
    edges = tuple(edge for edge in edges_of(config) if edge.dependency in known)
    cycle = find_cycle(names, edges)
    if cycle:
        raise DependencyCycle(cycle)
    waits: dict[str, set[str]] = {name: set() for name in names}
    for edge in edges:
        waits[edge.service].add(edge.dependency)
    tiers: list[tuple[str, ...]] = []
    placed: set[str] = set()
    while len(placed) < len(names):
        tier = tuple(sorted(name for name in names if name not in placed and waits[name] <= placed))
        tiers.append(tier)
        placed.update(tier)
    return DependencyGraph(tiers=tuple(tiers), edges=edges)


@dataclass(frozen=True)
class Ordering:
    """The deploy order in the plan's own names (`STACK_svc`): tiers, and the edges between them.

    Plain data, here rather than beside the gate (apply/ordering.py), so that planning needs nothing
    of apply/."""

    tiers: tuple[tuple[str, ...], ...]
    edges: tuple[Edge, ...]

    @classmethod
    def of(cls, graph: DependencyGraph, stack: str) -> Ordering:
        """A `stackctl.model.depends.DependencyGraph` (compose keys) in the stack's service names."""
        def full(name: str) -> str:
            return scope(stack, name)

        tiers = tuple(tuple(full(n) for n in tier) for tier in graph.tiers)
        edges = tuple(Edge(full(e.service), full(e.dependency), e.condition, e.required, e.restart)
                      for e in graph.edges)
        return cls(tiers, edges)

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(name for tier in self.tiers for name in tier)
