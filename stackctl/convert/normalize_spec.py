"""The one service normaliser: two ServiceSpecs with the same meaning compare equal.

`normalize_service_spec` is applied to *both* sides of every comparison (plan, drift, the
spec digest, apply's re-plan after a conflict, the convert oracle): the spec `convert`
produced and the `Spec` the engine returns from `GET /services/{id}`. Nothing is layered on
top of it, so a rule written here holds everywhere. It is pure and idempotent (normalising
twice changes nothing). What it does, and why:

1. Drops what is not the user's intent: stackctl's own service labels (`names.py`: the
   spec digest of the last deploy), secret/config IDs (names identify them),
   `TaskTemplate.ForceUpdate` (deploy copies it from the running service), `Runtime:
   "container"` (the only runtime a ContainerSpec can have), `Placement.Platforms` (added by
   registry resolution), the digest of an image that also has a tag (`nginx:1@sha256:…` →
   `nginx:1`; a pin is registry resolution, the tag is what the user wrote).
2. Fills engine/swarmkit defaults, so "unset" and "explicit default" meet (c.5):
   `Mode.Replicated.Replicas` 1; `ReplicatedJob` MaxConcurrent 1 and TotalCompletions =
   MaxConcurrent; `EndpointSpec.Mode` vip, port Protocol tcp, PublishMode ingress;
   `RestartPolicy` {Condition any, Delay 5s} when absent or unset; `UpdateConfig` and
   `RollbackConfig` swarmkit defaults {Parallelism 1, FailureAction pause, Monitor 5s,
   Order stop-first} when absent, FailureAction/Order/Monitor defaults when unset;
   `ContainerSpec.StopGracePeriod` 10s (the 20.10 engine stores these defaults on create).
   `ContainerSpec.Isolation: "default"` means unset.
3. Canonical forms: `Resources.Limits.Pids` moves to `ContainerSpec.PidsLimit` (newer
   engines store it there; 20.10 keeps `Limits.Pids`); network `Target` IDs become names
   through `network_ids` (name → ID, as the engine lists them; the engine always returns
   IDs). Lists the engine treats as sets are sorted: networks, ports, secret and config
   references, ulimits, capabilities. Order-carrying lists (Env, Args, Command, Hosts,
   Mounts, Constraints, Preferences) keep their order.
4. Prunes empty values (None, "", [], {}) and zero/false scalars bottom-up, because the
   engine omits them (Go `omitempty`) and a missing non-pointer field decodes to zero
   anyway. Zeros that differ from "unset" are kept: Replicas, MaxConcurrent,
   TotalCompletions, Parallelism, RestartPolicy.Delay, StopGracePeriod, Init, and the
   empty `Global`/`GlobalJob` mode markers. User maps (Labels, Options, Sysctls...) and
   Env/Args/Command are kept verbatim when non-empty: `label: ""` is a real label.
5. With `api_version`, drops fields an engine of that API version does not store
   (Healthcheck.StartInterval < 1.44, VolumeOptions.Subpath < 1.45, OomScoreAdj < 1.46):
   the lab's 20.10 engine (API 1.41) silently discards them, so they can never converge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from stackctl.images import normalize_image, strip_digest
from stackctl.model import spec as api
from stackctl.names import user_labels

SECOND = 1_000_000_000
DEFAULT_RESTART_DELAY = 5 * SECOND
DEFAULT_MONITOR = 5 * SECOND
DEFAULT_STOP_GRACE_PERIOD = 10 * SECOND
DEFAULT_UPDATE_CONFIG: api.UpdateConfig = {
    "Parallelism": 1,
    "FailureAction": "pause",
    "Monitor": DEFAULT_MONITOR,
    "Order": "stop-first",
}

# (parent key, key) pairs whose zero / false / {} value means something other than "unset".
_KEEP_ZERO = {
    ("Replicated", "Replicas"),
    ("ReplicatedJob", "MaxConcurrent"),
    ("ReplicatedJob", "TotalCompletions"),
    ("UpdateConfig", "Parallelism"),
    ("RollbackConfig", "Parallelism"),
    ("RestartPolicy", "Delay"),
    ("ContainerSpec", "StopGracePeriod"),
    ("ContainerSpec", "Init"),
    # An empty healthcheck (all its fields dropped by an older engine) is stored as `{}`, which
    # the engine keeps apart from no healthcheck at all: the reference's deploys change it.
    ("ContainerSpec", "Healthcheck"),
    ("Mode", "Global"),
    ("Mode", "GlobalJob"),
    ("Mode", "Replicated"),
    ("Mode", "ReplicatedJob"),
}
# User data whose empty values are meaningful (a label `k: ""` exists): pruned only as a whole.
_OPAQUE = {"Labels", "Options", "DriverOpts", "Sysctls", "Env", "Args", "Command", "AuxiliaryAddresses"}


# Fields an older engine silently drops (it does not know them): (minimum API version, path).
# Comparing against such an engine, our side must drop them too, or the diff never settles.
_NEWER_FIELDS: list[tuple[tuple[int, int], tuple[str, ...]]] = [
    ((1, 44), ("TaskTemplate", "ContainerSpec", "Healthcheck", "StartInterval")),
    ((1, 46), ("TaskTemplate", "ContainerSpec", "OomScoreAdj")),
]
_SUBPATH_MIN_API = (1, 45)


_J = TypeVar("_J")


def _copy_json(value: _J) -> _J:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): several times faster than deepcopy.
    Scalars are not recursed into (a call per leaf was half the cost of a 1,000-service plan)."""
    copied: object = value
    if isinstance(value, dict):
        copied = {k: _copy_json(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    elif isinstance(value, list):
        copied = [_copy_json(v) if isinstance(v, (dict, list)) else v for v in value]
    return copied  # type: ignore[return-value]  # the same shape as `value`


def normalize_service_spec(
    spec: Mapping[str, object],
    network_ids: Mapping[str, str] | None = None,
    *,
    api_version: str | None = None,
) -> dict[str, object]:
    """A copy of `spec` in canonical form; see the module docstring for every rule.

    `network_ids` maps network names to IDs (as the engine lists them), so an engine
    `Target` ID and our name compare equal. `api_version` is the negotiated Engine API
    version; fields the engine is too old to store are dropped (rule 5).
    """
    out = api.as_service_spec(_copy_json(dict(spec)))
    if out.get("Labels"):
        out["Labels"] = user_labels(out["Labels"])
    if api_version:
        _drop_unsupported(out, _version_tuple(api_version))
    id_to_name = {net_id: name for name, net_id in (network_ids or {}).items()}
    task = out.setdefault("TaskTemplate", {})
    task.pop("ForceUpdate", None)
    if task.get("Runtime") == "container":
        task.pop("Runtime")
    container = task.get("ContainerSpec")
    if container is not None:
        _normalize_container(container, task)
    _normalize_task(task, id_to_name)
    # The deprecated top-level Networks field means the same as TaskTemplate.Networks.
    old_networks = out.pop("Networks", None)
    if old_networks and not task.get("Networks"):
        task["Networks"] = _normalize_networks(old_networks, id_to_name)
    out["Mode"] = _normalize_mode(out.get("Mode"))
    out["EndpointSpec"] = _normalize_endpoint(out.get("EndpointSpec"))
    out["UpdateConfig"] = _normalize_update(out.get("UpdateConfig"))
    out["RollbackConfig"] = _normalize_update(out.get("RollbackConfig"))
    return _prune_map(dict(out), "")


def prune_empty(value: Mapping[str, object]) -> dict[str, object]:
    """`value` without empty and zero entries (rule 4): for other engine objects' sub-specs."""
    return _prune_map(_copy_json(dict(value)), "")


def _version_tuple(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major or 0), int(minor or 0)


def _drop_unsupported(spec: api.ServiceSpec, version: tuple[int, int]) -> None:
    for minimum, path in _NEWER_FIELDS:
        if version < minimum:
            node: object = spec
            for key in path[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(path[-1], None)
    if version < _SUBPATH_MIN_API:
        for mount in ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Mounts") or []:
            (mount.get("VolumeOptions") or {}).pop("Subpath", None)


def _normalize_container(container: api.ContainerSpec, task: api.TaskTemplate) -> None:
    if container.get("Image"):
        container["Image"] = strip_digest(normalize_image(str(container["Image"])))
    if container.get("StopGracePeriod") is None:
        container["StopGracePeriod"] = DEFAULT_STOP_GRACE_PERIOD
    if container.get("Isolation") == "default":
        container.pop("Isolation")
    for mount in container.get("Mounts") or []:
        # Swarm services have no mount consistency: every engine drops it (the reference sends it).
        mount.pop("Consistency", None)
    limits = (task.get("Resources") or {}).get("Limits") or {}
    pids = limits.pop("Pids", None)
    if pids and not container.get("PidsLimit"):
        container["PidsLimit"] = pids
    secrets = container.get("Secrets")
    if secrets:
        for secret in secrets:
            secret.pop("SecretID", None)
        secrets.sort(key=lambda r: (str(r.get("SecretName") or ""), _file_name(r)))
    configs = container.get("Configs")
    if configs:
        for config in configs:
            config.pop("ConfigID", None)
        configs.sort(key=lambda r: (str(r.get("ConfigName") or ""), _file_name(r)))
    privileges = container.get("Privileges") or {}
    cred = privileges.get("CredentialSpec") or {}
    if cred.get("Config"):
        # Holds an ID on the engine side and a name on ours; the Runtime config ref names it.
        runtime = [r for r in container.get("Configs") or [] if r.get("Runtime") is not None]
        if runtime:
            cred["Config"] = runtime[0].get("ConfigName") or cred["Config"]
    if container.get("Ulimits"):
        container["Ulimits"] = sorted(container["Ulimits"], key=lambda u: str(u.get("Name")))
    if container.get("CapabilityAdd"):
        container["CapabilityAdd"] = sorted(set(container["CapabilityAdd"]))
    if container.get("CapabilityDrop"):
        container["CapabilityDrop"] = sorted(set(container["CapabilityDrop"]))


def _file_name(ref: api.SecretReference | api.ConfigReference) -> str:
    return str((ref.get("File") or {}).get("Name") or "")


def _normalize_task(task: api.TaskTemplate, id_to_name: Mapping[str, str]) -> None:
    placement = task.get("Placement") or {}
    placement.pop("Platforms", None)
    policy = api.RestartPolicy(**(task.get("RestartPolicy") or {}))
    policy["Condition"] = policy.get("Condition") or "any"
    if policy.get("Delay") is None:
        policy["Delay"] = DEFAULT_RESTART_DELAY
    task["RestartPolicy"] = policy
    if task.get("Networks"):
        task["Networks"] = _normalize_networks(task["Networks"], id_to_name)
    log_driver = task.get("LogDriver")
    if log_driver is not None and not log_driver.get("Name") and not log_driver.get("Options"):
        task.pop("LogDriver")


def _normalize_networks(
    networks: list[api.NetworkAttachment], id_to_name: Mapping[str, str]
) -> list[api.NetworkAttachment]:
    out = []
    for given in networks:
        net = api.NetworkAttachment(**given)
        target = str(net.get("Target") or "")
        net["Target"] = id_to_name.get(target, target)
        out.append(net)
    return sorted(out, key=lambda n: n.get("Target", ""))


def _normalize_mode(raw: api.Mode | None) -> api.Mode:
    mode = api.Mode(**(raw or {}))
    if not mode:
        mode = {"Replicated": {}}
    if "Replicated" in mode:
        replicated = api.Replicated(**(mode["Replicated"] or {}))
        if replicated.get("Replicas") is None:
            replicated["Replicas"] = 1
        mode["Replicated"] = replicated
    if "ReplicatedJob" in mode:
        job = api.ReplicatedJob(**(mode["ReplicatedJob"] or {}))
        if job.get("MaxConcurrent") is None:
            job["MaxConcurrent"] = 1
        if job.get("TotalCompletions") is None:
            job["TotalCompletions"] = job["MaxConcurrent"]
        mode["ReplicatedJob"] = job
    if "Global" in mode:
        mode["Global"] = {}
    if "GlobalJob" in mode:
        mode["GlobalJob"] = {}
    return mode


def _normalize_endpoint(raw: api.EndpointSpec | None) -> api.EndpointSpec:
    from stackctl.convert.service import port_sort_key

    endpoint = api.EndpointSpec(**(raw or {}))
    endpoint["Mode"] = endpoint.get("Mode") or "vip"
    ports = []
    for given in endpoint.get("Ports") or []:
        port = api.PortConfig(**given)
        port["Protocol"] = port.get("Protocol") or "tcp"
        port["PublishMode"] = port.get("PublishMode") or "ingress"
        ports.append(port)
    endpoint["Ports"] = sorted(ports, key=port_sort_key)
    return endpoint


def _normalize_update(raw: api.UpdateConfig | None) -> api.UpdateConfig:
    if raw is None:
        return api.UpdateConfig(**DEFAULT_UPDATE_CONFIG)
    config = api.UpdateConfig(**raw)
    config.setdefault("Parallelism", 0)  # a non-pointer Go field: absent means 0 (all at once)
    config["FailureAction"] = config.get("FailureAction") or "pause"
    config["Order"] = config.get("Order") or "stop-first"
    config["Monitor"] = config.get("Monitor") or DEFAULT_MONITOR
    return config


def _is_empty(value: object) -> bool:
    if value:  # every empty value below is falsy: the common non-empty case returns at once
        return False
    if value is None or value is False:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return True
    return isinstance(value, (str, list, dict)) and len(value) == 0


def _prune_map(value: Mapping[str, object], parent: str) -> dict[str, object]:
    """Drop empty and zero values bottom-up, except the meaningful zeros in `_KEEP_ZERO`."""
    out: dict[str, object] = {}
    for key, item in value.items():
        pruned = _prune(item, key) if isinstance(item, (dict, list)) and key not in _OPAQUE else item
        if (parent, key) in _KEEP_ZERO:
            if pruned is not None:
                out[key] = pruned
        elif not _is_empty(pruned):
            out[key] = pruned
    return out


def _prune(value: object, parent: str) -> object:
    if isinstance(value, dict):
        return _prune_map(value, parent)
    if isinstance(value, list):
        return [_prune(item, parent) if isinstance(item, (dict, list)) else item for item in value]
    return value
