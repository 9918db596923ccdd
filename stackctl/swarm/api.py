"""The Engine API (1.41) objects stackctl reads: tasks, services, nodes (their specs: swarm/spec.py).

`total=False` everywhere: the engine leaves out empty fields. The gateway returns plain dicts;
`as_tasks`/`as_services`/`as_nodes` say once, at the boundary, what they hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict, cast

from stackctl.swarm.spec import Platform, PortConfig, ServiceSpec, TaskTemplate


class Version(TypedDict, total=False):
    Index: int


class ContainerStatus(TypedDict, total=False):
    ContainerID: str
    PID: int
    ExitCode: int


class PortStatus(TypedDict, total=False):
    Ports: list[PortConfig]


class TaskStatus(TypedDict, total=False):
    Timestamp: str
    State: str
    Message: str
    Err: str
    ContainerStatus: ContainerStatus
    PortStatus: PortStatus


class JobIteration(TypedDict, total=False):
    Index: int


class Task(TypedDict, total=False):
    ID: str
    Version: Version
    CreatedAt: str
    UpdatedAt: str
    ServiceID: str
    Slot: int
    NodeID: str
    Spec: TaskTemplate  # a task's spec is the service's TaskTemplate as it was
    Status: TaskStatus
    DesiredState: str
    JobIteration: JobIteration


class UpdateStatus(TypedDict, total=False):
    State: str
    StartedAt: str
    CompletedAt: str
    Message: str


class Endpoint(TypedDict, total=False):
    Ports: list[PortConfig]


class JobStatus(TypedDict, total=False):
    JobIteration: JobIteration


class Service(TypedDict, total=False):
    ID: str
    Version: Version
    Spec: ServiceSpec
    Endpoint: Endpoint
    UpdateStatus: UpdateStatus
    JobStatus: JobStatus


class EngineDescription(TypedDict, total=False):
    Labels: dict[str, str]


class NodeDescription(TypedDict, total=False):
    Hostname: str
    Platform: Platform
    Engine: EngineDescription


class NodeSpec(TypedDict, total=False):
    Role: str
    Availability: str
    Labels: dict[str, str]


class NodeStatus(TypedDict, total=False):
    State: str
    Addr: str


class Node(TypedDict, total=False):
    ID: str
    Spec: NodeSpec
    Description: NodeDescription
    Status: NodeStatus


def as_tasks(raw: Sequence[Mapping[str, object]]) -> list[Task]:
    """The gateway's task list as the typed parts read here (no copy, no check)."""
    return cast("list[Task]", list(raw))


def as_services(raw: Sequence[Mapping[str, object]]) -> list[Service]:
    return cast("list[Service]", list(raw))


def as_nodes(raw: Sequence[Mapping[str, object]]) -> list[Node]:
    return cast("list[Node]", list(raw))


def as_task(raw: Mapping[str, object]) -> Task:
    return cast("Task", raw)
