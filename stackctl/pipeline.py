"""Stack files → the merged, interpolated, normalised stack (what `docker stack config` prints).

Per file: read (load/files.py, once) → YAML → version → forbidden keys → interpolation → schema → normalise;
then merge all files; then the meaning checks. Every problem of every file is collected
and raised at once: a file the schema rejects in part still has the meaning checks run on the
rest (the rejected keys and list elements removed), so that one `validate` says everything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackctl.errors import Diagnostic, LoadError, ValidationError
from stackctl.load.files import read_source, working_dir_for
from stackctl.load.source import SourceDoc
from stackctl.secrets.sensitive import Sensitive, collecting

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
    # values from encrypted env files and what they went into: never shown or stored in clear
    # (secrets/sensitive.py: `stackctl config`, the plan and the history go through it)
    sensitive: Sensitive = field(default_factory=Sensitive)

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


Rejected = list[tuple[str | int, ...]]


def _schema_accepted_part(doc: SourceDoc) -> tuple[SourceDoc, Rejected] | None:
    """`doc` without the keys and list elements the schema rejects, and those paths; None when
    nothing sensible is left (the whole file, or a whole section, is rejected)."""
    import copy
    import dataclasses

    from stackctl.validate.schema import check_schema, rejected_paths

    rejected: Rejected = []
    part = doc
    for _round in range(3):  # removing a key can make its parent invalid (a required key)
        paths = rejected_paths(part)
        if paths is None or any(len(p) < 2 for p in paths):
            return None
        if not paths:
            return part, rejected
        rejected += paths
        data = copy.deepcopy(part.data)
        for path in paths:
            _remove(data, path)
        part = dataclasses.replace(part, data=_sweep_map(data))
    return (part, rejected) if not check_schema(part) else None


_GONE = object()


def _remove(data: object, path: tuple[str | int, ...]) -> None:
    """Remove `path` from `data` in place: a whole entry of a section (services.web) stays as an
    empty mapping (an external one for secrets and configs), so that what refers to it by name
    still finds it."""
    parent = data
    for part in path[:-1]:
        if isinstance(parent, dict) and part in parent:
            parent = parent[part]
        elif isinstance(parent, list) and isinstance(part, int) and -len(parent) <= part < len(parent):
            parent = parent[part]
        else:
            return
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        if len(path) == 2:  # a secret or config needs a source: an external one takes no more
            parent[last] = {"external": True} if path[0] in ("secrets", "configs") else {}
        else:
            del parent[last]
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        parent[last] = _GONE  # swept after every path is removed: the indices of the others hold


def _sweep_map(data: dict[str, object]) -> dict[str, object]:
    return {k: _sweep(v) for k, v in data.items()}


def _sweep(data: object) -> object:
    if isinstance(data, dict):
        return _sweep_map(data)
    if isinstance(data, list):
        return [_sweep(v) for v in data if v is not _GONE]
    return data


Partial = list[tuple[dict[str, object], Rejected, list[Diagnostic]]]


def _with_meaning_problems(schema_errors: list[Diagnostic], partial: Partial, docs: list[SourceDoc],
                           working_dir: str, env: Mapping[str, str]) -> list[Diagnostic]:
    """The schema's problems and the meaning checks' problems of every part the schema did not reject,
    sorted by file and line. A meaning problem inside a rejected part, or about the rejected key
    (a service without `image:` because its image was rejected), is left out: the schema's problem
    says it."""
    import re

    from stackctl.load.merge import merge_configs
    from stackctl.load.order import order_config
    from stackctl.load.source import dotted
    from stackctl.validate.meaning import check_meaning

    rejected = [dotted(p) for _, paths, _ in partial for p in paths]
    # the words that name a rejected key: its own, and the key the schema's hint suggests ("imgae":
    # did you mean 'image'?), so that "no image specified" is not said beside that typo
    names = {dotted(p): {str(p[-1])} for _, paths, _ in partial for p in paths}
    for diag in schema_errors:
        if diag.path in names:
            names[diag.path] |= set(re.findall(r"'([^']+)'", diag.hint or ""))

    def caused_by_rejection(diag: Diagnostic) -> bool:
        path = diag.path or ""
        for gone in rejected:
            if path == gone or path.startswith((gone + ".", gone + "[")):
                return True
            about = f"{diag.message} {diag.hint or ''}"
            if gone.startswith((path + ".", path + "[")) and any(name in about for name in names[gone]):
                return True
        return False

    try:
        config = order_config(merge_configs([data for data, _, _ in partial]))
        found = check_meaning(config, docs, working_dir, environ=env)
    except Exception:  # noqa: BLE001 - a partial stack the checks cannot read: the schema's word stands
        return schema_errors
    extra = [d for _, _, errors in partial for d in errors] + [d for d in found if d.severity == "error"]
    extra = [d for d in extra if not caused_by_rejection(d) and d not in schema_errors]
    position = {doc.filename: i for i, doc in enumerate(docs)}
    return sorted(schema_errors + extra, key=lambda d: (position.get(d.file or "", len(docs)), d.line or 0))


def load_stack(
    files: list[str],
    *,
    env_files: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    skip_interpolation: bool = False,
    validate: bool = True,
    decrypt: bool = False,
) -> LoadedStack:
    """Load, check and merge stack files; raise LoadError / ValidationError with every problem.

    Values from encrypted env files are marked (`LoadedStack.sensitive`); no problem quotes them."""
    sensitive = Sensitive()
    with collecting(sensitive):
        try:
            loaded = _load_stack(files, env_files=env_files, environ=environ,
                                 skip_interpolation=skip_interpolation, validate=validate, decrypt=decrypt)
        except (LoadError, ValidationError) as err:
            if sensitive.values:
                err.diagnostics = sensitive.hide_diagnostics(list(err.diagnostics))
            raise
    sensitive.mark_config(loaded.config)
    loaded.warnings = sensitive.hide_diagnostics(loaded.warnings)
    loaded.sensitive = sensitive
    return loaded


def _load_stack(
    files: list[str],
    *,
    env_files: Sequence[str],
    environ: Mapping[str, str] | None,
    skip_interpolation: bool,
    validate: bool,
    decrypt: bool,
) -> LoadedStack:
    from stackctl.load import yamlio
    from stackctl.load.interpolate import build_environment, interpolate_doc
    from stackctl.load.merge import merge_configs
    from stackctl.load.normalize import normalize_doc
    from stackctl.load.order import order_config
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
    normalised: list[dict[str, object]] = []
    # validate: the parts the schema did not reject, so that the meaning checks still run on them
    # (normalised data, the rejected paths, normalisation errors); None once a file is all rejected
    partial: Partial | None = []
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
            rest = _schema_accepted_part(doc) if validate else None
            if rest is None:
                partial = None  # nothing left to check the meaning of
            elif partial is not None:
                data, errors, _ = normalize_doc(rest[0], working_dir, lookup)
                partial.append((data, rest[1], errors))
            continue
        if doc.spec:  # a Compose Specification file: its keys swarm cannot honour
            from stackctl.load.spec import ignored_keys

            warnings += ignored_keys(doc)
        data, errors, file_warnings = normalize_doc(doc, working_dir, lookup)
        load_errors += errors
        warnings += file_warnings
        normalised.append(data)
        if partial is not None:
            partial.append((data, [], []))
    if schema_errors and not load_errors and partial:
        schema_errors = _with_meaning_problems(schema_errors, partial, docs, working_dir, env)
    if load_errors or schema_errors:
        raise (ValidationError if schema_errors and not load_errors else LoadError)(
            diagnostics=load_errors + schema_errors)

    config = order_config(merge_configs(normalised))
    if validate:
        from stackctl.validate.meaning import check_meaning

        found = check_meaning(config, docs, working_dir, environ=env, decrypt=decrypt)
        errors = [d for d in found if d.severity == "error"]
        warnings += [d for d in found if d.severity != "error"]
        if errors:
            raise ValidationError(diagnostics=errors + warnings)
    return LoadedStack(config=config, working_dir=working_dir, docs=docs, warnings=warnings, environ=env)
