"""One-key changes of a base stack for the transition oracle, generated from the compose schema.

The key list comes from `schemas/compose-<BASE_VERSION>.json`: every leaf property under the
service definition (objects are walked, list items and map patterns too). Each leaf gets its
example change from `EXAMPLES` (a hand-written value where a generic one would be invalid) or,
failing that, from `BY_TYPE` (a value per schema type/format), unless `SKIPPED` says why it is not
tested. So a key a future schema adds is tested with a generic value, or fails `uncovered()`.

A case is a chain of service states starting and ending at the base (`[{}, change, {}]` for most):
each state is a patch on the base service, and every adjacent pair is one checked transition.
"""

from __future__ import annotations

import copy
import json
import random
from dataclasses import dataclass, field
from typing import Any

from tests.paths import REPO

BASE_VERSION = "3.13"
SCHEMA = REPO / "schemas" / f"compose-{BASE_VERSION}.json"
SERVICE = "app"
DELETE = object()  # a patch value that removes the key
# Host-mode ports never clash between stacks while no task runs (replicas 0); still, stay away
# from ports other tests on the shared lab publish.
HOST_PORT = random.randrange(30000, 32000)

# The base service: small, no task runs (replicas 0), and one item in each list of objects so
# their keys can be changed one at a time.
BASE_SERVICE: dict[str, Any] = {
    "image": "busybox:latest",
    "command": ["sleep", "3600"],
    "ports": [{"target": 80, "mode": "host"}],
    "volumes": [{"type": "volume", "source": "data", "target": "/data"}],
    "secrets": [{"source": "pw"}],
    "configs": [{"source": "conf"}],
    "networks": {"back": None},
    "deploy": {"replicas": 0},
}
BASE_FILES = {"pw.txt": "s3cret\n", "pw2.txt": "other\n", "conf.txt": "conf=1\n", "conf2.txt": "conf=2\n",
              "env.txt": "FROM_FILE=1\n", "spec.json": "{}\n"}


def base_stack() -> dict[str, Any]:
    """The whole base file: `app` plus a second service and the objects the cases refer to."""
    return {
        "version": BASE_VERSION,
        "services": {
            SERVICE: copy.deepcopy(BASE_SERVICE),
            "other": {"image": "busybox:latest", "deploy": {"replicas": 0}},
        },
        "networks": {"back": {"driver": "overlay"}},
        "volumes": {"data": {}, "data2": {}},
        "secrets": {"pw": {"file": "./pw.txt"}, "pw2": {"file": "./pw2.txt"}},
        "configs": {"conf": {"file": "./conf.txt"}, "conf2": {"file": "./conf2.txt"}},
    }


# --- the schema's leaf keys ----------------------------------------------------------------------


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref:
        return _resolve(schema, schema["definitions"][ref.rsplit("/", 1)[-1]])
    return node


def _object_alternative(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any] | None:
    """The object form of a node (directly, or the object branch of an anyOf)."""
    node = _resolve(schema, node)
    if "properties" in node or "patternProperties" in node:
        return node
    for alt in node.get("anyOf") or node.get("oneOf") or []:
        alt = _resolve(schema, alt)
        if "properties" in alt or "patternProperties" in alt:
            return alt
    return None


def _is_record(schema: dict[str, Any], node: dict[str, Any]) -> bool:
    """True for an object with named properties and no scalar alternative (walked into)."""
    node = _resolve(schema, node)
    alts = [_resolve(schema, a) for a in node.get("anyOf") or [node]]
    records = [a for a in alts if "properties" in a]
    return bool(records) and all("properties" in a or a.get("type") == "null" for a in alts)


def _leaves(schema: dict[str, Any], node: dict[str, Any], path: str) -> list[tuple[str, dict[str, Any]]]:
    """Leaves under `node`: records are walked, list items at `.0`, maps of records at `.<name>`;
    a map of scalars (labels, sysctls, ulimits...) is one leaf."""
    node = _resolve(schema, node)
    items = node.get("items")
    if isinstance(items, dict) and _object_alternative(schema, items) is not None:
        return _leaves(schema, _object_alternative(schema, items) or {}, f"{path}.0")
    obj = _object_alternative(schema, node)
    if obj is None or "properties" not in obj and not path:
        return [(path, node)]
    out: list[tuple[str, dict[str, Any]]] = []
    for key, sub in (obj.get("properties") or {}).items():
        out += _leaves(schema, sub, f"{path}.{key}" if path else key)
    if "properties" not in obj:  # a map
        values = list((obj.get("patternProperties") or {}).values())
        if values and _is_record(schema, values[0]):
            record = _object_alternative(schema, values[0]) or {}
            out += _leaves(schema, record, f"{path}.<name>")
        else:
            out.append((path, node))
    return out


