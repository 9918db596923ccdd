"""The parts of the Engine API's ServiceSpec stackctl writes and reads, as TypedDicts.

Names and shapes as `docker service inspect --format '{{json .Spec}}'` shows them (CamelCase);
every key is optional, as the engine omits empty ones. `convert/service.py` builds these;
`convert/normalize_spec.py` and `plan/` read them. A spec the engine returns is JSON from the
gateway: it is taken as one of these where it enters (`observe.py` keeps the engine's dict).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, cast

StrMap = dict[str, str]


class FileTarget(TypedDict, total=False):
    Name: str
    UID: str
    GID: str
    Mode: int


class SecretReference(TypedDict, total=False):
    File: FileTarget
    SecretID: str
    SecretName: str


class ConfigReference(TypedDict, total=False):
    File: FileTarget
    Runtime: dict[str, object]
    ConfigID: str
    ConfigName: str


class Driver(TypedDict, total=False):
    Name: str
    Options: StrMap


class MountVolumeOptions(TypedDict, total=False):
    NoCopy: bool
    Subpath: str
    Labels: StrMap
    DriverConfig: Driver


class MountBindOptions(TypedDict, total=False):
    Propagation: str


class MountTmpfsOptions(TypedDict, total=False):
    SizeBytes: int
    Mode: int


class MountImageOptions(TypedDict, total=False):
    Subpath: str


class Mount(TypedDict, total=False):
    Type: str
    Source: str
    Target: str
    ReadOnly: bool
    Consistency: str
    BindOptions: MountBindOptions
    VolumeOptions: MountVolumeOptions
    TmpfsOptions: MountTmpfsOptions
    ImageOptions: MountImageOptions


class HealthConfig(TypedDict, total=False):
    Test: list[str]
    Interval: int
    Timeout: int
    StartPeriod: int
    StartInterval: int
    Retries: int


class DNSConfig(TypedDict, total=False):
    Nameservers: list[str]
    Search: list[str]
    Options: list[str]


class CredentialSpec(TypedDict, total=False):
    Config: str
    File: str
    Registry: str


class Privileges(TypedDict, total=False):
    CredentialSpec: CredentialSpec


class Ulimit(TypedDict):
    Name: str
    Soft: int
    Hard: int


class ContainerSpec(TypedDict, total=False):
    Image: str
    Labels: StrMap
    Command: list[str]
    Args: list[str]
    Hostname: str
    Env: list[str]
    Dir: str
    User: str
    Init: bool
    StopSignal: str
    TTY: bool
    OpenStdin: bool
    ReadOnly: bool
    Mounts: list[Mount]
    StopGracePeriod: int
    Healthcheck: HealthConfig
    Hosts: list[str]
    DNSConfig: DNSConfig
    Secrets: list[SecretReference]
    Configs: list[ConfigReference]
    Privileges: Privileges
    Isolation: str
    Sysctls: StrMap
    CapabilityAdd: list[str]
    CapabilityDrop: list[str]
    Ulimits: list[Ulimit]
    OomScoreAdj: int
    PidsLimit: int


class DiscreteResource(TypedDict):
    Kind: str
    Value: int


class GenericResource(TypedDict):
    DiscreteResourceSpec: DiscreteResource


class Limit(TypedDict, total=False):
    NanoCPUs: int
    MemoryBytes: int
    Pids: int
    GenericResources: list[GenericResource]


class Resources(TypedDict, total=False):
    Limits: Limit
    Reservations: Limit


class RestartPolicy(TypedDict, total=False):
    Condition: str
    Delay: int
    MaxAttempts: int
    Window: int


class SpreadOver(TypedDict):
    SpreadDescriptor: str


class PlacementPreference(TypedDict):
    Spread: SpreadOver


class Platform(TypedDict, total=False):
    Architecture: str
    OS: str


class Placement(TypedDict, total=False):
    Constraints: list[str]
    Preferences: list[PlacementPreference]
    MaxReplicas: int
    Platforms: list[Platform]  # the engine fills it in from the image; stackctl never sets it


class NetworkAttachment(TypedDict, total=False):
    Target: str
    Aliases: list[str]
    DriverOpts: StrMap


class TaskTemplate(TypedDict, total=False):
    ContainerSpec: ContainerSpec
    Resources: Resources
    RestartPolicy: RestartPolicy
    Placement: Placement
    Networks: list[NetworkAttachment]
    LogDriver: Driver
    ForceUpdate: int
    Runtime: str


class Replicated(TypedDict, total=False):
    Replicas: int


class ReplicatedJob(TypedDict, total=False):
    MaxConcurrent: int
    TotalCompletions: int


class Mode(TypedDict, total=False):
    """One key: the mode's name."""

    Replicated: Replicated
    Global: dict[str, object]
    ReplicatedJob: ReplicatedJob
    GlobalJob: dict[str, object]


class UpdateConfig(TypedDict, total=False):
    Parallelism: int
    Delay: int
    FailureAction: str
    Monitor: int
    MaxFailureRatio: float
    Order: str


class PortConfig(TypedDict, total=False):
    Name: str
    Protocol: str
    TargetPort: int
    PublishedPort: int
    PublishMode: str


class EndpointSpec(TypedDict, total=False):
    Mode: str
    Ports: list[PortConfig]


class ServiceSpec(TypedDict, total=False):
    Name: str
    Labels: StrMap
    TaskTemplate: TaskTemplate
    Mode: Mode
    UpdateConfig: UpdateConfig
    RollbackConfig: UpdateConfig
    EndpointSpec: EndpointSpec
    Networks: list[NetworkAttachment]  # deprecated: TaskTemplate.Networks (an old spec may still have it)


def as_service_spec(data: Mapping[str, object]) -> ServiceSpec:
    """An engine's ServiceSpec (JSON from the gateway, or a spec stackctl stored) as typed data."""
    return cast(ServiceSpec, data)


# --- the other objects of a stack: create bodies -------------------------------------------------


class IPAMConfig(TypedDict, total=False):
    Subnet: str
    IPRange: str
    Gateway: str
    AuxiliaryAddresses: StrMap


class IPAM(TypedDict, total=False):
    Driver: str
    Config: list[IPAMConfig]
    Options: StrMap


class NetworkCreate(TypedDict, total=False):
    Name: str
    Driver: str
    Labels: StrMap
    Options: StrMap
    Internal: bool
    Attachable: bool
    IPAM: IPAM


class ObjectSpec(TypedDict, total=False):
    """A SecretSpec or a ConfigSpec (a config has no Driver)."""

    Name: str
    Labels: StrMap
    Data: str  # base64
    Driver: Driver
    Templating: Driver


class VolumeDecl(TypedDict, total=False):
    """A declared volume as the mounts ask for it (stackctl creates none)."""

    Name: str
    Key: str
    External: bool
    Labels: StrMap
    Driver: str
    DriverOpts: StrMap
