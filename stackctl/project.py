"""`stackctl.yml`: one stack, its base files, and per environment what differs.

A project file is the definition of each environment, so its values sit between the
generic and the personal:

- variables: `.env` < `env_files` (base, then the environment's) < `variables` (base,
  then the environment's) < the shell. Explicit project variables beat env files because
  they are the environment's definition; the shell still wins so that a one-off override
  (`TAG=rc2 stackctl deploy --env staging`) needs no edit.
- the swarm: `--context` on the command line < nothing; otherwise the environment's
  `context`/`host` beats DOCKER_HOST/DOCKER_CONTEXT in the shell: a leftover export must
  never send a prod deploy to the wrong swarm.
- files: base files, then the environment's, then any `-c` given on the command line.
- stack name: the command line's, else the environment's, else the project's.

Relative paths in the project file are relative to the project file's directory.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.errors import Diagnostic, LoadError, UsageError, ValidationError
from stackctl.load.source import SourceDoc, dotted

PROJECT_FILENAMES = ("stackctl.yml", "stackctl.yaml")
PROJECT_ENV_VAR = "STACKCTL_PROJECT"  # set by `--project FILE` (cli.py) or by the user


@dataclass(frozen=True)
class EnvironmentTarget:
    """Everything a command needs to render or deploy one environment (plain data)."""

    name: str
    stack: str
    files: list[str]
    env_files: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    context: str | None = None
    host: str | None = None

    def environ(self, shell: Mapping[str, str] | None = None) -> dict[str, str]:
        """Interpolation variables: the project's, with the shell winning."""
        return {**self.variables, **(os.environ if shell is None else shell)}


@dataclass
class Project:
    path: str  # as found or given, e.g. "stackctl.yml" or "examples/atsea-envs/stackctl.yml"
    doc: SourceDoc

    @property
    def directory(self) -> str:
        return os.path.dirname(self.path)

    @property
    def environments(self) -> list[str]:
        return list(self.doc.data.get("environments") or {})

    def target(self, name: str) -> EnvironmentTarget:
        """Resolve environment `name`; UsageError for an unknown name, ValidationError for bad paths."""
        envs = self.doc.data.get("environments") or {}
        if name not in envs:
            close = difflib.get_close_matches(name, list(envs), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(envs) or 'none'}"
            raise UsageError(f"{self.path}: no environment {name!r} ({hint})")
        env = envs[name] or {}
        data = self.doc.data
        stack = env.get("stack") or data.get("stack")
        problems: list[Diagnostic] = []
        if not stack:
            problems.append(self._diag(("environments", name), f"environment {name!r} has no stack name",
                                       "set `stack:` at the top or in the environment"))
        files = self.paths(("files",), data.get("files")) + self.paths(
            ("environments", name, "files"), env.get("files"))
        env_files = self.paths(("env_files",), data.get("env_files")) + self.paths(
            ("environments", name, "env_files"), env.get("env_files"))
        for path, where in files + env_files:
            if not os.path.isfile(path):
                problems.append(self._diag(where, f"no such file: {path}"))
        if problems:
            raise ValidationError(diagnostics=problems)
        variables = {**string_values(data.get("variables")), **string_values(env.get("variables"))}
        return EnvironmentTarget(name=name, stack=str(stack), files=[p for p, _ in files],
                                 env_files=[p for p, _ in env_files], variables=variables,
                                 context=env.get("context"), host=env.get("host"))

    def paths(self, where: tuple[str | int, ...],
              names: Sequence[str] | None) -> list[tuple[str, tuple[str | int, ...]]]:
        """Each of `names` relative to the project file's directory, with its key path (for FILE:LINE)."""
        out = []
        for index, name in enumerate(names or []):
            path = name if os.path.isabs(name) else os.path.normpath(os.path.join(self.directory, name))
            out.append((path, (*where, index)))
        return out

    def _diag(self, path: tuple[str | int, ...], message: str, hint: str | None = None) -> Diagnostic:
        return Diagnostic(message, self.path, self.doc.line_of(path), dotted(path), hint)


def find_project(explicit: str | None = None, cwd: str | None = None) -> str:
    """The project file: `--project FILE` (or $STACKCTL_PROJECT), else stackctl.yml in the cwd."""
    given = explicit or os.environ.get(PROJECT_ENV_VAR)
    if given:
        if os.path.isdir(given):
            for name in PROJECT_FILENAMES:
                candidate = os.path.join(given, name)
                if os.path.isfile(candidate):
                    return candidate
            raise UsageError(f"{given}: no {PROJECT_FILENAMES[0]} in this directory")
        if not os.path.isfile(given):
            raise UsageError(f"{given}: no such project file")
        return given
    base = cwd or os.getcwd()
    for name in PROJECT_FILENAMES:
        if os.path.isfile(os.path.join(base, name)):
            return name if cwd is None else os.path.join(base, name)
    raise UsageError(f"--env needs stackctl.yml: there is none in {base} (give one with --project FILE)")


@functools.cache
def _schema() -> dict[str, Any]:
    from stackctl.validate.schema import schemas_dir

    path = schemas_dir() / "stackctl-project.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def load_project(path: str) -> Project:
    """Parse and validate a project file; ValidationError with FILE:LINE diagnostics."""
    from stackctl.errors import LoadError
    from stackctl.load import yamlio

    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise LoadError(diagnostics=[Diagnostic(f"cannot read project file: {err.strerror}", path)]) from None
    doc = yamlio.parse_yaml(yamlio.decode_text(raw, path), path)
    problems = check_project(doc)
    if problems:
        raise ValidationError(diagnostics=problems)
    return Project(path=path, doc=doc)


