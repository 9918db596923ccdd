"""Stage 5, observe: what the swarm holds now for one stack, in a fixed number of API calls.

One list call per kind (services, networks, secrets, configs, nodes, volumes), never one
call per object, so planning a 100-service stack costs the same as planning one. The
stack's own objects are those with the namespace label; the unlabelled rest is kept
because plans need it too: external references, ID<->name maps for normalising the specs
the engine returns (network targets come back as IDs), and port conflicts with other stacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackctl.errors import EngineError
from stackctl.history import is_history
from stackctl.names import NAMESPACE_LABEL

if TYPE_CHECKING:
    from stackctl.engine import Engine


@dataclass
class ObservedObject:
    """A network, secret, config or volume as listed by the engine."""

    id: str
    name: str
    version: int | None
    spec: dict[str, Any]  # the engine's Spec (networks: the whole inspect body; secrets: no Data)
    labels: dict[str, str] = field(default_factory=dict)
    created: str = ""  # CreatedAt (RFC 3339): orders the versions of a rotated secret/config

    @property
    def stack(self) -> str | None:
        return self.labels.get(NAMESPACE_LABEL)


@dataclass
class ObservedService:
    """A service with what planning needs: spec, version, previous spec and update state."""

    id: str
    name: str
    version: int
    spec: dict[str, Any]
    previous_spec: dict[str, Any] | None = None
    update_status: dict[str, Any] | None = None
    endpoint: dict[str, Any] | None = None

    @property
    def labels(self) -> dict[str, str]:
        return self.spec.get("Labels") or {}

    @property
    def stack(self) -> str | None:
        return self.labels.get(NAMESPACE_LABEL)


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


@dataclass
class ObservedStack:
    """The swarm as one stack sees it. `services`/`networks`/... are the stack's own objects."""

    stack: str
    services: dict[str, ObservedService] = field(default_factory=dict)  # by full name
    networks: dict[str, ObservedObject] = field(default_factory=dict)  # by name
    secrets: dict[str, ObservedObject] = field(default_factory=dict)
    configs: dict[str, ObservedObject] = field(default_factory=dict)
    volumes: dict[str, ObservedObject] = field(default_factory=dict)  # manager-local, any stack
    nodes: list[ObservedNode] = field(default_factory=list)
    # everything on the swarm, by name (stack's own and others): externals, conflicts
    all_networks: dict[str, ObservedObject] = field(default_factory=dict)
    all_secrets: dict[str, ObservedObject] = field(default_factory=dict)
    all_configs: dict[str, ObservedObject] = field(default_factory=dict)
    other_services: list[ObservedService] = field(default_factory=list)
    network_names: dict[str, str] = field(default_factory=dict)  # ID -> name
    secret_names: dict[str, str] = field(default_factory=dict)  # ID -> name
    config_names: dict[str, str] = field(default_factory=dict)  # ID -> name
    volumes_listed: bool = False  # False when the volume list failed (plan skips volume checks)
    api_version: str = ""  # the negotiated Engine API version: the normaliser drops fields it predates


def _service(raw: dict[str, Any]) -> ObservedService:
    spec = raw.get("Spec") or {}
    return ObservedService(
        id=raw["ID"],
        name=spec.get("Name", ""),
        version=int((raw.get("Version") or {}).get("Index", 0)),
        spec=spec,
        previous_spec=raw.get("PreviousSpec"),
        update_status=raw.get("UpdateStatus"),
        endpoint=raw.get("Endpoint"),
    )


def service_from_inspect(raw: dict[str, Any]) -> ObservedService:
    """An ObservedService from one `GET /services/ID` body (used after a version conflict)."""
    return _service(raw)


def _object(raw: dict[str, Any]) -> ObservedObject:
    spec = raw.get("Spec") or {}
    return ObservedObject(
        id=raw["ID"],
        name=spec.get("Name", ""),
        version=int((raw.get("Version") or {}).get("Index", 0)),
        spec=spec,
        labels=dict(spec.get("Labels") or {}),
        created=str(raw.get("CreatedAt") or ""),
    )


def _network(raw: dict[str, Any]) -> ObservedObject:
    return ObservedObject(id=raw["Id"], name=raw.get("Name", ""), version=None, spec=raw,
                          labels=dict(raw.get("Labels") or {}))


def _node(raw: dict[str, Any]) -> ObservedNode:
    spec = raw.get("Spec") or {}
    desc = raw.get("Description") or {}
    plat = desc.get("Platform") or {}
    return ObservedNode(
        id=raw["ID"],
        hostname=desc.get("Hostname", ""),
        role=spec.get("Role", ""),
        availability=spec.get("Availability", "active"),
        state=(raw.get("Status") or {}).get("State", ""),
        os=plat.get("OS", ""),
        arch=plat.get("Architecture", ""),
        labels=dict(spec.get("Labels") or {}),
        engine_labels=dict((desc.get("Engine") or {}).get("Labels") or {}),
        addr=str((raw.get("Status") or {}).get("Addr") or ""),
    )


def node_from_inspect(raw: dict[str, Any]) -> ObservedNode:
    """An ObservedNode from one engine node body (the rollout wait lists nodes itself)."""
    return _node(raw)


def observe_stack(engine: Engine, stack: str, *, other_services: bool = True) -> ObservedStack:
    """Read the swarm's current state for `stack` (6 list calls, whatever the stack's size).

    `other_services=False` reads only the stack's own services (`other_services` stays empty): the
    others serve one check, published ports, and on a busy swarm they are most of the bytes read.
    """
    out = ObservedStack(stack=stack, api_version=engine.api_version)
    try:
        services = engine.objects("service", None if other_services else
                                  {"label": [f"{NAMESPACE_LABEL}={stack}"]})
        networks = engine.objects("network")
        secrets = engine.objects("secret")
        configs = engine.objects("config")
        nodes = engine.objects("node")
    except EngineError as err:
        raise err.during("read the swarm state") from None
    try:
        volumes = engine.objects("volume")
        out.volumes_listed = True
    except EngineError:
        volumes = []

    for raw in services or []:
        svc = _service(raw)
        if svc.stack == stack:
            out.services[svc.name] = svc
        else:
            out.other_services.append(svc)
    for raw in networks or []:
        net = _network(raw)
        out.all_networks[net.name] = net
        out.network_names[net.id] = net.name
        if net.stack == stack and net.spec.get("Scope") == "swarm":
            out.networks[net.name] = net
    for raw in secrets or []:
        obj = _object(raw)
        out.all_secrets[obj.name] = obj
        out.secret_names[obj.id] = obj.name
        if obj.stack == stack:
            out.secrets[obj.name] = obj
    for raw in configs or []:
        obj = _object(raw)
        out.all_configs[obj.name] = obj
        out.config_names[obj.id] = obj.name
        if obj.stack == stack and not is_history(obj.labels):  # revisions are not the stack's configs
            out.configs[obj.name] = obj
    for raw in volumes:
        name = raw.get("Name", "")
        out.volumes[name] = ObservedObject(id=name, name=name, version=None, spec=raw,
                                           labels=dict(raw.get("Labels") or {}))
    out.nodes = [_node(raw) for raw in nodes or []]
    return out
