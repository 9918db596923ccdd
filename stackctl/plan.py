"""Stage 6, plan: compare the desired stack with the observed swarm; a pure function.

`make_plan(desired, observed, prune=...)` returns ordered actions (networks → secrets →
configs → services), each create / update (field by field) / remove / unchanged, plus the
checks that must pass before anything is written (external references, placement, ports,
mode changes). Nothing here talks to the engine. A secret or config whose content changed
becomes a new version the services switch to (rotation, docs/rotation.md).

Comparison happens on *normalised* specs: engine-filled defaults, server-set fields and
IDs are mapped away on both sides, so a service the engine stores exactly as we sent it
shows no change. Drift: every service stackctl writes carries a label with the digest of
the normalised spec it applied; when the current spec no longer has that digest, someone
changed the service outside the file, and the engine's PreviousSpec (when it is the spec we
applied, as after `docker service scale`) tells which fields.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackctl.convert.normalize_spec import normalize_service_spec, prune_empty, service_mode, tasks_wanted
from stackctl.errors import Diagnostic, PlanError
from stackctl.load.source import dotted
from stackctl.names import (
    CONTENT_DIGEST_LABEL,
    IMAGE_LABEL,
    OBJECT_LABEL,
    SPEC_DIGEST_LABEL,
    user_labels,
)
from stackctl.observe import ObservedNode, ObservedObject, ObservedService, ObservedStack
from stackctl.placement import describe_node, explain_mismatch, node_matches

VXLAN_OPTION = "com.docker.network.driver.overlay.vxlanid_list"
NOT_USER_DEFINED_NETWORKS = {"default", "bridge", "host", "none"}

CREATE, UPDATE, REMOVE, UNCHANGED = "create", "update", "remove", "unchanged"
KIND_ORDER = ("network", "secret", "config", "service")


# --- plan data --------------------------------------------------------------------------


@dataclass
class FieldChange:
    """One changed field: Engine API path (dotted), old and new value, and whether it drifted.

    `drift` is true when the live value is not what stackctl last applied: the field was
    changed on the swarm outside the file (deploy sets it back).
    """

    path: str
    old: Any
    new: Any
    drift: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new, "drift": self.drift}


@dataclass
class Action:
    """What deploy will do to one object. `desired` is never rendered (secrets carry Data)."""

    kind: str  # network | secret | config | service
    name: str
    action: str  # create | update | remove | unchanged
    changes: list[FieldChange] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    drift: bool = False
    id: str | None = None
    version: int | None = None
    desired: dict[str, Any] | None = None  # spec/body to send
    current: dict[str, Any] | None = None  # the engine's spec now
    digest: str | None = None  # services: spec digest; secrets/configs: content digest
    image_changed: bool = True  # services: the compose image differs from the deployed one

    @property
    def writes(self) -> bool:
        return self.action in (CREATE, UPDATE, REMOVE)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "name": self.name,
            "action": self.action,
            "id": self.id,
            "version": self.version,
            "drift": self.drift,
            "changes": [c.to_json() for c in self.changes],
            "warnings": list(self.warnings),
            "notes": list(self.notes),
        }
        if self.kind in ("secret", "config"):
            out["digest"] = short_digest(self.digest) if self.digest else None
        elif self.kind == "service":
            out["spec_digest"] = self.digest
        return out


@dataclass
class Plan:
    """Ordered actions plus the problems found before any write."""

    stack: str
    actions: list[Action] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    prune: bool = False
    observed: ObservedStack | None = None
    # "secrets"/"configs" -> base name (STACK_key or name:) -> the version the services will use
    versions: dict[str, dict[str, str]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {CREATE: 0, UPDATE: 0, REMOVE: 0, UNCHANGED: 0}
        for a in self.actions:
            out[a.action] += 1
        return out

    @property
    def has_changes(self) -> bool:
        return any(a.writes for a in self.actions)

    def by_kind(self, kind: str, *actions: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind and (not actions or a.action in actions)]

    def action_for(self, kind: str, name: str) -> Action | None:
        for a in self.actions:
            if a.kind == kind and a.name == name:
                return a
        return None

    def check(self) -> None:
        """Raise PlanError when a blocking problem was found."""
        if self.errors:
            n = len(self.errors)
            raise PlanError(
                f"the plan for stack {self.stack} has {n} blocking problem{'s' if n > 1 else ''}; "
                "nothing was changed",
                list(self.errors),
            )

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "changes": self.has_changes,
            "summary": self.counts(),
            "actions": [a.to_json() for a in self.actions],
            "warnings": [d.to_json() for d in self.warnings],
            "errors": [d.to_json() for d in self.errors],
        }


# --- digests ----------------------------------------------------------------------------


def data_bytes(spec: Mapping[str, Any]) -> bytes | None:
    """The Data of a secret/config spec (base64 in the API JSON) as bytes."""
    data = spec.get("Data")
    if data is None:
        return None
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    try:
        return base64.b64decode(str(data), validate=True)
    except ValueError:
        return str(data).encode()


def content_digest(spec: Mapping[str, Any]) -> str | None:
    """sha256 of a secret's/config's data: what plans show instead of the value."""
    data = data_bytes(spec)
    if data is None:
        return None
    return "sha256:" + hashlib.sha256(data).hexdigest()


def short_digest(digest: str) -> str:
    """`sha256:` plus the first 12 hex characters."""
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}" if hexpart else digest[:12]


def spec_digest(normalized: Mapping[str, Any]) -> str:
    """Digest of a normalised service spec (canonical JSON)."""
    text = json.dumps(normalized, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


# --- normalisation ----------------------------------------------------------------------


def normalize_service(spec: Mapping[str, Any] | None, observed: ObservedStack) -> dict[str, Any]:
    """`spec` through the one normaliser, with what the observed swarm tells it: the network
    name of each ID and the engine's API version (fields it predates are dropped)."""
    network_ids = {name: net_id for net_id, name in observed.network_names.items()}
    return normalize_service_spec(spec or {}, network_ids, api_version=observed.api_version or None)


