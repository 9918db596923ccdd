"""Several normalised stack files → one, with the reference's merge rules (§d.3).

Later files win. Top-level networks/volumes/secrets/configs are replaced per key; services
are merged field by field: present (non-zero) values override, maps merge per key, ports /
volumes / secrets / configs merge keyed by published / target / source (and come out sorted
by that key), command and entrypoint are replaced, every other list is appended.
"""

from __future__ import annotations

import copy
from typing import Any

_KEYED_LISTS = {"ports": "published", "volumes": "target", "secrets": "source", "configs": "source"}
_REPLACED = frozenset(("command", "entrypoint"))
# Maps whose values are plain strings: an empty override value does not clear the base one.
_STRING_MAPS = frozenset(("environment", "labels", "sysctls"))


def merge_configs(configs: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge normalised files left to right (versions must already agree)."""
    if len(configs) == 1:
        return configs[0]
    result = copy.deepcopy(configs[0])
    for override in configs[1:]:
        if override.get("name"):  # a Compose Specification file's stack name: the last one wins
            result["name"] = override["name"]
        services = result.setdefault("services", {})
        for name, service in (override.get("services") or {}).items():
            if name in services:
                services[name] = merge_service(services[name], service)
            else:
                services[name] = copy.deepcopy(service)
        for section in ("networks", "volumes", "secrets", "configs"):
            entries = override.get(section)
            if entries:
                result.setdefault(section, {}).update(copy.deepcopy(entries))
    return result


def merge_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, key_name in _KEYED_LISTS.items():
        if key in out or key in override:
            out[key] = _merge_keyed(out.get(key) or [], override.get(key) or [], key_name)
    for key, value in override.items():
        if key in _KEYED_LISTS:
            continue
        if key not in out or key in _REPLACED:
            out[key] = copy.deepcopy(value)
        elif key == "logging":
            out[key] = _merge_logging(out[key], value)
        elif key == "networks":
            out[key] = _merge_networks(out[key], value)
        elif key == "ulimits":
            out[key] = {**out[key], **copy.deepcopy(value)}
        elif key in _STRING_MAPS:
            out[key] = _merge_string_map(out[key], value)
        elif key == "depends_on" and isinstance(out[key], dict) != isinstance(value, dict):
            out[key] = _deep_merge(_depends_map(out[key]), _depends_map(value))
        else:
            out[key] = _deep_merge(out[key], value)
    return out


def _merge_keyed(
    base: list[dict[str, Any]], override: list[dict[str, Any]], key_name: str
) -> list[dict[str, Any]]:
    merged: dict[Any, dict[str, Any]] = {}
    for item in base:
        merged[item.get(key_name, 0 if key_name == "published" else "")] = item
    for item in override:
        merged[item.get(key_name, 0 if key_name == "published" else "")] = copy.deepcopy(item)
    return [merged[k] for k in sorted(merged)]


def _depends_map(value: Any) -> dict[str, Any]:
    """depends_on in its long form: list syntax and long syntax merge per dependency."""
    if isinstance(value, dict):
        return value
    return {name: {"condition": "service_started", "required": True} for name in value}


def _merge_logging(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    base_driver, over_driver = base.get("driver"), override.get("driver")
    if base_driver and over_driver and base_driver != over_driver:
        return copy.deepcopy(override)
    out = copy.deepcopy(base)
    if over_driver:
        out["driver"] = over_driver
    if override.get("options"):
        out["options"] = {**out.get("options", {}), **override["options"]}
    return out


def _merge_networks(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for name, value in override.items():
        if name not in out or out[name] is None:
            out[name] = copy.deepcopy(value)
            continue
        if value is None:
            continue
        entry = out[name]
        if "aliases" in value:
            entry["aliases"] = list(value["aliases"])
        else:
            entry.pop("aliases", None)
        for address in ("ipv4_address", "ipv6_address"):
            if value.get(address):
                entry[address] = value[address]
        if value.get("driver_opts"):
            entry["driver_opts"] = {**entry.get("driver_opts", {}), **value["driver_opts"]}
    return out


def _merge_string_map(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if key not in out or value not in (None, ""):
            out[key] = value
    return out


def _deep_merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(override, list):
        return base + copy.deepcopy(override)
    return copy.deepcopy(override)
