"""Compose Specification input: what a file without `version:` may say beyond 3.13.

Such a file (the shape `docker compose config` prints) is checked against schemas/compose-spec.json
and normalised into the same model as a 3.13 file. The keys swarm cannot honour are listed in that
schema ("x-stackctl-ignored", written by schemas/generate.py); `ignored_keys` warns once for each one a
file has, and normalisation drops them. Its top-level `name:` (kept by normalisation) becomes the
default stack name: `LoadedStack.declared_name` (docs/ordering.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stackctl.errors import Diagnostic
from stackctl.load.source import KeyPath, SourceDoc, dotted

# Advice for Compose Specification service keys swarm has no equivalent for (the rest: a generic one).
IGNORED_HINTS = {
    "cpus": "use deploy.resources.limits.cpus",
    "mem_reservation": "use deploy.resources.reservations.memory",
    "pids_limit": "use deploy.resources.limits.pids",
    "scale": "use deploy.replicas",
    "platform": "use deploy.placement.constraints, e.g. node.platform.arch==x86_64",
    "profiles": "a stack deploys every service; keep profiles in a separate -c file",
    "pull_policy": "stackctl deploy --resolve-image decides how images are resolved",
    "label_file": "put the labels under labels:",
    "gpus": "use deploy.resources.reservations.generic_resources",
}
GENERIC_HINT = "swarm services have no such setting"

# The same for keys below a service or a top-level object, by their place (as in the schema's list).
NESTED_HINTS = {
    ("services.*.ports.[]", "host_ip"): "swarm publishes on every address of every node",
    ("services.*.ports.[]", "name"): "swarm ports have no name",
    ("services.*.ports.[]", "app_protocol"): "swarm ports have no application protocol",
    ("services.*.deploy.resources.reservations", "devices"):
        "use generic_resources; swarm has no device requests",
    ("services.*.networks.*", "mac_address"): "swarm assigns addresses",
    ("networks.*", "enable_ipv6"): "create the network yourself and mark it external: true",
}
# Values that ask for nothing swarm does not do anyway: no warning.
HARMLESS = {("services.*.ports.[]", "host_ip"): ("", "0.0.0.0", "::")}


def ignored_keys(doc: SourceDoc) -> list[Diagnostic]:
    """One warning per Compose Specification key in `doc` that swarm cannot honour (file order)."""
    from stackctl.validate.schema import SPEC, load_schema

    found: list[Diagnostic] = []
    table: dict[str, list[str]] = load_schema(SPEC).get("x-stackctl-ignored", {})
    for where, keys in table.items():
        for path, value in _places(doc.data, where.split("."), ()):
            for key in keys:
                if key not in value or value[key] in HARMLESS.get((where, key), ()):
                    continue
                hint = NESTED_HINTS.get((where, key)) or (
                    IGNORED_HINTS.get(key, GENERIC_HINT) if where == "services.*" else GENERIC_HINT)
                key_path = (*path, key)
                found.append(Diagnostic(f'"{key}" is ignored by swarm stacks', doc.filename,
                                        doc.line_of(key_path), dotted(key_path), hint, "warning"))
    return sorted(found, key=lambda d: d.line or 0)


def _places(value: Any, pattern: list[str], path: KeyPath) -> Iterator[tuple[KeyPath, dict[str, Any]]]:
    """The mappings at `pattern` ("*": every value of a map, "[]": every item of a list)."""
    if not pattern:
        if isinstance(value, dict):
            yield path, value
        return
    head, rest = pattern[0], pattern[1:]
    if head == "*" and isinstance(value, dict):
        for key, item in value.items():
            yield from _places(item, rest, (*path, key))
    elif head == "[]" and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _places(item, rest, (*path, index))
    elif isinstance(value, dict) and head in value:
        yield from _places(value[head], rest, (*path, head))