def normalize_network(body: Mapping[str, Any]) -> dict[str, Any]:
    """The user-controlled part of a network (create body or inspect result)."""
    ipam = body.get("IPAM") or {}
    pools = [
        {k: v for k, v in (p or {}).items() if k in ("Subnet", "IPRange") and v}
        for p in ipam.get("Config") or []
    ]
    out = {
        "Driver": body.get("Driver") or "overlay",
        "Options": {k: str(v) for k, v in (body.get("Options") or {}).items() if k != VXLAN_OPTION},
        "Internal": bool(body.get("Internal")),
        "Attachable": bool(body.get("Attachable")),
        "Labels": user_labels(body.get("Labels")),
        "IPAM": {"Driver": ipam.get("Driver") or "default", "Config": [p for p in pools if p]},
    }
    return out


def _ipam_comparable(desired: dict[str, Any], current: dict[str, Any]) -> None:
    """Pools the engine chose itself are not a change when the file names none."""
    if not desired["IPAM"]["Config"]:
        current["IPAM"]["Config"] = []


# --- field-level diff -------------------------------------------------------------------


def _get(value: Any, path: list[Any]) -> Any:
    for part in path:
        if isinstance(part, int):
            if not isinstance(value, list) or part >= len(value):
                return None
            value = value[part]
        else:
            if not isinstance(value, dict):
                return None
            value = value.get(part)
    return value


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)


def field_changes(old: Any, new: Any) -> list[FieldChange]:
    """Field-level differences (deepdiff on normalised data); scalar lists are reported whole."""
    if old == new:
        return []  # the common case, without deepdiff's cost
    from deepdiff import DeepDiff

    diff = DeepDiff(old, new, view="tree", verbose_level=2)
    paths: dict[str, list[Any]] = {}
    for _report, levels in diff.items():
        for level in levels:
            path = list(level.path(output_format="list"))
            for i, part in enumerate(path):
                if isinstance(part, int):
                    parent = path[:i]
                    if _is_scalar_list(_get(old, parent)) and _is_scalar_list(_get(new, parent)):
                        path = parent
                        break
            paths.setdefault(dotted(path), path)
    out = []
    for text, path in sorted(paths.items(), key=lambda kv: _sort_key(kv[1])):
        out.append(FieldChange(text, copy.deepcopy(_get(old, path)), copy.deepcopy(_get(new, path))))
    # an aggregated parent hides its children
    kept: list[FieldChange] = []
    for ch in out:
        if any(ch.path.startswith(k.path + ".") or ch.path.startswith(k.path + "[") for k in kept):
            continue
        kept.append(ch)
    return kept


