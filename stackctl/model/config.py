"""The normalised stack's shape: what `load` produces and `convert`, `plan` and `history` read.

TypedDicts of the data `docker stack config` prints (short syntax expanded, sizes in bytes, durations
as Go strings); every key is optional, as in the file. The keys, their order and their value
grammars are the compose field registry's (`model/compose.py`); these types say the same for mypy.
Extension keys (`x-...`) are kept at run time and not named here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict, Union, cast

# A value as YAML gives it, before normalisation: what the normaliser's converters take.
Yaml = Union[None, bool, int, float, str, list["Yaml"], dict[str, "Yaml"]]  # noqa: UP007 - a recursive alias

StrMap = dict[str, str]


class UpdateConfig(TypedDict, total=False):
    parallelism: int
    delay: str
    failure_action: str
    monitor: str
    max_failure_ratio: float
    order: str


class DiscreteResource(TypedDict, total=False):
    kind: str
    value: int


class GenericResource(TypedDict, total=False):
    discrete_resource_spec: DiscreteResource


class Resource(TypedDict, total=False):
    cpus: str
    memory: str  # bytes, as a decimal string
    pids: int
    generic_resources: list[GenericResource]


class Resources(TypedDict, total=False):
    limits: Resource
    reservations: Resource


class RestartPolicy(TypedDict, total=False):
    condition: str
    delay: str
    max_attempts: int
    window: str


class Preference(TypedDict, total=False):
    spread: str


class Placement(TypedDict, total=False):
    constraints: list[str]
    preferences: list[Preference]
    max_replicas_per_node: int


class Deploy(TypedDict, total=False):
    mode: str
    replicas: int
    labels: StrMap
    update_config: UpdateConfig
    rollback_config: UpdateConfig
    resources: Resources
    restart_policy: RestartPolicy
    placement: Placement
    endpoint_mode: str


class Healthcheck(TypedDict, total=False):
    test: list[str]
    timeout: str
    interval: str
    retries: int
    start_period: str
    start_interval: str
    disable: bool


class Logging(TypedDict, total=False):
    driver: str
    options: StrMap


class FileRef(TypedDict, total=False):
    """A service's secret or config: `source` the top-level key."""

    source: str
    target: str
    uid: str
    gid: str
    mode: int


class ServiceNetwork(TypedDict, total=False):
    aliases: list[str]
    driver_opts: StrMap
    ipv4_address: str
    ipv6_address: str


class Port(TypedDict, total=False):
    mode: str
    target: int
    published: int
    protocol: str


class BindOptions(TypedDict, total=False):
    propagation: str


class VolumeOptions(TypedDict, total=False):
    nocopy: bool
    subpath: str


class TmpfsOptions(TypedDict, total=False):
    size: int
    mode: int


class ImageOptions(TypedDict, total=False):
    subpath: str


class Mount(TypedDict, total=False):
    """One entry of a service's `volumes` (long syntax)."""

    type: str
    source: str
    target: str
    read_only: bool
    consistency: str
    bind: BindOptions
    volume: VolumeOptions
    tmpfs: TmpfsOptions
    image: ImageOptions


class Ulimit(TypedDict, total=False):
    soft: int
    hard: int


class CredentialSpec(TypedDict, total=False):
    config: str
    file: str
    registry: str


class Dependency(TypedDict, total=False):
    """`depends_on` long syntax (Compose Specification files)."""

    condition: str
    required: bool
    restart: bool


class Build(TypedDict, total=False):
    context: str
    dockerfile: str
    args: dict[str, str | None]
    labels: StrMap
    cache_from: list[str]
    extra_hosts: list[str]
    network: str
    target: str


class Service(TypedDict, total=False):
    """One entry of `services:`."""

    build: Build
    cap_add: list[str]
    cap_drop: list[str]
    cgroupns_mode: str
    cgroup_parent: str
    command: list[str]
    configs: list[FileRef]
    container_name: str
    credential_spec: CredentialSpec
    depends_on: list[str] | dict[str, Dependency]
    deploy: Deploy
    devices: list[str]
    dns: list[str]
    dns_search: list[str]
    domainname: str
    entrypoint: list[str]
    environment: dict[str, str | None]
    env_file: list[str]
    expose: list[str]
    external_links: list[str]
    extra_hosts: list[str]
    hostname: str
    healthcheck: Healthcheck
    image: str
    init: bool
    ipc: str
    isolation: str
    labels: StrMap
    links: list[str]
    logging: Logging
    mac_address: str
    network_mode: str
    networks: dict[str, ServiceNetwork | None]
    oom_score_adj: int
    pid: str
    ports: list[Port]
    privileged: bool
    read_only: bool
    restart: str
    secrets: list[FileRef]
    security_opt: list[str]
    shm_size: str
    stdin_open: bool
    stop_grace_period: str
    stop_signal: str
    sysctls: StrMap
    tmpfs: list[str]
    tty: bool
    ulimits: dict[str, int | Ulimit]
    user: str
    userns_mode: str
    volumes: list[Mount]
    working_dir: str


class External(TypedDict, total=False):
    name: str


class IpamPool(TypedDict, total=False):
    subnet: str


class Ipam(TypedDict, total=False):
    driver: str
    config: list[IpamPool]


class Network(TypedDict, total=False):
    """One entry of the top-level `networks:`."""

    name: str
    driver: str
    driver_opts: StrMap
    ipam: Ipam
    external: bool | External
    internal: bool
    attachable: bool
    labels: StrMap


# `x-cluster-spec` is not an identifier: the functional syntax
Volume = TypedDict("Volume", {
    "name": str, "driver": str, "driver_opts": StrMap, "external": "bool | External", "labels": StrMap,
    "x-cluster-spec": "dict[str, object]",
}, total=False)


class FileObject(TypedDict, total=False):
    """One entry of the top-level `secrets:` or `configs:`."""

    name: str
    file: str
    environment: str  # the variable's name; its value is read at convert time
    external: bool | External
    labels: StrMap
    driver: str
    driver_opts: StrMap
    template_driver: str


class Config(TypedDict, total=False):
    """The whole normalised stack (`LoadedStack.config`)."""

    version: str
    name: str
    services: dict[str, Service]
    networks: dict[str, Network]
    volumes: dict[str, Volume]
    secrets: dict[str, FileObject]
    configs: dict[str, FileObject]


def as_config(data: Mapping[str, object]) -> Config:
    """The normalised stack as typed data, where it enters a stage untyped (`LoadedStack.config`, a
    revision's config from history): load made it, the schema and the normaliser gave it this shape."""
    return cast(Config, data)
