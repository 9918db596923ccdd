"""Stack files → the merged, interpolated, normalised stack (what `docker stack config` prints).

Per file: read (load/files.py, once) → YAML → version → forbidden keys → interpolation → schema → normalise;
then merge all files; then the meaning checks. Every problem of every file is collected
and raised at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackctl.errors import Diagnostic, LoadError, ValidationError
from stackctl.load.files import read_source, working_dir_for
from stackctl.load.source import SourceDoc

FORBIDDEN = {
    "extends": "Support for `extends` is not implemented yet.",
    "volume_driver": "Instead of setting the volume driver on the service, define a volume using the "
    "top-level `volumes` option and specify the driver there.",
    "volumes_from": "To share a volume between services, define it using the top-level `volumes` option and "
    "reference it from each service that shares it using the service-level `volumes` option.",
    "cpu_quota": "Set resource limits using deploy.resources",
    "cpu_shares": "Set resource limits using deploy.resources",
    "cpuset": "Set resource limits using deploy.resources",
    "mem_limit": "Set resource limits using deploy.resources",
    "memswap_limit": "Set resource limits using deploy.resources",
}


@dataclass
class LoadedStack:
    config: dict[str, Any]
    working_dir: str
    docs: list[SourceDoc] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    # the variables interpolation used (.env < --env-file < project < shell); `environment: VAR`
    # secrets read their value from here at convert time (never part of `config`)
    environ: dict[str, str] | None = field(default=None, repr=False)

    @property
    def declared_name(self) -> str | None:
        """The stack name the files declare with `name:` (Compose Specification files only; the
        last file that has one wins, as the merge does), interpolated: None when none does."""
        name = self.config.get("name")
        return name if isinstance(name, str) and name else None


def forbidden_keys(doc: SourceDoc) -> list[Diagnostic]:
    found = []
    services = doc.data.get("services")
    if not isinstance(services, dict):
        return []
    for name, service in services.items():
        if not isinstance(service, dict):
            continue
        for key in sorted(k for k in service if k in FORBIDDEN):
            path = ("services", name, key)
            found.append(Diagnostic(f"{key} is not supported by swarm stacks", doc.filename,
                                    doc.line_of(path), f"services.{name}.{key}", FORBIDDEN[key]))
    return found


def load_stack(
    files: list[str],
    *,
    env_files: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    skip_interpolation: bool = False,
    validate: bool = True,
) -> LoadedStack:
    """Load, check and merge stack files; raise LoadError / ValidationError with every problem."""
    from stackctl.load import yamlio
    from stackctl.load.interpolate import build_environment, interpolate_doc
    from stackctl.load.merge import merge_configs
    from stackctl.load.normalize import normalize_doc
    from stackctl.load.order import order
    from stackctl.validate.schema import check_schema

    if not files:
        raise LoadError("specify a stack file with -c/--compose-file")
    working_dir = working_dir_for(files)
    env = build_environment(list(env_files), environ, working_dir)
    lookup = env.get

    load_errors: list[Diagnostic] = []
    schema_errors: list[Diagnostic] = []
    warnings: list[Diagnostic] = []
    docs: list[SourceDoc] = []
    normalised: list[dict[str, Any]] = []
    for name in files:
        try:
            filename, raw = read_source(name)
            doc = yamlio.parse_yaml(yamlio.decode_text(raw, filename), filename)
        except LoadError as err:
            load_errors += err.diagnostics
            continue
        version_errors = yamlio.check_version(doc)
        if version_errors:
            load_errors += version_errors
            continue
        docs.append(doc)
        if docs[0].version != doc.version:
            load_errors.append(Diagnostic(
                f"version mismatched between two stack files: {docs[0].version} ({docs[0].filename}) and "
                f"{doc.version}", doc.filename, doc.line_of(("version",)), "version",
                "a file without version counts as 3.13"))
            continue
        problems = forbidden_keys(doc)
        if problems:
            load_errors += problems
            continue
        if not skip_interpolation:
            problems = interpolate_doc(doc, lookup)
            warnings += [d for d in problems if d.severity == "warning"]  # unset variables
            problems = [d for d in problems if d.severity == "error"]
            if problems:
                load_errors += problems
                continue
        problems = [d for d in check_schema(doc) if d.severity == "error"]
        if problems:
            schema_errors += problems
            continue
        if doc.spec:  # a Compose Specification file: its keys swarm cannot honour
            from stackctl.load.spec import ignored_keys

            warnings += ignored_keys(doc)
        data, errors, file_warnings = normalize_doc(doc, working_dir, lookup)
        load_errors += errors
        warnings += file_warnings
        normalised.append(data)
    if load_errors or schema_errors:
        raise (ValidationError if schema_errors and not load_errors else LoadError)(
            diagnostics=load_errors + schema_errors)

    config = order(merge_configs(normalised))
    if validate:
        from stackctl.validate.meaning import check_meaning

        found = check_meaning(config, docs, working_dir, environ=env)
        errors = [d for d in found if d.severity == "error"]
        warnings += [d for d in found if d.severity != "error"]
        if errors:
            raise ValidationError(diagnostics=errors + warnings)
    return LoadedStack(config=config, working_dir=working_dir, docs=docs, warnings=warnings, environ=env)