def _sort_key(path: list[Any]) -> list[tuple[int, Any]]:
    return [(0, p) if isinstance(p, int) else (1, str(p)) for p in path]


def _path_parts(text: str) -> list[Any]:
    parts: list[Any] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", text):
        parts.append(int(index) if index else name)
    return parts


# --- placement --------------------------------------------------------------------------


def _check_placement(name: str, spec: Mapping[str, Any], nodes: list[ObservedNode], plan: Plan) -> None:
    if not nodes:
        return
    wanted = tasks_wanted(spec)
    if wanted == 0:
        return
    placement = (spec.get("TaskTemplate") or {}).get("Placement") or {}
    constraints = [str(c) for c in placement.get("Constraints") or []]
    usable = [n for n in nodes if n.availability == "active"] or nodes
    eligible = [n for n in usable if node_matches(n, constraints)]
    node_list = "; ".join(describe_node(n) for n in usable)
    if not eligible:
        plan.errors.append(Diagnostic(
            f"service {name}: {explain_mismatch(constraints, usable)}; nodes: {node_list}",
            path=f"services.{_short(name, plan.stack)}.deploy.placement.constraints",
            hint="add the label to a node (docker node update --label-add KEY=VALUE NODE) "
                 "or fix the constraint",
        ))
        return
    max_per_node = int(placement.get("MaxReplicas") or 0)
    if max_per_node and wanted and max_per_node * len(eligible) < wanted:
        plan.errors.append(Diagnostic(
            f"service {name}: {wanted} replicas with max_replicas_per_node {max_per_node} need "
            f"{-(-wanted // max_per_node)} eligible nodes, but only {len(eligible)} satisfy the placement "
            f"({', '.join(n.hostname for n in eligible)}); nodes: {node_list}",
            path=f"services.{_short(name, plan.stack)}.deploy.placement.max_replicas_per_node",
        ))


def _short(full: str, stack: str) -> str:
    prefix = stack + "_"
    return full[len(prefix):] if full.startswith(prefix) else full


# --- ports ------------------------------------------------------------------------------


def _published(spec: Mapping[str, Any]) -> list[tuple[int, str, str]]:
    out = []
    for port in (spec.get("EndpointSpec") or {}).get("Ports") or []:
        published = int(port.get("PublishedPort") or 0)
        if published:
            out.append((published, port.get("Protocol") or "tcp", port.get("PublishMode") or "ingress"))
    return out


def _check_ports(name: str, spec: Mapping[str, Any], others: list[ObservedService], plan: Plan) -> None:
    for published, proto, mode in _published(spec):
        for other in others:
            for o_pub, o_proto, o_mode in _published(other.spec):
                if (o_pub, o_proto) != (published, proto):
                    continue
                owner = f" (stack {other.stack})" if other.stack else ""
                text = (f"service {name}: port {published}/{proto} is already published by service "
                        f"{other.name}{owner}")
                if mode == "host" and o_mode == "host":
                    plan.warnings.append(Diagnostic(
                        text + " in host mode: their tasks cannot share a node", severity="warning"))
                else:
                    plan.errors.append(Diagnostic(text, path=f"services.{_short(name, plan.stack)}.ports"))


# --- the planner ------------------------------------------------------------------------


def _attr(desired: Any, name: str, default: Any) -> Any:
    value = getattr(desired, name, None)
    if value is None and isinstance(desired, Mapping):
        value = desired.get(name)
    return default if value is None else value


