"""A service's state as `ps` and `services` summarise it: mode, running/wanted, the newest problem."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from stackctl.images import spec_image
from stackctl.swarm.api import Node, Service, Task
from stackctl.swarm.modes import is_global, is_job, service_mode, tasks_wanted
from stackctl.swarm.nodes import eligible_nodes, node_from_inspect
from stackctl.swarm.spec import PortConfig
from stackctl.swarm.stacks import natural_key
from stackctl.swarm.states import is_wanted, task_state


def format_port(port: PortConfig, *, show_mode: bool = False) -> str:
    """`*:8080->80/tcp` (ingress) or `*:8080->80/tcp (host)`."""
    proto = port.get("Protocol") or "tcp"
    published = port.get("PublishedPort")
    target = port.get("TargetPort")
    text = f"*:{published}->{target}/{proto}" if published else f"{target}/{proto}"
    if show_mode and port.get("PublishMode") == "host":
        text += " (host)"
    return text


def current_iteration(service: Service, tasks: Sequence[Task]) -> list[Task]:
    """A job's tasks of its current run (JobStatus.JobIteration; each `docker service update` of a
    job starts a new one); every task when the engine says no iteration."""
    iteration = ((service.get("JobStatus") or {}).get("JobIteration") or {}).get("Index")
    return [t for t in tasks if iteration is None or (t.get("JobIteration") or {}).get("Index") == iteration]


@dataclass
class ServiceStatus:
    """Convergence of one service, computed from its tasks: the `ps` summary and `services` rows."""

    id: str
    name: str
    mode: str
    image: str
    running: int
    desired: int
    completed: int | None  # jobs only
    converged: bool
    problem: str  # newest task error (or pending reason) when not converged
    ports: list[str] = field(default_factory=list)
    max_per_node: int | None = None

    @property
    def replicas(self) -> str:
        """`1/3`, `2/2 (max 1 per node)`, `0/1 (1/1 completed)` as the reference's REPLICAS."""
        text = f"{self.running}/{self.desired}"
        if self.max_per_node:
            text += f" (max {self.max_per_node} per node)"
        if self.completed is not None:
            text += f" ({self.completed}/{self.desired} completed)"
        return text

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        data["replicas"] = self.replicas
        data["problem"] = self.problem or None
        return data


def service_statuses(services: Sequence[Service], tasks: Sequence[Task],
                     nodes: Sequence[Node] | None = None) -> list[ServiceStatus]:
    """Running/desired per service from the task list (engines before API 1.41 have no ServiceStatus).

    A global service wants one task per eligible node when `nodes` are given, else as many as the
    swarm keeps wanted.
    """
    by_service: dict[str, list[Task]] = {}
    for t in tasks:
        by_service.setdefault(t.get("ServiceID", ""), []).append(t)
    observed_nodes = [node_from_inspect(n) for n in nodes] if nodes is not None else None
    out = []
    for svc in services:
        spec = svc.get("Spec") or {}
        mode = service_mode(spec)
        own = by_service.get(svc["ID"], [])
        live = [t for t in own if is_wanted(t)]
        running = sum(1 for t in live if task_state(t) == "running")
        completed: int | None = None
        eligible: int | None = None  # the nodes a global mode wants a task on (others ignore it)
        if is_global(mode) and observed_nodes is not None:
            eligible = len(eligible_nodes(spec, observed_nodes))
        if is_job(mode):
            completed = sum(1 for t in current_iteration(svc, own) if task_state(t) == "complete")
            desired = tasks_wanted(spec, max(len(own), completed) if eligible is None else eligible) or 0
            converged = completed >= desired
        else:
            desired = tasks_wanted(spec, len(live) if eligible is None else eligible) or 0
            converged = running == desired and len(live) == running
        problem = "" if converged else _newest_problem(own)
        template = spec.get("TaskTemplate") or {}
        ports = [format_port(p, show_mode=True)
                 for p in ((svc.get("Endpoint") or {}).get("Ports")
                           or ((spec.get("EndpointSpec") or {}).get("Ports")) or [])]
        out.append(ServiceStatus(
            id=svc["ID"],
            name=spec.get("Name", svc["ID"]),
            mode=mode,
            image=spec_image(spec),
            running=running,
            desired=desired,
            completed=completed,
            converged=converged,
            problem=problem,
            ports=ports,
            max_per_node=(template.get("Placement") or {}).get("MaxReplicas") or None,
        ))
    out.sort(key=lambda s: natural_key(s.name))
    return out


def _newest_problem(tasks: Sequence[Task]) -> str:
    """The newest error among a service's tasks, or why its newest task is not running yet."""
    ordered = sorted(tasks, key=lambda t: t.get("CreatedAt") or "", reverse=True)
    for t in ordered:
        err = (t.get("Status") or {}).get("Err")
        if err:
            return str(err)
    if ordered:
        status = ordered[0].get("Status") or {}
        if status.get("State") != "running":
            return f"{status.get('State', 'unknown')}: {status.get('Message', '')}".rstrip(": ")
    return "no tasks"
