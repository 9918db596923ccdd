"""The parts of the Engine API (1.41) JSON that stackctl reads: tasks, services, nodes.

`total=False` everywhere: the engine leaves out empty fields. The gateway returns plain dicts;
`as_tasks`/`as_services`/`as_nodes` say once, at the boundary, what they hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict, cast


class Version(TypedDict, total=False):
    Index: int


class ContainerStatus(TypedDict, total=False):
    ContainerID: str
    PID: int
    ExitCode: int


class PortConfig(TypedDict, total=False):
    Name: str
    Protocol: str
    TargetPort: int
    PublishedPort: int
    PublishMode: str


class PortStatus(TypedDict, total=False):
    Ports: list[PortConfig]


class TaskStatus(TypedDict, total=False):
    Timestamp: str
    State: str
    Message: str
    Err: str
    ContainerStatus: ContainerStatus
    PortStatus: PortStatus


class Placement(TypedDict, total=False):
    Constraints: list[str]
    MaxReplicas: int


class RestartPolicy(TypedDict, total=False):
    Condition: str
    Delay: int
    MaxAttempts: int
    Window: int


class Healthcheck(TypedDict, total=False):
    Test: list[str]


class SecretReference(TypedDict, total=False):
    SecretName: str
    SecretID: str


class ConfigReference(TypedDict, total=False):
    ConfigName: str
    ConfigID: str


class Mount(TypedDict, total=False):
    Type: str
    Source: str
    Target: str


class ContainerSpec(TypedDict, total=False):
    Image: str
    TTY: bool
    Healthcheck: Healthcheck
    Secrets: list[SecretReference]
    Configs: list[ConfigReference]
    Mounts: list[Mount]


class NetworkAttachment(TypedDict, total=False):
    Target: str
    Aliases: list[str]


class TaskSpec(TypedDict, total=False):
    ContainerSpec: ContainerSpec
    Placement: Placement
    RestartPolicy: RestartPolicy
    Networks: list[NetworkAttachment]


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
    Spec: TaskSpec
    Status: TaskStatus
    DesiredState: str
    JobIteration: JobIteration


class Replicated(TypedDict, total=False):
    Replicas: int


class ReplicatedJob(TypedDict, total=False):
    MaxConcurrent: int
    TotalCompletions: int


class ServiceMode(TypedDict, total=False):
    Replicated: Replicated
    Global: Mapping[str, object]
    ReplicatedJob: ReplicatedJob
    GlobalJob: Mapping[str, object]


class UpdateConfig(TypedDict, total=False):
    Monitor: int


class EndpointSpec(TypedDict, total=False):
    Ports: list[PortConfig]


class ServiceSpec(TypedDict, total=False):
    Name: str
    Labels: dict[str, str]
    TaskTemplate: TaskSpec
    Mode: ServiceMode
    UpdateConfig: UpdateConfig
    EndpointSpec: EndpointSpec


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


class Platform(TypedDict, total=False):
    OS: str
    Architecture: str


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


def as_service(raw: Mapping[str, object]) -> Service:
    return cast("Service", raw)


def as_service_spec(raw: Mapping[str, object]) -> ServiceSpec:
    return cast("ServiceSpec", raw)