def make_plan(desired: Any, observed: ObservedStack, *, prune: bool, strict: bool = True,
              pins: Mapping[str, Mapping[str, str]] | None = None) -> Plan:
    """The ordered actions that make the swarm match `desired`; PlanError on blocking problems.

    With `strict=False` the problems stay in `plan.errors` (diff renders them with the plan).
    `pins` ("secrets"/"configs" -> base name -> version name) makes the services use those
    existing versions whatever the files hold now (rollback to a recorded revision).
    """
    stack = _attr(desired, "stack", observed.stack)
    plan = Plan(stack=stack, prune=prune, observed=observed)
    services: dict[str, dict[str, Any]] = _attr(desired, "services", {})
    pins = pins or {}
    _plan_networks(plan, desired, observed, services)
    for kind, section in (("secret", "secrets"), ("config", "configs")):
        plan.versions[section] = _plan_file_objects(
            plan, kind, _attr(desired, section, {}), _attr(desired, f"external_{section}", []),
            getattr(observed, section), getattr(observed, f"all_{section}"), services, observed,
            pins.get(section) or {})
    services = repoint_services(services, plan.versions)
    _check_volumes(plan, _attr(desired, "volumes", {}), observed)
    for name in sorted(services):
        plan.actions.append(_plan_service(plan, name, services[name], observed))
    if prune:
        for name in sorted(set(observed.services) - set(services)):
            svc = observed.services[name]
            plan.actions.append(Action("service", name, REMOVE, id=svc.id, version=svc.version,
                                       current=svc.spec))
    plan.actions.sort(key=lambda a: (KIND_ORDER.index(a.kind), a.action == REMOVE, a.name))
    if strict:
        plan.check()
    return plan


def _plan_networks(plan: Plan, desired: Any, observed: ObservedStack, services: Mapping[str, Any]) -> None:
    networks: dict[str, dict[str, Any]] = _attr(desired, "networks", {})
    for name in _attr(desired, "external_networks", []):
        if name in NOT_USER_DEFINED_NETWORKS or name.startswith("container:"):
            continue
        net = observed.all_networks.get(name)
        if net is None:
            plan.errors.append(Diagnostic(
                f'network "{name}" is declared as external, but could not be found. '
                "You need to create a swarm-scoped network before the stack is deployed"))
        elif net.spec.get("Scope") != "swarm":
            plan.errors.append(Diagnostic(
                f'network "{name}" is declared as external, but it is not in the right scope: '
                f'"{net.spec.get("Scope")}" instead of "swarm"'))
    for name in sorted(networks):
        body = networks[name]
        current = observed.networks.get(name)
        if current is None:
            other = observed.all_networks.get(name)
            if other is not None:
                owner = f"stack {other.stack}" if other.stack else "no stack"
                plan.errors.append(Diagnostic(
                    f"network {name} already exists and belongs to {owner}, not to stack {plan.stack}",
                    hint="remove it, or declare it external"))
            plan.actions.append(Action("network", name, CREATE, desired=dict(body)))
            continue
        want, have = normalize_network(body), normalize_network(current.spec)
        _ipam_comparable(want, have)
        changes = field_changes(have, want)
        act = Action("network", name, UNCHANGED, changes=changes, id=current.id, desired=dict(body),
                     current=current.spec)
        if changes:
            act.warnings.append("recreate needed; not applied (the swarm cannot update a network: "
                                f"remove the stack or the network {name} to apply this)")
            plan.warnings.append(Diagnostic(
                f"network {name}: {', '.join(c.path for c in changes)} changed; recreate needed; not applied",
                severity="warning"))
        plan.actions.append(act)
    if plan.prune:
        for name in sorted(set(observed.networks) - set(networks)):
            net = observed.networks[name]
            plan.actions.append(Action("network", name, REMOVE, id=net.id, current=net.spec))


def _referenced(services: Mapping[str, Any], kind: str) -> dict[str, list[str]]:
    """Secret/config name → the services that mount it."""
    key, name_key = ("Secrets", "SecretName") if kind == "secret" else ("Configs", "ConfigName")
    out: dict[str, list[str]] = {}
    for svc_name, spec in services.items():
        cs = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        for ref in cs.get(key) or []:
            out.setdefault(ref.get(name_key, ""), []).append(svc_name)
        cred = (cs.get("Privileges") or {}).get("CredentialSpec") or {}
        if kind == "config" and cred.get("Config"):
            out.setdefault(cred["Config"], []).append(svc_name)
    return out