def check_project(doc: SourceDoc) -> list[Diagnostic]:
    """Schema problems of a parsed project file, one located Diagnostic each."""
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(_schema())
    out: list[Diagnostic] = []
    errors = sorted(validator.iter_errors(doc.data), key=lambda e: (doc.line_of(list(e.absolute_path)) or 0))
    for error in errors:
        out.extend(explain_schema_error(doc, error))
    return out


def explain_schema_error(doc: SourceDoc, error: Any) -> list[Diagnostic]:
    """One jsonschema error of a YAML document as located Diagnostics (stackctl.yml, the agent's config)."""
    path = tuple(error.absolute_path)
    schema = error.schema if isinstance(error.schema, dict) else {}

    def diag(at: tuple[str | int, ...], message: str, hint: str | None = None) -> Diagnostic:
        return Diagnostic(message, doc.filename, doc.line_of(at) or 1, dotted(at), hint)

    kind = error.validator
    if kind == "additionalProperties":
        known = sorted(schema.get("properties") or {})
        extra = [k for k in error.instance if k not in known and not str(k).startswith("x-")]
        out = []
        for key in extra:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
            out.append(diag((*path, key), f"unknown key {key!r}", hint))
        return out
    if kind == "required":
        return [diag(path, f"missing key {error.message.split(' ')[0]}")]
    if kind == "type":
        wanted = schema.get("type")
        names = {"object": "mapping", "array": "list", "string": "string", "number": "number",
                 "boolean": "boolean", "null": "nothing"}
        types = [wanted] if isinstance(wanted, str) else list(wanted or [])
        return [diag(path, "must be " + " or ".join(names.get(t, t) for t in types))]
    if kind == "pattern":
        if path and path[-1] == "stack":
            return [diag(path, f"invalid stack name {error.instance!r}",
                         "letters, digits, '-', '_' and '.', not starting with a punctuation mark")]
        return [diag(path, f"invalid value {error.instance!r}")]
    if kind == "propertyNames":
        return [diag(path, f"invalid name {error.instance!r}" if not isinstance(error.instance, dict)
                     else f"invalid name: {error.message}")]
    if kind == "not" and path and path[0] == "environments":
        return [diag(path, "context and host are exclusive", "name the swarm with one of them")]
    if kind == "uniqueItems":
        return [diag(path, "lists a file twice")]
    if kind == "minProperties":
        return [diag(path, "needs at least one environment")]
    if kind == "enum":
        return [diag(path, f"must be one of {', '.join(map(repr, schema.get('enum', [])))}")]
    return [diag(path, error.message)]


def string_values(variables: Mapping[str, Any] | None) -> dict[str, str]:
    from stackctl.load.yamlio import go_number

    out = {}
    for key, value in (variables or {}).items():
        out[str(key)] = value if isinstance(value, str) else go_number(value)
    return out


@dataclass(frozen=True)
class EngineChoice:
    """Which engine a command talks to: `--context`, else an environment's context or host
    (None for both: the shell's DOCKER_HOST / DOCKER_CONTEXT, see stackctl.engine.endpoint_from)."""

    context: str | None = None
    host: str | None = None


# Looked for in the current directory, in this order, when neither -c nor --env is given:
# docker compose's names first, then `docker stack deploy`'s customary one.
DEFAULT_STACK_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml",
                       "docker-stack.yml")


def default_stack_file(directory: str | os.PathLike[str] = ".") -> str:
    """The first default stack file present; says which on stderr (the user did not name it)."""
    import sys

    present = [name for name in DEFAULT_STACK_FILES if (Path(directory) / name).is_file()]
    if not present:
        # Exit 1 as for a -c file that does not exist: a file is missing, the flags are fine.
        raise LoadError("no stack file: give one with -c/--compose-file, add one of "
                         f"{', '.join(DEFAULT_STACK_FILES)} to this directory, or an environment with --env "
                         "(from stackctl.yml)")
    others = f" ({', '.join(present[1:])} also present: -c chooses)" if present[1:] else ""
    print(f"Using stack file {present[0]} (no -c given){others}", file=sys.stderr)
    return str(Path(directory) / present[0]) if str(directory) != "." else present[0]


def resolve_env_args(
    env: str | None, files: Sequence[str] | None, env_files: Sequence[str] | None, stack: str | None = None,
    *, context: str | None = None, project: str | None = None,
) -> tuple[str | None, list[str], list[str], dict[str, str] | None, EngineChoice]:
    """One line for a command: (stack, files, env_files, environ, engine choice).

    A stack still None here may be declared by the files (`name:`): the load says so
    (`deploy.stack_for`), the files are not read here.

    Without `--env` the arguments pass through (environ None: load_stack reads the shell).
    With it, the environment's files come first and `-c` files are merged after them; the
    environment's context or host, when it has one, is the engine to use unless `--context`
    was given.
    """
    files = list(files or [])
    env_files = list(env_files or [])
    if not env:
        if not files:
            files = [default_stack_file()]
        return stack, files, env_files, None, EngineChoice(context)
    loaded_project = load_project(find_project(project))
    target = loaded_project.target(env)
    from stackctl.fanout.spec import has_targets, load_rollout

    if has_targets(loaded_project, env):
        load_rollout(loaded_project, env)  # its targets and waves are checked too (FILE:LINE)
    if not target.files and not files:
        raise UsageError(f"environment {env!r} names no stack file (add `files:` to stackctl.yml)")
    choice = EngineChoice(context) if context else EngineChoice(target.context, None if target.context
                                                                                  else target.host)
    return (stack or target.stack, target.files + files, target.env_files + env_files, target.environ(),
            choice)


def environment_target(env: str, project: str | None = None) -> EnvironmentTarget:
    """The resolved environment `env` of the project file found as `find_project` does."""
    return load_project(find_project(project)).target(env)
