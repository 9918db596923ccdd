#!/usr/bin/env python3
"""Generate stackctl's JSON schemas for Compose file versions 3.0 to 3.13.

Every key is listed once, with the version that added it; `python schemas/generate.py`
writes `schemas/compose-<version>.json` for each version (and `--check` fails if any
committed file differs from what this script would write).

The schemas describe what `docker stack config` (CLI 28) accepts for each version, with one
deliberate superset: network `ipam.config[]` also takes `gateway`, `ip_range` and `aux_addresses`
(the Engine API supports them; the reference schema refuses them).

Formats used (checked by `stackctl.validate.schema`): `duration` (Go duration), `ports` (short
port syntax), `bytes` (byte size such as `512M`).

`schemas/compose-spec.json` is the schema for a file WITHOUT `version:` (a Compose Specification file,
the shape `docker compose config` prints): the 3.13 schema, plus what that shape adds and swarm can use
(top-level `name`, `depends_on` long syntax, `published` as a string, `cpus` as a number, port `host_ip`,
`name`, `app_protocol`), plus every other service key of the Compose Specification (listed from
`schemas/upstream/compose-spec.json`) accepted with any value: stackctl warns that swarm ignores it
(docs/ordering.md). Keys the reference refuses outright (`extends`, `mem_limit`...) stay errors.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

VERSIONS = [f"3.{minor}" for minor in range(14)]
HERE = Path(__file__).resolve().parent
SPEC = "spec"  # the Compose Specification variant: 3.13 plus (see the module docstring)
UPSTREAM_SPEC = HERE / "upstream" / "compose-spec.json"

Schema = dict[str, Any]
# A property table: (key, version that added it, schema of its value).
Table = list[tuple[str, str, Schema]]


def vt(version: str) -> tuple[int, int]:
    if version == SPEC:
        return (3, 13)
    major, minor = version.split(".")
    return int(major), int(minor)


# --- small building blocks -----------------------------------------------------------------

STRING: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "boolean"}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
DURATION: Schema = {"type": "string", "format": "duration"}
BYTES: Schema = {"type": "string", "format": "bytes"}
ANY: Schema = {}
LIST_OF_STRINGS: Schema = {"$ref": "#/definitions/list_of_strings"}
STRING_OR_LIST: Schema = {"$ref": "#/definitions/string_or_list"}
LIST_OR_DICT: Schema = {"$ref": "#/definitions/list_or_dict"}
STRING_MAP: Schema = {"$ref": "#/definitions/string_map"}  # driver_opts: values string or number
EXTENSION = {"^x-": ANY}


def mapping(table: Table, version: str, *, extensions_since: str | None = None,
            closed: bool = True, required: list[str] | None = None,
            extra: dict[str, Schema] | None = None) -> Schema:
    """An object with the keys of `table` that exist in `version`."""
    props = {key: schema for key, since, schema in table if vt(version) >= vt(since)}
    if extra:
        props.update(extra)
    out: Schema = {"type": "object", "properties": props}
    if extensions_since and vt(version) >= vt(extensions_since):
        out["patternProperties"] = dict(EXTENSION)
    if closed:
        out["additionalProperties"] = False
    if required:
        out["required"] = required
    return out


def nullable(schema: Schema) -> Schema:
    out = dict(schema)
    out["type"] = [schema["type"], "null"]
    return out


def one_of_types(*schemas: Schema) -> Schema:
    return {"anyOf": list(schemas)}


def external(version: str) -> Schema:
    return one_of_types(BOOLEAN, mapping([("name", "3.0", STRING)], version))


# --- services ------------------------------------------------------------------------------

def healthcheck(version: str) -> Schema:
    table: Table = [
        ("disable", "3.0", BOOLEAN),
        ("interval", "3.0", DURATION),
        ("retries", "3.0", NUMBER),
        ("test", "3.0", one_of_types(STRING, {"type": "array", "items": STRING})),
        ("timeout", "3.0", DURATION),
        ("start_period", "3.4", DURATION),
        ("start_interval", "3.12", DURATION),
    ]
    return mapping(table, version)


def update_config(version: str) -> Schema:
    table: Table = [
        ("parallelism", "3.0", INTEGER),
        ("delay", "3.0", DURATION),
        ("failure_action", "3.0", STRING),
        ("monitor", "3.0", DURATION),
        ("max_failure_ratio", "3.0", NUMBER),
        ("order", "3.4", {"type": "string", "enum": ["start-first", "stop-first"]}),
    ]
    return mapping(table, version)


# Compose Specification keys a swarm service or object has no field for, by where they sit ("*": any
# name, "[]": any list item). The spec schema accepts them with any value; the list goes into the schema
# as "x-stackctl-ignored", from which stackctl warns once per key (stackctl/load/spec.py).
SPEC_IGNORED: dict[str, list[str]] = {
    "services.*.deploy.resources.reservations": ["devices"],
    "services.*.networks.*": ["gw_priority", "interface_name", "link_local_ips", "mac_address", "priority"],
    "services.*.ports.[]": ["host_ip", "name", "app_protocol"],
    "networks.*": ["enable_ipv4", "enable_ipv6"],
    "networks.*.ipam": ["options"],
}


def spec_ignored() -> dict[str, list[str]]:
    """SPEC_IGNORED, with every service key of the Compose Specification that 3.x does not have."""
    return {"services.*": spec_service_keys(), **SPEC_IGNORED}


def ignored(version: str, where: str) -> dict[str, Schema] | None:
    """The keys ignored at `where`, accepted with any value, in the spec schema only."""
    return {key: ANY for key in spec_ignored()[where]} if version == SPEC else None


def cpus(version: str) -> Schema:
    return {"type": ["string", "number"]} if version == SPEC else STRING


def resources(version: str) -> Schema:
    discrete = mapping([("kind", "3.0", STRING), ("value", "3.0", NUMBER)], version)
    generic = {"type": "array",
               "items": mapping([("discrete_resource_spec", "3.0", discrete)], version)}
    limits: Table = [("cpus", "3.0", cpus(version)), ("memory", "3.0", BYTES), ("pids", "3.9", INTEGER)]
    reservations: Table = [("cpus", "3.0", cpus(version)), ("memory", "3.0", BYTES),
                           ("generic_resources", "3.5", generic)]
    return mapping([
        ("limits", "3.0", mapping(limits, version)),
        ("reservations", "3.0", mapping(reservations, version,
                                        extra=ignored(version, "services.*.deploy.resources.reservations"))),
    ], version)


def deploy(version: str) -> Schema:
    placement: Table = [
        ("constraints", "3.0", {"type": "array", "items": STRING}),
        ("preferences", "3.3", {"type": "array", "items": mapping([("spread", "3.0", STRING)], version)}),
        ("max_replicas_per_node", "3.8", INTEGER),
    ]
    restart_policy: Table = [
        ("condition", "3.0", STRING),
        ("delay", "3.0", DURATION),
        ("max_attempts", "3.0", INTEGER),
        ("window", "3.0", DURATION),
    ]
    table: Table = [
        ("mode", "3.0", STRING),
        ("endpoint_mode", "3.2", STRING),
        ("replicas", "3.0", INTEGER),
        ("labels", "3.0", LIST_OR_DICT),
        ("rollback_config", "3.7", update_config(version)),
        ("update_config", "3.0", update_config(version)),
        ("resources", "3.0", resources(version)),
        ("restart_policy", "3.0", mapping(restart_policy, version)),
        ("placement", "3.0", mapping(placement, version)),
    ]
    return nullable(mapping(table, version))


def build(version: str) -> Schema:
    table: Table = [
        ("context", "3.0", STRING),
        ("dockerfile", "3.0", STRING),
        ("args", "3.0", LIST_OR_DICT),
        ("cache_from", "3.2", LIST_OF_STRINGS),
        ("labels", "3.3", LIST_OR_DICT),
        ("network", "3.4", STRING),
        ("target", "3.4", STRING),
        ("shm_size", "3.5", {"type": ["integer", "string"]}),
        ("extra_hosts", "3.9", LIST_OR_DICT),
    ]
    # 3.11 opened the build object to extra keys (e.g. x-bake).
    return one_of_types(STRING, mapping(table, version, closed=vt(version) < (3, 11)))


def port_item(version: str) -> Schema:
    short = [{"type": "number", "format": "ports"}, {"type": "string", "format": "ports"}]
    if vt(version) < (3, 2):
        return {"anyOf": short}
    long_form: Table = [
        ("mode", "3.0", STRING),
        ("target", "3.0", INTEGER),
        ("published", "3.0", INTEGER),
        ("protocol", "3.0", STRING),
    ]
    if version == SPEC:  # `docker compose config` prints published as a string: "8080"
        long_form[2] = ("published", "3.0", {"type": ["integer", "string"]})
    return {"anyOf": [*short, mapping(long_form, version, extra=ignored(version, "services.*.ports.[]"))]}


def volume_item(version: str) -> Schema:
    if vt(version) < (3, 2):
        return STRING
    long_form: Table = [
        ("type", "3.0", STRING),
        ("source", "3.0", STRING),
        ("target", "3.0", STRING),
        ("read_only", "3.0", BOOLEAN),
        ("consistency", "3.0", STRING),
        # The nested option objects stay open: the reference accepts (and uses) volume.subpath.
        ("bind", "3.0", mapping([("propagation", "3.0", STRING)], version, closed=False)),
        ("volume", "3.0", mapping([("nocopy", "3.0", BOOLEAN)], version, closed=False)),
        ("tmpfs", "3.6", mapping([("size", "3.0", {"type": "integer", "minimum": 0})], version,
                                 closed=False)),
    ]
    return {"anyOf": [STRING, mapping(long_form, version, required=["type"])]}


def file_reference(version: str) -> Schema:
    """Service-level secrets/configs: a name, or {source, target, uid, gid, mode} (open, as upstream)."""
    table: Table = [
        ("source", "3.0", STRING),
        ("target", "3.0", STRING),
        ("uid", "3.0", STRING),
        ("gid", "3.0", STRING),
        ("mode", "3.0", NUMBER),
    ]
    return {"type": "array", "items": one_of_types(STRING, mapping(table, version, closed=False))}


def service_networks(version: str) -> Schema:
    table: Table = [
        ("aliases", "3.0", LIST_OF_STRINGS),
        ("ipv4_address", "3.0", STRING),
        ("ipv6_address", "3.0", STRING),
        ("driver_opts", "3.13", STRING_MAP),
    ]
    per_network = one_of_types(mapping(table, version, extra=ignored(version, "services.*.networks.*")),
                               {"type": "null"})
    as_map = {"type": "object", "patternProperties": {"^[a-zA-Z0-9._-]+$": per_network},
              "additionalProperties": False}
    return one_of_types(LIST_OF_STRINGS, as_map)


def service(version: str) -> Schema:
    credential_spec: Table = [("file", "3.0", STRING), ("registry", "3.0", STRING), ("config", "3.8", STRING)]
    logging: Table = [
        ("driver", "3.0", STRING),
        ("options", "3.0", {"type": "object",
                            "patternProperties": {"^.+$": {"type": ["string", "number", "null"]}}}),
    ]
    ulimit = one_of_types(INTEGER, mapping([("hard", "3.0", INTEGER), ("soft", "3.0", INTEGER)], version,
                                           required=["soft", "hard"]))
    table: Table = [
        ("deploy", "3.0", deploy(version)),
        ("build", "3.0", build(version)),
        ("cap_add", "3.0", LIST_OF_STRINGS),
        ("cap_drop", "3.0", LIST_OF_STRINGS),
        ("cgroup_parent", "3.0", STRING),
        ("cgroupns_mode", "3.9", STRING),
        ("command", "3.0", one_of_types(STRING, {"type": "array", "items": STRING})),
        ("configs", "3.3", file_reference(version)),
        ("container_name", "3.0", STRING),
        ("credential_spec", "3.3", mapping(credential_spec, version)),
        ("depends_on", "3.0", depends_on(version)),
        ("devices", "3.0", LIST_OF_STRINGS),
        ("dns", "3.0", STRING_OR_LIST),
        ("dns_search", "3.0", STRING_OR_LIST),
        ("domainname", "3.0", STRING),
        ("entrypoint", "3.0", one_of_types(STRING, {"type": "array", "items": STRING})),
        ("env_file", "3.0", env_file(version)),
        ("environment", "3.0", LIST_OR_DICT),
        ("expose", "3.0", {"type": "array", "items": {"type": ["string", "number"]}, "uniqueItems": True}),
        ("external_links", "3.0", LIST_OF_STRINGS),
        ("extra_hosts", "3.0", LIST_OR_DICT),
        ("healthcheck", "3.0", healthcheck(version)),
        ("hostname", "3.0", STRING),
        ("image", "3.0", STRING),
        ("init", "3.7", BOOLEAN),
        ("ipc", "3.0", STRING),
        ("isolation", "3.5", STRING),
        ("labels", "3.0", LIST_OR_DICT),
        ("links", "3.0", LIST_OF_STRINGS),
        ("logging", "3.0", mapping(logging, version)),
        ("mac_address", "3.0", STRING),
        ("network_mode", "3.0", STRING),
        ("networks", "3.0", service_networks(version)),
        ("oom_score_adj", "3.13", INTEGER),
        ("pid", "3.0", {"type": ["string", "null"]}),
        ("ports", "3.0", {"type": "array", "items": port_item(version), "uniqueItems": True}),
        ("privileged", "3.0", BOOLEAN),
        ("read_only", "3.0", BOOLEAN),
        ("restart", "3.0", STRING),
        ("secrets", "3.1", file_reference(version)),
        ("security_opt", "3.0", LIST_OF_STRINGS),
        ("shm_size", "3.0", {"type": ["number", "string"]}),
        ("stdin_open", "3.0", BOOLEAN),
        ("stop_grace_period", "3.0", DURATION),
        ("stop_signal", "3.0", STRING),
        ("sysctls", "3.0", LIST_OR_DICT),
        ("tmpfs", "3.0", STRING_OR_LIST),
        ("tty", "3.0", BOOLEAN),
        ("ulimits", "3.0", {"type": "object", "patternProperties": {"^[a-z]+$": ulimit}}),
        ("user", "3.0", STRING),
        ("userns_mode", "3.0", STRING),
        ("volumes", "3.0", {"type": "array", "items": volume_item(version), "uniqueItems": True}),
        ("working_dir", "3.0", STRING),
    ]
    return mapping(table, version, extensions_since="3.7", extra=ignored(version, "services.*"))


def env_file(version: str) -> Schema:
    """A path or a list of paths; a Compose Specification file may give {path, required, format} items."""
    if version != SPEC:
        return STRING_OR_LIST
    item = mapping([("path", "3.0", STRING), ("required", "3.0", BOOLEAN), ("format", "3.0", STRING)],
                   version, required=["path"])
    return one_of_types(STRING, {"type": "array", "items": one_of_types(STRING, item)})


def depends_on(version: str) -> Schema:
    """A list of names; a Compose Specification file may also give a map of name -> conditions."""
    if version != SPEC:
        return LIST_OF_STRINGS
    conditions: Table = [
        ("condition", "3.0", {"type": "string", "enum": [
            "service_started", "service_healthy", "service_completed_successfully"]}),
        ("required", "3.0", BOOLEAN),
        ("restart", "3.0", BOOLEAN),
    ]
    as_map = {"type": "object", "patternProperties": {"^[a-zA-Z0-9._-]+$": mapping(
        conditions, version, extensions_since="3.0")}, "additionalProperties": False}
    return one_of_types(LIST_OF_STRINGS, as_map)


# Refused before the schema runs (stackctl.pipeline.FORBIDDEN), in every format.
FORBIDDEN = frozenset(("extends", "volume_driver", "volumes_from", "cpu_quota", "cpu_shares", "cpuset",
                       "mem_limit", "memswap_limit"))


def spec_service_keys() -> list[str]:
    """Service keys of the Compose Specification (schemas/upstream/compose-spec.json) that no 3.x
    version has, less the ones refused in every format."""
    upstream = json.loads(UPSTREAM_SPEC.read_text(encoding="utf-8"))
    known = set(service("3.13")["properties"])
    return sorted(k for k in upstream["definitions"]["service"]["properties"] if k not in known | FORBIDDEN)


# --- top-level objects ---------------------------------------------------------------------

def network(version: str) -> Schema:
    ipam_config: Table = [
        ("subnet", "3.0", STRING),
        # stackctl superset: the Engine API takes these; the reference schema refuses them.
        ("gateway", "3.0", STRING),
        ("ip_range", "3.0", STRING),
        ("aux_addresses", "3.0", {"type": "object", "patternProperties": {"^.+$": STRING},
                                  "additionalProperties": False}),
    ]
    ipam: Table = [
        ("driver", "3.0", STRING),
        ("config", "3.0", {"type": "array", "items": mapping(ipam_config, version)}),
    ]
    ipam_extra = ignored(version, "networks.*.ipam")
    table: Table = [
        ("name", "3.5", STRING),
        ("driver", "3.0", STRING),
        ("driver_opts", "3.0", STRING_MAP),
        ("ipam", "3.0", mapping(ipam, version, extra=ipam_extra)),
        ("external", "3.0", external(version)),
        ("internal", "3.0", BOOLEAN),
        ("attachable", "3.2", BOOLEAN),
        ("labels", "3.0", LIST_OR_DICT),
    ]
    return nullable(mapping(table, version, extensions_since="3.7", extra=ignored(version, "networks.*")))


def cluster_spec() -> Schema:
    """x-cluster-spec (3.10): typed but open, as the reference has it."""
    segments = {"type": "object", "properties": {"segments": LIST_OR_DICT}}
    topology = {"type": "array", "items": segments}
    return {
        "type": "object",
        "properties": {
            "group": STRING,
            "access_mode": {"type": "object", "properties": {
                "scope": STRING, "sharing": STRING,
                "block_volume": {"type": "object"},
                "mount_volume": {"type": "object", "properties": {
                    "fs_type": STRING, "mount_flags": {"type": "array", "items": STRING}}},
            }},
            "accessibility_requirements": {"type": "object", "properties": {
                "requisite": topology, "preferred": topology}},
            "capacity_range": {"type": "object", "properties": {
                "required_bytes": STRING, "limit_bytes": STRING}},
            "secrets": {"type": "array", "items": {"type": "object", "properties": {
                "key": STRING, "secret": STRING}}},
            "availability": STRING,
        },
    }


def volume(version: str) -> Schema:
    table: Table = [
        ("name", "3.4", STRING),
        ("driver", "3.0", STRING),
        ("driver_opts", "3.0", STRING_MAP),
        ("external", "3.0", external(version)),
        ("labels", "3.0", LIST_OR_DICT),
        ("x-cluster-spec", "3.10", cluster_spec()),
    ]
    return nullable(mapping(table, version, extensions_since="3.7"))


def secret(version: str) -> Schema:
    table: Table = [
        ("name", "3.5", STRING),
        ("file", "3.0", STRING),
        # stackctl superset (compose-spec): the value of a variable; no v3 version has it upstream.
        ("environment", "3.1", STRING),
        ("external", "3.0", external(version)),
        ("labels", "3.0", LIST_OR_DICT),
        ("driver", "3.8", STRING),
        ("driver_opts", "3.8", STRING_MAP),
        ("template_driver", "3.8", STRING),
    ]
    return mapping(table, version, extensions_since="3.7")


def config(version: str) -> Schema:
    table: Table = [
        ("name", "3.5", STRING),
        ("file", "3.0", STRING),
        ("external", "3.0", external(version)),
        ("labels", "3.0", LIST_OR_DICT),
        ("template_driver", "3.8", STRING),
    ]
    # inline `content:` passes the schema so that normalisation can say plainly it is not supported
    extra = {"content": STRING} if version == SPEC else None
    return mapping(table, version, extensions_since="3.7", extra=extra)


def named(ref: str, *, any_name: bool = False) -> Schema:
    """A map of name -> definition; names are restricted except for networks (as upstream)."""
    item = {"$ref": f"#/definitions/{ref}"}
    if any_name:
        return {"type": "object", "additionalProperties": item}
    return {"type": "object", "patternProperties": {"^[a-zA-Z0-9._-]+$": item}, "additionalProperties": False}


def definitions(version: str) -> Schema:
    return {
        "service": service(version),
        "network": network(version),
        "volume": volume(version),
        "secret": secret(version),
        "config": config(version),
        "list_of_strings": {"type": "array", "items": STRING, "uniqueItems": True},
        "string_or_list": one_of_types(STRING, LIST_OF_STRINGS),
        "list_or_dict": one_of_types(
            {"type": "object", "patternProperties": {".+": {"type": ["string", "number", "null"]}},
             "additionalProperties": False},
            {"type": "array", "items": STRING, "uniqueItems": True},
        ),
        "string_map": {"type": "object", "patternProperties": {"^.+$": {"type": ["string", "number"]}}},
    }


# Compose's project-name rule; also a valid swarm stack name.
STACK_NAME: Schema = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"}


def schema_for(version: str) -> Schema:
    top: Table = [
        ("version", "3.0", STRING),
        *([("name", "3.0", STACK_NAME)] if version == SPEC else []),
        ("services", "3.0", named("service")),
        ("networks", "3.0", named("network", any_name=True)),
        ("volumes", "3.0", named("volume")),
        ("secrets", "3.1", named("secret")),
        ("configs", "3.3", named("config")),
    ]
    root = mapping(top, version, extensions_since="3.4",
                   required=["version"] if vt(version) < (3, 10) else None)
    out = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": f"stackctl:compose-{version}.json",
        "title": f"Compose file version {version} (Docker Swarm stacks), as stackctl accepts it",
        **root,
        "definitions": definitions(version),
    }
    if version == SPEC:
        out["title"] = ("Compose Specification file (no version:) for Docker Swarm stacks, "
                        "as stackctl accepts it")
        out["x-stackctl-ignored"] = spec_ignored()
    return out


def render(version: str) -> str:
    return json.dumps(schema_for(version), indent=2, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for version in [*VERSIONS, SPEC]:
        path = HERE / f"compose-{version}.json"
        text = render(version)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print("stale schemas (run python schemas/generate.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