def object_digest(kind: str, obj: ObservedObject) -> str | None:
    """The content digest of an existing secret/config: configs show their data, secrets only
    the label stackctl put on them (None for a secret created without stackctl)."""
    have = content_digest(obj.spec) if kind == "config" else None
    return have or obj.labels.get(CONTENT_DIGEST_LABEL)


def base_name(obj: ObservedObject) -> str:
    """The base name a secret/config is a version of (its own name for a first version)."""
    return obj.labels.get(OBJECT_LABEL) or obj.name


def version_name(base: str, digest: str) -> str:
    """`STACK_key-<first 8 hex of the content sha256>`: the name of a later version."""
    return f"{base}-{digest.partition(':')[2][:8]}"


def versions_of(base: str, own: Mapping[str, ObservedObject]) -> list[ObservedObject]:
    """The stack's versions of one secret/config, oldest first."""
    found = [o for o in own.values() if o.name == base or o.labels.get(OBJECT_LABEL) == base]
    return sorted(found, key=lambda o: (o.created, o.name != base, o.name))


def repoint_services(services: Mapping[str, dict[str, Any]],
                     versions: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, Any]]:
    """Copies of the service specs whose secret/config references name the chosen versions.

    Only the object name changes: File.Name (the path inside the container) stays, so the
    application sees the new content where it read the old one.
    """
    secrets, configs = versions.get("secrets") or {}, versions.get("configs") or {}
    if not any(base != name for base, name in [*secrets.items(), *configs.items()]):
        return dict(services)
    out: dict[str, dict[str, Any]] = {}
    for svc_name, spec in services.items():
        spec = copy.deepcopy(spec)
        cs = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        for ref in cs.get("Secrets") or []:
            ref["SecretName"] = secrets.get(ref.get("SecretName", ""), ref.get("SecretName", ""))
        for ref in cs.get("Configs") or []:
            ref["ConfigName"] = configs.get(ref.get("ConfigName", ""), ref.get("ConfigName", ""))
        cred = (cs.get("Privileges") or {}).get("CredentialSpec") or {}
        if cred.get("Config"):
            cred["Config"] = configs.get(cred["Config"], cred["Config"])
        out[svc_name] = spec
    return out


def _plan_file_objects(
    plan: Plan,
    kind: str,
    desired: Mapping[str, dict[str, Any]],
    external: list[str],
    own: Mapping[str, ObservedObject],
    everything: Mapping[str, ObservedObject],
    services: Mapping[str, Any],
    observed: ObservedStack,
    pins: Mapping[str, str],
) -> dict[str, str]:
    """Plan one kind of file object; return base name -> the version services will use.

    The swarm cannot change a secret's or config's data, so changed content is a new
    version (`version_name`), created before the services switch to it; the old versions
    stay for rollback until apply's garbage collection (docs/rotation.md).
    """
    refs = _referenced(services, kind)
    for name in external:
        if name not in everything:
            for svc in refs.get(name, []):
                plan.errors.append(Diagnostic(f"service {_short(svc, plan.stack)}: {kind} not found: {name}",
                                              hint=f"external {kind}s must exist before the deploy "
                                                   f"(docker {kind} create {name} FILE)"))
    in_use = _referenced({n: s.spec for n, s in observed.services.items()}, kind)
    chosen: dict[str, str] = {}
    for base in sorted(desired):
        spec = desired[base]
        digest = content_digest(spec)
        if base in pins:
            chosen[base] = _plan_pinned(plan, kind, base, pins[base], spec, own, everything)
            continue
        current = own.get(base)
        if current is None:
            other = everything.get(base)
            if other is not None and other.stack and other.stack != plan.stack:
                plan.errors.append(Diagnostic(
                    f"{kind} {base} already exists and belongs to stack {other.stack}",
                    hint="give it another name: (3.5+) in the file"))
                chosen[base] = base
                continue
            current = other  # unlabelled, same name: adopt it (as docker stack deploy does)
        versions = versions_of(base, own)
        if current is not None and all(v.name != current.name for v in versions):
            versions.insert(0, current)
        if not versions:
            chosen[base] = base
            plan.actions.append(Action(kind, base, CREATE, desired=_version_spec(spec, base, base),
                                       digest=digest))
            continue
        used = [v for v in versions if v.name in in_use]
        old = used[-1] if used else (current or versions[-1])
        old_digest = object_digest(kind, old)
        target = old
        if digest:
            match = [v for v in versions if object_digest(kind, v) == digest]
            if match:
                target = old if old in match else match[-1]
            elif old_digest is not None:
                chosen[base] = _plan_new_version(plan, kind, base, spec, digest, old, old_digest, everything)
                continue
        chosen[base] = target.name
        plan.actions.append(_compare_object(plan, kind, target, spec, digest, base))
    if plan.prune:
        keep = set(chosen.values()) | set(external)
        for name in sorted(own):
            obj = own[name]
            if name in keep or base_name(obj) in desired:
                continue  # old versions of kept keys: apply's garbage collection decides
            plan.actions.append(Action(kind, name, REMOVE, id=obj.id, version=obj.version,
                                       current={k: v for k, v in obj.spec.items() if k != "Data"}))
    return chosen