def schema_leaves() -> dict[str, dict[str, Any]]:
    """Dotted leaf path (list items as `.0`, map keys as `.<name>`) → its schema node."""
    schema = json.loads(SCHEMA.read_text())
    service = schema["definitions"]["service"]
    return {path: node for path, node in _leaves(schema, service, "") if not path.startswith("x-")}


# --- example values ------------------------------------------------------------------------------

# Leaf → list of (label, patch). A patch maps dotted paths (on the base service) to new values.
EXAMPLES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    # swarm refuses to change a service's mode in place: both tools must refuse it
    "deploy.mode": [("global", {"deploy.mode": "global", "deploy.replicas": DELETE})],
    "deploy.endpoint_mode": [("dnsrr", {"deploy.endpoint_mode": "dnsrr"})],
    "deploy.replicas": [("2", {"deploy.replicas": 2}), ("unset", {"deploy.replicas": DELETE})],
    "deploy.labels": [("map", {"deploy.labels": {"tr.label": "v"}}),
                      ("list", {"deploy.labels": ["tr.label=v"]})],
    "deploy.rollback_config.failure_action": [
        ("continue", {"deploy.rollback_config.failure_action": "continue"})],
    "deploy.update_config.failure_action": [
        ("rollback", {"deploy.update_config.failure_action": "rollback"})],
    "deploy.resources.limits.cpus": [("0.5", {"deploy.resources.limits.cpus": "0.5"})],
    "deploy.resources.reservations.cpus": [("0.25", {"deploy.resources.reservations.cpus": "0.25"})],
    "deploy.resources.reservations.generic_resources.0.discrete_resource_spec.kind": [
        ("gpu", {"deploy.resources.reservations.generic_resources":
                 [{"discrete_resource_spec": {"kind": "gpu", "value": 1}}]})],
    "deploy.resources.reservations.generic_resources.0.discrete_resource_spec.value": [
        ("2", {"deploy.resources.reservations.generic_resources":
               [{"discrete_resource_spec": {"kind": "gpu", "value": 2}}]})],
    "deploy.restart_policy.condition": [("on-failure", {"deploy.restart_policy.condition": "on-failure"})],
    "deploy.placement.constraints": [("role", {"deploy.placement.constraints": ["node.role == manager"]})],
    "deploy.placement.preferences.0.spread": [
        ("zone", {"deploy.placement.preferences": [{"spread": "node.labels.zone"}]})],
    "build.context": [("dir", {"build": "."})],
    "cap_add": [("NET_ADMIN", {"cap_add": ["NET_ADMIN"]})],
    "cap_drop": [("CHOWN", {"cap_drop": ["CHOWN"]})],
    "cgroupns_mode": [("host", {"cgroupns_mode": "host"})],
    "command": [("string", {"command": "sleep 7200"}), ("list", {"command": ["sleep", "7200"]}),
                ("unset", {"command": DELETE})],
    "configs.0.source": [("conf2", {"configs.0.source": "conf2"}), ("short", {"configs": ["conf"]})],
    "configs.0.target": [("path", {"configs.0.target": "/etc/tr.conf"})],
    "configs.0.mode": [("0440", {"configs.0.mode": 0o440})],
    "credential_spec.file": [("file", {"credential_spec": {"file": "spec.json"}})],
    "credential_spec.registry": [("registry", {"credential_spec": {"registry": "tr-spec"}})],
    "credential_spec.config": [("config", {"credential_spec": {"config": "conf"}})],
    "depends_on": [("other", {"depends_on": ["other"]})],
    "devices": [("null", {"devices": ["/dev/null:/dev/null"]})],
    "dns": [("list", {"dns": ["10.0.0.53"]}), ("string", {"dns": "10.0.0.53"})],
    "dns_search": [("list", {"dns_search": ["example.org"]})],
    "entrypoint": [("list", {"entrypoint": ["/bin/sh", "-c"]}), ("string", {"entrypoint": "/bin/sh -c"})],
    "env_file": [("file", {"env_file": ["./env.txt"]})],
    "environment": [("map", {"environment": {"A": "1"}}), ("list", {"environment": ["A=1"]}),
                    ("bare", {"environment": {"A": None}})],
    "expose": [("8080", {"expose": ["8080"]})],
    "external_links": [("link", {"external_links": ["other:o"]})],
    "extra_hosts": [("list", {"extra_hosts": ["tr.host:10.0.0.7"]}),
                    ("map", {"extra_hosts": {"tr.host": "10.0.0.7"}})],
    "healthcheck.test": [("list", {"healthcheck.test": ["CMD", "true"]}),
                         ("string", {"healthcheck.test": "true"})],
    "healthcheck.disable": [("true", {"healthcheck.disable": True})],
    "healthcheck.retries": [("3", {"healthcheck.retries": 3})],
    "image": [("tag", {"image": "busybox:1.36"})],
    "init": [("true", {"init": True}), ("false", {"init": False})],
    "ipc": [("host", {"ipc": "host"})],
    "isolation": [("default", {"isolation": "default"})],
    "labels": [("map", {"labels": {"tr.label": "v"}})],
    "links": [("other", {"links": ["other"]})],
    "logging.driver": [("json-file", {"logging.driver": "json-file"})],
    "logging.options": [("max-size", {"logging.options": {"max-size": "1m"}})],
    "mac_address": [("mac", {"mac_address": "02:42:ac:11:00:09"})],
    "network_mode": [("host", {"network_mode": "host"})],
    "networks.<name>.aliases": [("alias", {"networks.back.aliases": ["tr-alias"]})],
    "networks.<name>.ipv4_address": [("ip", {"networks.back.ipv4_address": "10.0.9.9"})],
    "networks.<name>.ipv6_address": [("ip", {"networks.back.ipv6_address": "fd00::9"})],
    "networks.<name>.driver_opts": [("opt", {"networks.back.driver_opts": {"tr.opt": "1"}})],
    "oom_score_adj": [("100", {"oom_score_adj": 100})],
    "pid": [("host", {"pid": "host"})],
    "ports.0.mode": [("ingress", {"ports.0.mode": "ingress"})],
    "ports.0.target": [("81", {"ports.0.target": 81}),
                       ("short", {"ports": ["80"]}),
                       ("short-udp", {"ports": ["80/udp"]}),
                       ("short-tcp-udp", {"ports": ["80/tcp/udp"]}),
                       ("short-range", {"ports": ["80-81"]})],
    "ports.0.published": [("host-port", {"ports.0.published": HOST_PORT})],
    "ports.0.protocol": [("udp", {"ports.0.protocol": "udp"}), ("tcp", {"ports.0.protocol": "tcp"})],
    "privileged": [("true", {"privileged": True})],
    "read_only": [("true", {"read_only": True}), ("false", {"read_only": False})],
    "restart": [("on-failure", {"restart": "on-failure:3"})],
    "secrets.0.source": [("pw2", {"secrets.0.source": "pw2"}), ("short", {"secrets": ["pw"]})],
    "secrets.0.target": [("name", {"secrets.0.target": "tr_pw"})],
    "secrets.0.mode": [("0400", {"secrets.0.mode": 0o400})],
    "security_opt": [("nnp", {"security_opt": ["no-new-privileges"]})],
    "shm_size": [("64M", {"shm_size": "64M"})],
    "stop_signal": [("SIGINT", {"stop_signal": "SIGINT"})],
    "sysctls": [("map", {"sysctls": {"net.core.somaxconn": "1024"}}),
                ("list", {"sysctls": ["net.core.somaxconn=1024"]})],
    "tmpfs": [("run", {"tmpfs": ["/run"]})],
    "ulimits": [("soft-hard", {"ulimits": {"nofile": {"soft": 1024, "hard": 2048}}}),
                       ("single", {"ulimits": {"nproc": 512}})],
    "user": [("1000", {"user": "1000"})],
    "userns_mode": [("host", {"userns_mode": "host"})],
    "working_dir": [("tmp", {"working_dir": "/tmp"})],
    "volumes.0.type": [("tmpfs", {"volumes": [{"type": "tmpfs", "target": "/data"}]}),
                       ("bind", {"volumes": [{"type": "bind", "source": "/tmp", "target": "/data"}]}),
                       ("short", {"volumes": ["data:/data"]}),
                       ("short-ro", {"volumes": ["data:/data:ro"]})],
    "volumes.0.source": [("data2", {"volumes.0.source": "data2"})],
    "volumes.0.consistency": [("cached", {"volumes.0.consistency": "cached"})],
    "volumes.0.bind.propagation": [
        ("rshared", {"volumes": [{"type": "bind", "source": "/tmp", "target": "/data",
                                  "bind": {"propagation": "rshared"}}]})],
    "volumes.0.tmpfs.size": [("1M", {"volumes": [{"type": "tmpfs", "target": "/data",
                                                   "tmpfs": {"size": 1048576}}]})],
}

