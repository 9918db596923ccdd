"""The compose fields stackctl knows, in one table: the one home of every compose key.

One row per key of the normalised stack (the data `docker stack config` prints), in the
order the reference prints it. A row says
- `path`: where the key is, from the file's top: `services.*.deploy.update_config.delay`
  (`*`: any name of a map, `[]`: any element of a list);
- `load`: how `load/normalize.py` makes its value (a name of one of its converters; `struct` /
  `struct!` a mapping of the rows below it, `!` keeping `{}`; `code`: the normaliser's own code;
  None: not kept by the normaliser, only named here for the plan's words);
- `engine`: the Engine API ServiceSpec field(s) the key becomes (dotted paths), for the plan's
  and history's words (`plan/compose_terms.py`);
- `unit`: the grammar of its value (`units.py`): durations, byte sizes, CPU counts, the mode;
- `cast`: the type an interpolated string becomes here (`${N}` in `replicas: ${N}`), as the
  reference's loader casts it: int, float, bool (None: stays a string);
- `merge`: how a later file's value joins an earlier one's (`load/merge.py`, the reference's rules):
  `deep` (maps merge, lists append), `replace`, `string_map` (an empty value does not clear),
  `by:KEY` (a list merged by its elements' KEY, sorted by it), or a rule of its own (`logging`...);
- `elements`: a list or map the plan shows element by element (`environment.LEVEL: info → debug`,
  `ports: + 8080:80/tcp`), not whole;
- `ordered`: False for a key the reference prints among the sorted rest (not a field of its struct).

What reads it: `load/order.py` (key order), `load/normalize.py` (which converter, which keys a
struct keeps), `plan/compose_terms.py` (engine path → compose key and unit) and `history.py`
(the compose key of an engine path).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

Unit = Literal["text", "duration", "bytes", "cpus", "mode"]
Cast = Literal["int", "float", "bool"]
Merge = Literal["deep", "replace", "string_map", "by:published", "by:target", "by:source", "logging",
                "networks", "ulimits", "depends_on"]

LoadKind = Literal[
    "str", "bool", "ptr_bool", "int", "ptr_int", "float", "duration", "ptr_duration", "size", "str_list",
    "shell_command", "labels", "mapping_nullable", "string_map", "hosts", "any", "depends_on",
    "healthcheck_test", "struct", "struct!", "list", "build", "file_ref", "ulimits", "ulimit", "networks",
    "code",
]


@dataclass(frozen=True)
class ComposeField:
    """One compose key (see the module's doc)."""

    path: str
    load: LoadKind | None
    engine: tuple[str, ...] = ()
    unit: Unit = "text"
    ordered: bool = True
    elements: bool = False
    cast: Cast | None = None
    merge: Merge = "deep"

    @property
    def parts(self) -> tuple[str, ...]:
        return split_path(self.path)

    @property
    def key(self) -> str:
        """The row's own key: `delay` (`[]`/`*` for an element)."""
        return self.parts[-1]

    @property
    def service_key(self) -> str | None:
        """The key under `services.NAME` (`deploy.update_config.delay`), None outside a service."""
        parts = self.parts
        if parts[:2] != ("services", "*") or len(parts) < 3:
            return None
        return ".".join(parts[2:])


def split_path(path: str) -> tuple[str, ...]:
    """`services.*.ports[].mode` -> ("services", "*", "ports", "[]", "mode")."""
    out: list[str] = []
    for part in path.split("."):
        if part.endswith("[]"):
            out += [part[:-2], "[]"]
        else:
            out.append(part)
    return tuple(out)


_CS = "TaskTemplate.ContainerSpec."
_HC = _CS + "Healthcheck."
_RES = "TaskTemplate.Resources."
_RP = "TaskTemplate.RestartPolicy."
_PL = "TaskTemplate.Placement."
_S = "services.*."


def _f(path: str, load: LoadKind | None, *engine: str, unit: Unit = "text", ordered: bool = True,
       elements: bool = False, cast: Cast | None = None, merge: Merge = "deep") -> ComposeField:
    return ComposeField(path, load, engine, unit, ordered, elements, cast, merge)


def _casting(rows: list[ComposeField], casts: dict[str, Cast]) -> list[ComposeField]:
    """`rows` with the interpolation casts of `casts` (path -> type) set."""
    out = [dataclasses.replace(row, cast=casts[row.path]) if row.path in casts else row for row in rows]
    missing = set(casts) - {row.path for row in rows}
    if missing:
        raise AssertionError(f"casts for no row: {sorted(missing)}")
    return out


def _each(at: str, rows: Sequence[tuple[str, LoadKind]]) -> list[ComposeField]:
    """Rows `at.KEY`, one per (KEY, load)."""
    return [_f(f"{at}.{key}", load) for key, load in rows]


def _update(key: str, engine: str) -> list[ComposeField]:
    at = f"{_S}deploy.{key}"
    return [
        _f(at, "struct!"),
        _f(f"{at}.parallelism", "ptr_int", f"{engine}.Parallelism"),
        _f(f"{at}.delay", "duration", f"{engine}.Delay", unit="duration"),
        _f(f"{at}.failure_action", "str", f"{engine}.FailureAction"),
        _f(f"{at}.monitor", "duration", f"{engine}.Monitor", unit="duration"),
        _f(f"{at}.max_failure_ratio", "float", f"{engine}.MaxFailureRatio"),
        _f(f"{at}.order", "str", f"{engine}.Order"),
    ]


def _resources(key: str, engine: str) -> list[ComposeField]:
    at = f"{_S}deploy.resources.{key}"
    pids = (_CS + "PidsLimit", _RES + "Limits.Pids") if key == "limits" else ()
    return [
        _f(at, "struct!"),
        _f(f"{at}.cpus", "str", f"{_RES}{engine}.NanoCPUs", unit="cpus"),
        _f(f"{at}.memory", "size", f"{_RES}{engine}.MemoryBytes", unit="bytes"),
        _f(f"{at}.pids", "int", *pids),
        _f(f"{at}.generic_resources", "list",
           *((f"{_RES}{engine}.GenericResources",) if key == "reservations" else ())),
        _f(f"{at}.generic_resources[]", "struct"),
        _f(f"{at}.generic_resources[].discrete_resource_spec", "struct"),
        _f(f"{at}.generic_resources[].discrete_resource_spec.kind", "str"),
        _f(f"{at}.generic_resources[].discrete_resource_spec.value", "int"),
    ]


def _file_ref(at: str, engine: str) -> list[ComposeField]:
    return [
        _f(at, "list", engine, elements=True, merge="by:source"),
        _f(f"{at}[]", "file_ref"),
        *_each(f"{at}[]", (
            ("source", "str"), ("target", "str"), ("uid", "str"), ("gid", "str"), ("mode", "ptr_int"))),
    ]


_SERVICE: list[ComposeField] = [
    _f("services.*", "code"),
    _f(_S + "build", "build"),
    *_each(_S + "build", (
        ("context", "str"), ("dockerfile", "str"), ("args", "mapping_nullable"), ("labels", "labels"),
        ("cache_from", "str_list"), ("extra_hosts", "hosts"), ("network", "str"), ("target", "str"))),
    _f(_S + "cap_add", "str_list", _CS + "CapabilityAdd", elements=True),
    _f(_S + "cap_drop", "str_list", _CS + "CapabilityDrop", elements=True),
    _f(_S + "cgroupns_mode", "str"),
    _f(_S + "cgroup_parent", "str"),
    _f(_S + "command", "shell_command", _CS + "Args", merge="replace"),
    *_file_ref(_S + "configs", _CS + "Configs"),
    _f(_S + "container_name", "str"),
    _f(_S + "credential_spec", "struct", _CS + "Privileges.CredentialSpec"),
    _f(_S + "credential_spec.config", "str"),
    _f(_S + "credential_spec.file", "str"),
    _f(_S + "credential_spec.registry", "str"),
    _f(_S + "depends_on", "depends_on", merge="depends_on"),
    _f(_S + "deploy", "struct"),
    _f(_S + "deploy.mode", "str", "Mode", unit="mode"),
    _f(_S + "deploy.replicas", "ptr_int", "Mode.Replicated.Replicas"),
    _f(_S + "deploy.labels", "labels", "Labels", elements=True),
    *_update("update_config", "UpdateConfig"),
    *_update("rollback_config", "RollbackConfig"),
    _f(_S + "deploy.resources", "struct"),
    *_resources("limits", "Limits"),
    *_resources("reservations", "Reservations"),
    _f(_S + "deploy.restart_policy", "struct!"),
    _f(_S + "deploy.restart_policy.condition", "str", _RP + "Condition"),
    _f(_S + "deploy.restart_policy.delay", "ptr_duration", _RP + "Delay", unit="duration"),
    _f(_S + "deploy.restart_policy.max_attempts", "ptr_int", _RP + "MaxAttempts"),
    _f(_S + "deploy.restart_policy.window", "ptr_duration", _RP + "Window", unit="duration"),
    _f(_S + "deploy.placement", "struct"),
    _f(_S + "deploy.placement.constraints", "str_list", _PL + "Constraints", elements=True),
    _f(_S + "deploy.placement.preferences", "list", _PL + "Preferences", elements=True),
    _f(_S + "deploy.placement.preferences[]", "struct"),
    _f(_S + "deploy.placement.preferences[].spread", "str"),
    _f(_S + "deploy.placement.max_replicas_per_node", "int", _PL + "MaxReplicas"),
    _f(_S + "deploy.endpoint_mode", "str", "EndpointSpec.Mode"),
    _f(_S + "devices", "str_list"),
    _f(_S + "dns", "str_list", _CS + "DNSConfig.Nameservers", elements=True),
    _f(_S + "dns_opt", None, _CS + "DNSConfig.Options"),
    _f(_S + "dns_search", "str_list", _CS + "DNSConfig.Search", elements=True),
    _f(_S + "domainname", "str"),
    _f(_S + "entrypoint", "shell_command", _CS + "Command", merge="replace"),
    _f(_S + "environment", "code", _CS + "Env", elements=True, merge="string_map"),
    _f(_S + "env_file", "str_list"),
    _f(_S + "expose", "str_list"),
    _f(_S + "external_links", "str_list"),
    _f(_S + "extra_hosts", "hosts", _CS + "Hosts", elements=True),
    _f(_S + "hostname", "str", _CS + "Hostname"),
    _f(_S + "healthcheck", "struct!"),
    _f(_S + "healthcheck.test", "healthcheck_test", _HC + "Test"),
    _f(_S + "healthcheck.timeout", "ptr_duration", _HC + "Timeout", unit="duration"),
    _f(_S + "healthcheck.interval", "ptr_duration", _HC + "Interval", unit="duration"),
    _f(_S + "healthcheck.retries", "ptr_int", _HC + "Retries"),
    _f(_S + "healthcheck.start_period", "ptr_duration", _HC + "StartPeriod", unit="duration"),
    _f(_S + "healthcheck.start_interval", "ptr_duration", _HC + "StartInterval", unit="duration"),
    _f(_S + "healthcheck.disable", "bool"),
    _f(_S + "image", "str", _CS + "Image"),
    _f(_S + "init", "ptr_bool", _CS + "Init"),
    _f(_S + "ipc", "str"),
    _f(_S + "isolation", "str", _CS + "Isolation"),
    _f(_S + "labels", "labels", _CS + "Labels", elements=True, merge="string_map"),
    _f(_S + "links", "str_list"),
    _f(_S + "logging", "struct!", merge="logging"),
    _f(_S + "logging.driver", "str", "TaskTemplate.LogDriver.Name"),
    _f(_S + "logging.options", "string_map", "TaskTemplate.LogDriver.Options", elements=True),
    _f(_S + "mac_address", "str"),
    _f(_S + "network_mode", "str"),
    _f(_S + "networks", "networks", "TaskTemplate.Networks", elements=True, merge="networks"),
    _f(_S + "networks.*", "struct!"),
    _f(_S + "networks.*.aliases", "str_list"),
    _f(_S + "networks.*.driver_opts", "string_map"),
    _f(_S + "networks.*.ipv4_address", "str"),
    _f(_S + "networks.*.ipv6_address", "str"),
    _f(_S + "oom_score_adj", None, _CS + "OomScoreAdj"),
    _f(_S + "pid", "str"),
    _f(_S + "ports", "code", "EndpointSpec.Ports", elements=True, merge="by:published"),
    _f(_S + "ports[]", "struct!"),
    _f(_S + "ports[].mode", "str"),
    _f(_S + "ports[].target", "int"),
    _f(_S + "ports[].published", "int"),
    _f(_S + "ports[].protocol", "str"),
    _f(_S + "privileged", "bool"),
    _f(_S + "read_only", "bool", _CS + "ReadOnly"),
    _f(_S + "restart", "str"),
    *_file_ref(_S + "secrets", _CS + "Secrets"),
    _f(_S + "security_opt", "str_list"),
    _f(_S + "shm_size", "str"),
    _f(_S + "stdin_open", "bool", _CS + "OpenStdin"),
    _f(_S + "stop_grace_period", "ptr_duration", _CS + "StopGracePeriod", unit="duration"),
    _f(_S + "stop_signal", "str", _CS + "StopSignal"),
    _f(_S + "sysctls", "labels", _CS + "Sysctls", elements=True, merge="string_map"),
    _f(_S + "tmpfs", "str_list"),
    _f(_S + "tty", "bool", _CS + "TTY"),
    _f(_S + "ulimits", "ulimits", _CS + "Ulimits", elements=True, merge="ulimits"),
    _f(_S + "ulimits.*", "ulimit"),
    _f(_S + "ulimits.*.soft", "int"),
    _f(_S + "ulimits.*.hard", "int"),
    _f(_S + "user", "str", _CS + "User"),
    _f(_S + "userns_mode", "str"),
    _f(_S + "volumes", "code", _CS + "Mounts", elements=True, merge="by:target"),
    _f(_S + "volumes[]", "struct!"),
    *_each(_S + "volumes[]", (
        ("type", "str"), ("source", "str"), ("target", "str"), ("read_only", "bool"), ("consistency", "str"),
        ("bind", "struct!"), ("bind.propagation", "str"),
        ("volume", "struct!"), ("volume.nocopy", "bool"), ("volume.subpath", "str"),
        ("tmpfs", "struct!"))),
    _f(_S + "volumes[].tmpfs.size", "int", unit="bytes"),
    _f(_S + "working_dir", "str", _CS + "Dir"),
]

_CLUSTER = "volumes.*.x-cluster-spec"
_TOPOLOGY: list[tuple[str, LoadKind]] = [("", "list"), ("[]", "struct!"), ("[].segments", "labels")]

_SECTIONS: list[ComposeField] = [
    _f("networks", "code"),
    _f("networks.*", "struct!"),
    *_each("networks.*", (
        ("name", "str"), ("driver", "str"), ("driver_opts", "string_map"), ("ipam", "struct"),
        ("ipam.driver", "str"), ("ipam.config", "list"), ("ipam.config[]", "struct"),
        ("ipam.config[].subnet", "str"), ("external", "code"), ("internal", "bool"),
        ("attachable", "bool"), ("labels", "labels"))),
    _f("volumes", "code"),
    _f("volumes.*", "struct!"),
    *_each("volumes.*", (
        ("name", "str"), ("driver", "str"), ("driver_opts", "string_map"), ("external", "code"),
        ("labels", "labels"), ("x-cluster-spec", "struct"))),
    _f(_CLUSTER + ".group", "str"),
    _f(_CLUSTER + ".access_mode", "struct"),
    *_each(_CLUSTER + ".access_mode", (
        ("scope", "str"), ("sharing", "str"), ("block_volume", "any"), ("mount_volume", "any"))),
    _f(_CLUSTER + ".accessibility_requirements", "struct"),
    *(_f(f"{_CLUSTER}.accessibility_requirements.{key}{rest}", load)
      for key in ("requisite", "preferred") for rest, load in _TOPOLOGY),
    _f(_CLUSTER + ".capacity_range", "struct"),
    _f(_CLUSTER + ".capacity_range.required_bytes", "size", unit="bytes"),
    _f(_CLUSTER + ".capacity_range.limit_bytes", "size", unit="bytes"),
    _f(_CLUSTER + ".secrets", "list"),
    _f(_CLUSTER + ".secrets[]", "struct"),
    _f(_CLUSTER + ".secrets[].key", "str"),
    _f(_CLUSTER + ".secrets[].secret", "str"),
    _f(_CLUSTER + ".availability", "str"),
]
for _kind in ("secrets", "configs"):
    # the same fields; the reference's config struct has no driver, driver_opts or environment
    _SECTIONS += [
        _f(_kind, "code"),
        _f(f"{_kind}.*", "struct!"),
        _f(f"{_kind}.*.name", "str"),
        _f(f"{_kind}.*.file", "str"),
        _f(f"{_kind}.*.external", "code"),
        _f(f"{_kind}.*.labels", "labels"),
        _f(f"{_kind}.*.driver", "str", ordered=_kind == "secrets"),
        _f(f"{_kind}.*.driver_opts", "string_map", ordered=_kind == "secrets"),
        _f(f"{_kind}.*.template_driver", "str"),
        _f(f"{_kind}.*.environment", "str", ordered=False),
    ]

# The reference's interpolation casts (docker/cli's loader): a string from `${VAR}` at these keys
# becomes this type; everywhere else it stays a string (so `pids: ${N}` is a string, as there).
_CASTS: dict[str, Cast] = {
    **{_S + key: "int" for key in (
        "configs[].mode", "secrets[].mode", "healthcheck.retries", "deploy.replicas",
        "deploy.update_config.parallelism", "deploy.rollback_config.parallelism",
        "deploy.restart_policy.max_attempts", "deploy.placement.max_replicas_per_node",
        "ports[].target", "ports[].published", "ulimits.*", "ulimits.*.hard", "ulimits.*.soft",
        "oom_score_adj")},
    **{_S + key: "float" for key in (
        "deploy.update_config.max_failure_ratio", "deploy.rollback_config.max_failure_ratio")},
    **{_S + key: "bool" for key in (
        "privileged", "read_only", "stdin_open", "tty", "healthcheck.disable", "volumes[].read_only",
        "volumes[].volume.nocopy")},
    **dict.fromkeys(("networks.*.external", "networks.*.internal", "networks.*.attachable",
                     "volumes.*.external", "secrets.*.external", "configs.*.external"), "bool"),
}

FIELDS: tuple[ComposeField, ...] = tuple(_casting([
    _f("version", "code"),
    _f("name", "code"),
    _f("services", "code"),
    *_SERVICE,
    *_SECTIONS,
], _CASTS))

BY_PATH: dict[str, ComposeField] = {f.path: f for f in FIELDS}


_CHILDREN: dict[tuple[str, ...], list[ComposeField]] = {}  # a path's parts -> the rows one level below
for _row in FIELDS:
    _CHILDREN.setdefault(_row.parts[:-1], []).append(_row)


def children(path: str) -> Iterator[ComposeField]:
    """The rows one level below `path` ("" for the top), in the table's order."""
    return iter(_CHILDREN.get(split_path(path) if path else (), ()))


# --- the engine's side ------------------------------------------------------------------------

ENGINE_FIELDS: dict[str, ComposeField] = {e: f for f in FIELDS for e in f.engine}
# Longest prefix first, so `Mode.Replicated.Replicas` wins over `Mode`.
_ENGINE_PREFIXES = sorted(ENGINE_FIELDS, key=len, reverse=True)


def engine_field(engine_path: str) -> tuple[ComposeField, str] | None:
    """(the row, the rest of the engine path) for a dotted engine path of a ServiceSpec, or None:
    `EndpointSpec.Ports[0].PublishedPort` -> (the `ports` row, "[0].PublishedPort")."""
    for prefix in _ENGINE_PREFIXES:
        if engine_path == prefix or engine_path.startswith((prefix + ".", prefix + "[")):
            return ENGINE_FIELDS[prefix], engine_path[len(prefix):]
    return None


def compose_key(engine_path: str) -> str | None:
    """The compose key under `services.NAME` that makes an engine field (`deploy.replicas`), or None.

    A block of fields (`UpdateConfig`, `TaskTemplate.Resources`) is the key that holds all of theirs
    (`deploy.update_config`, `deploy.resources`)."""
    found = engine_field(engine_path)
    if found is not None:
        return found[0].service_key
    inside = [tuple(str(f.service_key).split(".")) for e, f in ENGINE_FIELDS.items()
              if e.startswith(engine_path + ".") and f.service_key]
    common: tuple[str, ...] = inside[0] if inside else ()
    for parts in inside[1:]:
        n = 0
        while n < min(len(common), len(parts)) and common[n] == parts[n]:
            n += 1
        common = common[:n]
    return ".".join(common) or None