def _version_spec(spec: Mapping[str, Any], base: str, name: str) -> dict[str, Any]:
    out = dict(spec)
    out["Name"] = name
    out["Labels"] = {**(spec.get("Labels") or {}), OBJECT_LABEL: base}
    return out


def _plan_new_version(plan: Plan, kind: str, base: str, spec: Mapping[str, Any], digest: str,
                      old: ObservedObject, old_digest: str, everything: Mapping[str, ObservedObject]) -> str:
    name = version_name(base, digest)
    taken = everything.get(name)
    if taken is not None:
        plan.errors.append(Diagnostic(
            f"{kind} {base}: its content changed, but the name for the new version, {name}, is taken "
            f"by a {kind} that is not a version of it", hint=f"remove {kind} {name}"))
        return name
    act = Action(kind, name, CREATE, desired=_version_spec(spec, base, name), digest=digest)
    act.changes.append(FieldChange("Data", short_digest(old_digest), short_digest(digest)))
    act.notes.append(f"new version of {base}, replacing {old.name} (same path in the containers; "
                     "the old one is kept for rollback, see --keep-versions)")
    plan.actions.append(act)
    return name


def _plan_pinned(plan: Plan, kind: str, base: str, pinned: str, spec: Mapping[str, Any],
                 own: Mapping[str, ObservedObject], everything: Mapping[str, ObservedObject]) -> str:
    obj = own.get(pinned) or everything.get(pinned)
    if obj is None:
        plan.errors.append(Diagnostic(
            f"{kind} {pinned} (the version of {base} that revision used) no longer exists: old versions "
            "beyond --keep-versions are removed after each deploy",
            hint="deploy the files instead, or keep more versions (deploy --keep-versions N)"))
        return pinned
    act = Action(kind, pinned, UNCHANGED, id=obj.id, version=obj.version,
                 desired=_version_spec(spec, base, pinned),
                 current={k: v for k, v in obj.spec.items() if k != "Data"}, digest=object_digest(kind, obj))
    act.notes.append(f"kept version {pinned} of {base}, as the revision used it")
    plan.actions.append(act)
    return pinned


def _compare_object(plan: Plan, kind: str, current: ObservedObject, spec: Mapping[str, Any],
                    digest: str | None, base: str) -> Action:
    """An existing version the services will use: only labels can be updated in place."""
    name = current.name
    act = Action(kind, name, UNCHANGED, id=current.id, version=current.version,
                 desired=_version_spec(spec, base, name),
                 current={k: v for k, v in current.spec.items() if k != "Data"}, digest=digest)
    if digest and object_digest(kind, current) is None and kind == "secret":
        act.notes.append("content not verifiable (created without stackctl): treated as unchanged")
    for key in ("Driver", "Templating"):
        if prune_empty(spec.get(key) or {}) != prune_empty(current.spec.get(key) or {}):
            act.changes.append(FieldChange(key, current.spec.get(key), spec.get(key)))
            plan.errors.append(Diagnostic(f"{kind} {name}: {key} changed, but the swarm cannot update it",
                                          hint=f"give the {kind} a new name"))
    want_labels = user_labels(spec.get("Labels"))
    have_labels = user_labels(current.labels)
    if want_labels != have_labels:
        act.changes.extend(_prefix(field_changes(have_labels, want_labels), "Labels"))
    if act.changes:
        act.action = UPDATE
    return act


