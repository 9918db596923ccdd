"""Stage 5, observe: what the swarm holds now for one stack, in a fixed number of API calls.

One list call per kind (services, networks, secrets, configs, nodes, volumes), never one
call per object, so planning a 100-service stack costs the same as planning one. The
stack's own objects are those with the namespace label; the unlabelled rest is kept
because plans need it too: external references, ID<->name maps for normalising the specs
the engine returns (network targets come back as IDs), and port conflicts with other stacks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from stackctl.errors import EngineError
from stackctl.history import is_history
from stackctl.names import NAMESPACE_LABEL
from stackctl.swarm.api import Service, as_nodes
from stackctl.swarm.nodes import ObservedNode, node_from_inspect
from stackctl.swarm.stacks import natural_key

__all__ = ["KeptObjects", "ObservedNode", "ObservedObject", "ObservedService", "ObservedStack",
           "StackSummary", "kept_objects", "node_from_inspect", "observe_stack", "service_from_inspect",
           "stack_summaries"]

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
    out.nodes = [node_from_inspect(raw) for raw in as_nodes(nodes or [])]
    return out


# --- every stack on the swarm (`ls`), and what `rm` leaves -------------------------------------


@dataclass
class StackSummary:
    """One line of `stackctl ls`."""

    name: str
    services: int
    networks: int
    secrets: int
    configs: int

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def _labels(obj: Mapping[str, object], kind: str) -> Mapping[str, object]:
    holder = obj if kind == "networks" else obj.get("Spec")
    labels = holder.get("Labels") if isinstance(holder, Mapping) else None
    return labels if isinstance(labels, Mapping) else {}


def stack_summaries(services: Iterable[Mapping[str, object]], networks: Iterable[Mapping[str, object]] = (),
                    secrets: Iterable[Mapping[str, object]] = (), configs: Iterable[Mapping[str, object]] = ()
                    ) -> list[StackSummary]:
    """Group labelled objects by stack name. Unlike the reference, a stack whose services are gone
    but whose networks, secrets or configs remain is still listed (with 0 services)."""
    counts: dict[str, dict[str, int]] = {}
    for kind, objects in (("services", services), ("networks", networks), ("secrets", secrets),
                          ("configs", configs)):
        for obj in objects:
            labels = {str(k): str(v) for k, v in _labels(obj, kind).items()}
            stack = labels.get(NAMESPACE_LABEL)
            if stack is None or is_history(labels):  # a revision is not one of the stack's configs
                continue
            entry = counts.setdefault(stack, {"services": 0, "networks": 0, "secrets": 0, "configs": 0})
            entry[kind] += 1
    ordered = sorted(counts.items(), key=lambda kv: natural_key(kv[0]))
    return [StackSummary(name=name, **c) for name, c in ordered]


@dataclass
class KeptObjects:
    """What `rm` leaves in place on purpose: external objects and volumes the stack's services use."""

    networks: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = ([f"external network {n}" for n in self.networks]
                 + [f"external secret {n}" for n in self.secrets]
                 + [f"external config {n}" for n in self.configs]
                 + [f"volume {n}" for n in self.volumes])
        return ", ".join(parts)

    def to_json(self) -> dict[str, object]:
        return asdict(self)


def kept_objects(services: Sequence[Service], stack_network_ids: Iterable[str],
                 all_networks: Sequence[Mapping[str, object]], stack_secret_names: Iterable[str],
                 stack_config_names: Iterable[str]) -> KeptObjects:
    """Objects the stack's services reference that do not carry the stack label (so `rm` keeps them)."""
    own_networks = set(stack_network_ids)
    net_names = {str(n["Id"] if "Id" in n else n.get("ID", "")): str(n.get("Name", "")) for n in all_networks}
    own_secrets, own_configs = set(stack_secret_names), set(stack_config_names)
    kept = KeptObjects()
    for svc in services:
        template = (svc.get("Spec") or {}).get("TaskTemplate") or {}
        container = template.get("ContainerSpec") or {}
        for att in template.get("Networks") or []:
            target = att.get("Target", "")
            if target in own_networks:
                continue
            name = net_names.get(target) or next(
                (n for i, n in net_names.items() if i.startswith(target) or n == target), target)
            if name in ("ingress",):
                continue
            kept.networks.append(name)
        kept.secrets += [s.get("SecretName", "") for s in container.get("Secrets") or []
                         if s.get("SecretName") not in own_secrets]
        kept.configs += [c.get("ConfigName", "") for c in container.get("Configs") or []
                         if c.get("ConfigName") not in own_configs]
        kept.volumes += [m["Source"] for m in container.get("Mounts") or []
                         if m.get("Type") == "volume" and m.get("Source")]
    kept.networks = sorted(set(kept.networks), key=natural_key)
    kept.secrets = sorted(set(kept.secrets), key=natural_key)
    kept.configs = sorted(set(kept.configs), key=natural_key)
    kept.volumes = sorted(set(kept.volumes), key=natural_key)
    return kept