# Keys not tested, and why.
SKIPPED: dict[str, str] = {
    "build.dockerfile": "build is ignored by swarm; one build case (build.context) covers it",
    "build.args": "build is ignored by swarm; one build case (build.context) covers it",
    "build.cache_from": "build is ignored by swarm; one build case (build.context) covers it",
    "build.labels": "build is ignored by swarm; one build case (build.context) covers it",
    "build.network": "build is ignored by swarm; one build case (build.context) covers it",
    "build.target": "build is ignored by swarm; one build case (build.context) covers it",
    "build.shm_size": "build is ignored by swarm; one build case (build.context) covers it",
    "build.extra_hosts": "build is ignored by swarm; one build case (build.context) covers it",
}

# A generic new value per schema type/format, for leaves without an EXAMPLES entry.
BY_TYPE: dict[str, Any] = {
    "duration": "7s",
    "bytes": "64M",
    "integer": 3,
    "number": 0.5,
    "boolean": True,
    "string": "tr-value",
}
# Known-safe overrides of the generic value for a few scalar leaves (same shape as BY_TYPE).
SCALARS: dict[str, Any] = {
    "deploy.rollback_config.max_failure_ratio": 0.5,
    "deploy.update_config.max_failure_ratio": 0.5,
    "deploy.rollback_config.order": "start-first",
    "deploy.update_config.order": "start-first",
    "deploy.resources.limits.pids": 100,
    "deploy.placement.max_replicas_per_node": 2,
    "configs.0.uid": "1000",
    "configs.0.gid": "1000",
    "secrets.0.uid": "1000",
    "secrets.0.gid": "1000",
    "cgroup_parent": "tr-parent",
    "domainname": "example.org",
    "hostname": "tr-host",
    "volumes.0.target": "/data2",
}


