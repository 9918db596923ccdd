"""Several normalised stack files → one, with the reference's merge rules (§d.3).

Later files win. Top-level networks/volumes/secrets/configs are replaced per key; services
are merged field by field: present (non-zero) values override, maps merge per key, ports /
volumes / secrets / configs merge keyed by published / target / source (and come out sorted
by that key), command and entrypoint are replaced, every other list is appended.
"""

from __future__ import annotations

import copy

from stackctl.model import compose

Json = dict[str, object]  # a normalised mapping (model/config.py gives its shape)

# each service key's merge rule, from the compose field registry (model/compose.py)
_RULES = {row.key: row.merge for row in compose.children("services.*")}
_KEYED_LISTS = {key: rule[3:] for key, rule in _RULES.items() if rule.startswith("by:")}


def _dict(value: object) -> Json:
    """A mapping of the normalised stack (the normaliser made it one)."""
    if not isinstance(value, dict):
        raise TypeError(f"not a mapping: {value!r}")
    return value


def merge_configs(configs: list[Json]) -> Json:
    """Merge normalised files left to right (versions must already agree)."""
    if len(configs) == 1:
        return configs[0]
    result = copy.deepcopy(configs[0])
    for override in configs[1:]:
        if override.get("name"):  # a Compose Specification file's stack name: the last one wins
            result["name"] = override["name"]
        services = _dict(result.setdefault("services", {}))
        for name, service in _dict(override.get("services") or {}).items():
            if name in services:
                services[name] = merge_service(_dict(services[name]), _dict(service))
            else:
                services[name] = copy.deepcopy(service)
        for section in ("networks", "volumes", "secrets", "configs"):
            entries = override.get(section)
            if entries:
                _dict(result.setdefault(section, {})).update(copy.deepcopy(_dict(entries)))
    return result


def merge_service(base: Json, override: Json) -> Json:
    out = copy.deepcopy(base)
    for key, key_name in _KEYED_LISTS.items():
        if key in out or key in override:
            out[key] = _merge_keyed(_list(out.get(key)), _list(override.get(key)), key_name)
    for key, value in override.items():
        if key in _KEYED_LISTS:
            continue
        rule = _RULES.get(key, "deep")
        if key not in out or rule == "replace":
            out[key] = copy.deepcopy(value)
        elif rule == "logging":
            out[key] = _merge_logging(_dict(out[key]), _dict(value))
        elif rule == "networks":
            out[key] = _merge_networks(_dict(out[key]), _dict(value))
        elif rule == "ulimits":
            out[key] = {**_dict(out[key]), **copy.deepcopy(_dict(value))}
        elif rule == "string_map":  # plain strings: an empty override value does not clear the base one
            out[key] = _merge_string_map(_dict(out[key]), _dict(value))
        elif rule == "depends_on" and isinstance(out[key], dict) != isinstance(value, dict):
            out[key] = _deep_merge(_depends_map(out[key]), _depends_map(value))
        else:
            out[key] = _deep_merge(out[key], value)
    return out


def _list(value: object) -> list[Json]:
    """A keyed list (ports, volumes, secrets, configs: mappings after normalisation); [] when unset."""
    if not value:
        return []
    if not isinstance(value, list):
        raise TypeError(f"not a list: {value!r}")
    return [_dict(item) for item in value]


def _merge_keyed(base: list[Json], override: list[Json], key_name: str) -> list[Json]:
    # the key: `published` (int), `target`/`source` (str); one kind per list, so they sort
    merged: dict[int | str, Json] = {}
    for item in base:
        merged[_key(item, key_name)] = item
    for item in override:
        merged[_key(item, key_name)] = copy.deepcopy(item)
    return [merged[k] for k in sorted(merged)]  # one kind of key per list: they compare


def _key(item: Json, key_name: str) -> int | str:
    value = item.get(key_name, 0 if key_name == "published" else "")
    if not isinstance(value, int | str):
        raise TypeError(f"not a {key_name}: {value!r}")
    return value


def _depends_map(value: object) -> Json:
    """depends_on in its long form: list syntax and long syntax merge per dependency."""
    if isinstance(value, dict):
        return value
    if not isinstance(value, list):
        raise TypeError(f"not a depends_on: {value!r}")
    return {name: {"condition": "service_started", "required": True} for name in value}


def _merge_logging(base: Json, override: Json) -> Json:
    base_driver, over_driver = base.get("driver"), override.get("driver")
    if base_driver and over_driver and base_driver != over_driver:
        return copy.deepcopy(override)
    out = copy.deepcopy(base)
    if over_driver:
        out["driver"] = over_driver
    if override.get("options"):
        out["options"] = {**_dict(out.get("options", {})), **_dict(override["options"])}
    return out


def _merge_networks(base: Json, override: Json) -> Json:
    out = copy.deepcopy(base)
    for name, value in override.items():
        if name not in out or out[name] is None:
            out[name] = copy.deepcopy(value)
            continue
        if value is None:
            continue
        value = _dict(value)
        entry = _dict(out[name])
        if "aliases" in value:
            entry["aliases"] = list(_list_of_names(value["aliases"]))
        else:
            entry.pop("aliases", None)
        for address in ("ipv4_address", "ipv6_address"):
            if value.get(address):
                entry[address] = value[address]
        if value.get("driver_opts"):
            entry["driver_opts"] = {**_dict(entry.get("driver_opts", {})), **_dict(value["driver_opts"])}
    return out


def _list_of_names(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError(f"not a list: {value!r}")
    return value


def _merge_string_map(base: Json, override: Json) -> Json:
    out = dict(base)
    for key, value in override.items():
        if key not in out or value not in (None, ""):
            out[key] = value
    return out


def _deep_merge(base: object, override: object) -> object:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(override, list):
        return base + copy.deepcopy(override)
    return copy.deepcopy(override)
