"""Key order of the normalised stack, as `docker stack config` prints it.

Struct-like mappings keep a fixed field order (learned from the reference's output);
map-like ones (services, environment, labels, x- content...) are sorted the way Go's
yaml.v3 sorts map keys: runs of digits compare as numbers.
"""

from __future__ import annotations

import functools
from typing import Any

# A spec is ("struct", [keys], {key: spec}) | ("map", spec) | ("list", spec) | None (leaf: sort any map)
Spec = Any


def _struct(keys: str, sub: dict[str, Spec] | None = None) -> Spec:
    return ("struct", keys.split(), sub or {})


def _map(value: Spec = None) -> Spec:
    return ("map", value)


def _list(item: Spec) -> Spec:
    return ("list", item)


_UPDATE = _struct("parallelism delay failure_action monitor max_failure_ratio order")
_RESOURCE = _struct("cpus memory pids generic_resources", {
    "generic_resources": _list(_struct("discrete_resource_spec", {
        "discrete_resource_spec": _struct("kind value")})),
})
_FILE_REF = _list(_struct("source target uid gid mode"))
_SERVICE = _struct(
    "build cap_add cap_drop cgroupns_mode cgroup_parent command configs container_name credential_spec "
    "depends_on deploy devices dns dns_search domainname entrypoint environment env_file expose "
    "external_links extra_hosts hostname healthcheck image init ipc isolation labels links logging "
    "mac_address network_mode networks pid ports privileged read_only restart secrets security_opt "
    "shm_size stdin_open stop_grace_period stop_signal sysctls tmpfs tty ulimits user userns_mode "
    "volumes working_dir",
    {
        "build": _struct("context dockerfile args labels cache_from extra_hosts network target"),
        "configs": _FILE_REF,
        "secrets": _FILE_REF,
        "credential_spec": _struct("config file registry"),
        "deploy": _struct(
            "mode replicas labels update_config rollback_config resources restart_policy placement "
            "endpoint_mode",
            {
                "update_config": _UPDATE,
                "rollback_config": _UPDATE,
                "resources": _struct("limits reservations", {"limits": _RESOURCE, "reservations": _RESOURCE}),
                "restart_policy": _struct("condition delay max_attempts window"),
                "placement": _struct("constraints preferences max_replicas_per_node"),
            },
        ),
        "healthcheck": _struct("test timeout interval retries start_period start_interval disable"),
        "logging": _struct("driver options"),
        "networks": _map(_struct("aliases driver_opts ipv4_address ipv6_address")),
        "ports": _list(_struct("mode target published protocol")),
        "ulimits": _map(_struct("soft hard")),
        "volumes": _list(_struct("type source target read_only consistency bind volume tmpfs", {
            "volume": _struct("nocopy subpath"),
        })),
    },
)
_CLUSTER_SPEC = _struct(
    "group access_mode accessibility_requirements capacity_range secrets availability",
    {
        "access_mode": _struct("scope sharing block_volume mount_volume"),
        "accessibility_requirements": _struct("requisite preferred"),
        "capacity_range": _struct("required_bytes limit_bytes"),
        "secrets": _list(_struct("key secret")),
    },
)
TOP = _struct("version name services networks volumes secrets configs", {
    "services": _map(_SERVICE),
    "networks": _map(_struct("name driver driver_opts ipam external internal attachable labels", {
        "ipam": _struct("driver config", {"config": _list(_struct("subnet"))}),
    })),
    "volumes": _map(_struct("name driver driver_opts external labels x-cluster-spec",
                            {"x-cluster-spec": _CLUSTER_SPEC})),
    "secrets": _map(_struct("name file external labels driver driver_opts template_driver")),
    "configs": _map(_struct("name file external labels template_driver")),
})


def go_key_less(a: str, b: str) -> bool:
    """yaml.v3's map-key order: letters compare as text, digit runs as numbers."""
    digits = False
    for i in range(min(len(a), len(b))):
        ca, cb = a[i], b[i]
        if ca == cb:
            digits = ca.isdigit()
            continue
        al, bl = ca.isalpha(), cb.isalpha()
        if al and bl:
            return ca < cb
        if al or bl:
            return al if digits else bl
        an = bn = 0
        if ca == "0" or cb == "0":
            j = i - 1
            while j >= 0 and a[j].isdigit():
                if a[j] != "0":
                    an = bn = 1
                    break
                j -= 1
        ai = i
        while ai < len(a) and a[ai].isdigit():
            an = an * 10 + int(a[ai])
            ai += 1
        bi = i
        while bi < len(b) and b[bi].isdigit():
            bn = bn * 10 + int(b[bi])
            bi += 1
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return ca < cb
    return len(a) < len(b)


def _cmp(a: str, b: str) -> int:
    if a == b:
        return 0
    return -1 if go_key_less(a, b) else 1


_KEY = functools.cmp_to_key(_cmp)


def sort_keys(keys: list[str]) -> list[str]:
    return sorted(keys, key=_KEY)


def order(value: Any, spec: Spec = TOP) -> Any:
    """A copy of `value` with keys in the reference's printing order."""
    if isinstance(value, dict):
        if spec is not None and spec[0] == "struct":
            _, keys, sub = spec
            out = {k: order(value[k], sub.get(k)) for k in keys if k in value}
            rest = sort_keys([k for k in value if k not in out])
            for k in rest:
                out[k] = order(value[k], None)
            return out
        item_spec = spec[1] if spec is not None and spec[0] == "map" else None
        return {k: order(value[k], item_spec) for k in sort_keys(list(value))}
    if isinstance(value, list):
        item_spec = spec[1] if spec is not None and spec[0] == "list" else None
        return [order(v, item_spec) for v in value]
    return value