def _generic(path: str, node: dict[str, Any]) -> Any:
    if path in SCALARS:
        return SCALARS[path]
    fmt = node.get("format")
    if fmt in BY_TYPE:
        return BY_TYPE[fmt]
    kinds = node.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    for kind in ("boolean", "integer", "number", "string"):
        if kind in kinds:
            return BY_TYPE[kind]
    return None


@dataclass
class Case:
    """A chain of service patches (each a state), from the base back to the base."""

    name: str
    key: str
    states: list[dict[str, Any]] = field(default_factory=list)

    def transitions(self) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """(id, from patch, to patch) for each adjacent pair of states."""
        out = []
        for index, (before, after) in enumerate(zip(self.states, self.states[1:], strict=False)):
            if len(self.states) == 3:
                step = "apply" if index == 0 else "revert"
            else:
                step = f"step{index + 1}"
            out.append((f"{self.name} {step}", before, after))
        return out

    def describe(self, patch: dict[str, Any]) -> str:
        if not patch:
            return "base"
        return ", ".join(f"{k}: {'<unset>' if v is DELETE else json.dumps(v)}" for k, v in patch.items())


def cases() -> list[Case]:
    """Every case: one per example of each schema leaf, then the hand-made chains."""
    out: list[Case] = []
    for path, node in schema_leaves().items():
        if path in SKIPPED:
            continue
        examples = EXAMPLES.get(path)
        if examples is None:
            value = _generic(path, node)
            if value is None:
                continue  # reported by uncovered()
            examples = [(str(value), {path: value})]
        for label, patch in examples:
            out.append(Case(f"{path}={label}", path, [{}, patch, {}]))
    # Chains: a value to another value, not only from unset.
    out.append(Case("init=true->false", "init", [{}, {"init": True}, {"init": False}, {"init": True}, {}]))
    out.append(Case("healthcheck.start_interval+interval", "healthcheck.start_interval",
                    [{}, {"healthcheck.interval": "7s"},
                     {"healthcheck.interval": "7s", "healthcheck.start_interval": "2s"},
                     {"healthcheck.interval": "7s"}, {}]))
    out.append(Case("read_only=true->false", "read_only",
                    [{}, {"read_only": True}, {"read_only": False}, {}]))
    return out


def uncovered() -> list[str]:
    """Schema leaves with neither an example, a generic value, nor a reason to skip them."""
    leaves = schema_leaves()
    return sorted(p for p, node in leaves.items()
                  if p not in SKIPPED and p not in EXAMPLES and _generic(p, node) is None)


def stale_entries() -> list[str]:
    """EXAMPLES/SKIPPED/SCALARS keys the schema no longer has."""
    leaves = schema_leaves()
    return sorted(k for k in (*EXAMPLES, *SKIPPED, *SCALARS) if k not in leaves)


def apply_patch(service: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """A copy of `service` with each dotted path set (`.0` indexes a list; None parents become {})."""
    out = copy.deepcopy(service)
    for dotted, value in patch.items():
        parts = dotted.split(".")
        node: Any = out
        for index, part in enumerate(parts[:-1]):
            key: Any = int(part) if isinstance(node, list) else part
            child = node[key] if (isinstance(node, list) or key in node) else None
            if child is None:
                child = [{}] if parts[index + 1].isdigit() else {}
                node[key] = child
            node = child
        last: Any = int(parts[-1]) if isinstance(node, list) else parts[-1]
        if value is DELETE:
            node.pop(last, None)
        else:
            node[last] = copy.deepcopy(value)
    return out