def _prefix(changes: list[FieldChange], prefix: str) -> list[FieldChange]:
    for ch in changes:
        ch.path = prefix + ("" if ch.path.startswith("[") else ".") + ch.path if ch.path else prefix
    return changes


def _check_volumes(plan: Plan, volumes: Mapping[str, Any], observed: ObservedStack) -> None:
    for name, vol in sorted(volumes.items()):
        vol = vol or {}
        if vol.get("External") or vol.get("external"):
            continue
        current = observed.volumes.get(name)
        if current is None:
            continue
        want_driver = vol.get("Driver") or vol.get("driver") or "local"
        want_opts = {k: str(v) for k, v in (vol.get("DriverOpts") or vol.get("driver_opts") or {}).items()}
        have_driver = current.spec.get("Driver") or "local"
        have_opts = {k: str(v) for k, v in (current.spec.get("Options") or {}).items()}
        if (want_driver, want_opts) != (have_driver, have_opts):
            plan.warnings.append(Diagnostic(
                f"volume {name} exists on the manager with driver {have_driver} options "
                f"{have_opts or '{}'}, but the file declares driver {want_driver} "
                f"options {want_opts or '{}'}; "
                "the swarm never changes an existing volume (remove it to apply)",
                severity="warning"))


def _plan_service(plan: Plan, name: str, spec: dict[str, Any], observed: ObservedStack) -> Action:
    current = observed.services.get(name)
    want = normalize_service(spec, observed)
    digest = spec_digest(want)
    _check_placement(name, spec, observed.nodes, plan)
    _check_ports(name, spec, observed.other_services, plan)
    if current is None:
        return Action("service", name, CREATE, desired=spec, digest=digest)
    have = normalize_service(current.spec, observed)
    act = Action("service", name, UNCHANGED, id=current.id, version=current.version, desired=spec,
                 current=current.spec, digest=digest)
    want_image = (spec.get("Labels") or {}).get(IMAGE_LABEL)
    have_image = current.labels.get(IMAGE_LABEL)
    act.image_changed = want_image is None or want_image != have_image
    if service_mode(spec) != service_mode(current.spec):
        plan.errors.append(Diagnostic(
            f"service {name}: the mode changes from {service_mode(current.spec)} to {service_mode(spec)}, "
            "which the swarm cannot do (service mode change is not allowed)",
            hint=f"remove the service first (docker service rm {name}), then deploy"))
    act.changes = field_changes(have, want)
    _mark_drift(act, current, have, want, digest, observed)
    if act.changes:
        act.action = UPDATE
    return act


def _mark_drift(act: Action, current: ObservedService, have: dict[str, Any], want: dict[str, Any],
                digest: str, observed: ObservedStack) -> None:
    """Which changed fields were changed on the swarm, not in the file (see module docstring)."""
    applied = current.labels.get(SPEC_DIGEST_LABEL)
    if not applied or spec_digest(have) == applied:
        return  # never deployed by stackctl, or unchanged since: every difference is the file's
    last: dict[str, Any] | None = None
    if current.previous_spec:
        prev = normalize_service(current.previous_spec, observed)
        if spec_digest(prev) == applied:
            last = prev
    if last is None and digest == applied:
        last = want  # the file did not change since that deploy: every difference is drift
    act.drift = True
    if last is None:
        act.notes.append("changed on the swarm since the last stackctl deploy (which fields is unknown)")
        return
    for ch in act.changes:
        parts = _path_parts(ch.path)
        ch.drift = _get(last, parts) != _get(have, parts)
    drifted = field_changes(last, have)
    changed_paths = {c.path for c in act.changes}
    for d in drifted:
        if d.path not in changed_paths and not any(d.path.startswith(p + ".") or d.path.startswith(p + "[")
                                                   for p in changed_paths):
            # changed outside the file, and the file now asks for the same value: nothing to do
            act.notes.append(f"{d.path} was changed on the swarm to the value the file now has")
