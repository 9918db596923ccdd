"""Compose Specification input: what a file without `version:` may say beyond 3.13.

Such a file (the shape `docker compose config` prints) is checked against schemas/compose-spec.json
and normalised into the same model as a 3.13 file. Its keys that swarm cannot honour are dropped with
one warning each (normalize.py); this module holds their advice, and reads the top-level `name:` that
becomes the default stack name (docs/ordering.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from stackctl.errors import Diagnostic, LoadError

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

# Long-syntax port keys of the Compose Specification that a swarm port has no field for.
IGNORED_PORT_KEYS = {
    "host_ip": "swarm publishes on every address of every node",
    "name": "swarm ports have no name",
    "app_protocol": "swarm ports have no application protocol",
}


def ignored_hint(key: str) -> str:
    return IGNORED_HINTS.get(key, GENERIC_HINT)


def declared_name(files: Sequence[str], env_files: Sequence[str] = (),
                  environ: Mapping[str, str] | None = None) -> str | None:
    """The stack name a Compose Specification file declares with `name:` (the last file that has one
    wins, as when merging), interpolated; None when no file declares one. Files are read once more
    here, before the full load: only when no stack argument was given."""
    from stackctl.load import yamlio
    from stackctl.load.interpolate import build_environment, interpolate_doc
    from stackctl.pipeline import read_source, working_dir_for

    if not files:
        return None
    env = build_environment(list(env_files), environ, working_dir_for(files))
    found: str | None = None
    for name in files:
        try:
            filename, raw = read_source(name)
            doc = yamlio.parse_yaml(yamlio.decode_text(raw, filename), filename)
        except LoadError:
            return None  # the load proper reports it, with everything else
        if "version" in doc.data or "name" not in doc.data:
            continue
        doc.data = {"name": doc.data["name"]}
        problems = interpolate_doc(doc, env.get)
        value = doc.data.get("name")
        if problems or not isinstance(value, str) or not value:
            line = doc.line_of(("name",))
            raise LoadError(diagnostics=problems or [Diagnostic("name: must be a non-empty string",
                                                                filename, line, "name")])
        found = value
    return found
