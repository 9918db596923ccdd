"""The agent's config: YAML checked against schemas/agent.json and by meaning, FILE:LINE errors.

Parsed with the stack files' loader (`load/yamlio.py`: the line of every key, YAML 1.2 scalars), so
a mistake reads like one in a stack file: `agent.yml:12: stacks[0].drift: must be one of ...`.
Relative `*_file` paths and `cache_dir` are relative to the config file's directory; `files:` and
`project:` of a stack are paths inside its source's repository.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.errors import Diagnostic, LoadError, ValidationError
from stackctl.load.source import SourceDoc, dotted

DEFAULT_LISTEN = "127.0.0.1:9600"
DEFAULT_INTERVAL = 60.0
DEFAULT_DRIFT_INTERVAL = 300.0
DEFAULT_CACHE_DIR = "/var/lib/stackctl/agent"
DEFAULT_SOURCE = "default"
SCHEMA_FILE = "agent.json"


@dataclass(frozen=True)
class SourceConfig:
    """One git repository and the branch (or tag) the agent follows."""

    name: str
    url: str
    branch: str | None = "main"
    tag: str | None = None
    interval: float = DEFAULT_INTERVAL
    ssh_key_file: str | None = None
    known_hosts_file: str | None = None
    token_file: str | None = None
    token_user: str = "x-access-token"

    @property
    def ref(self) -> str:
        """The ref fetched: refs/heads/BRANCH or refs/tags/TAG."""
        return f"refs/tags/{self.tag}" if self.tag else f"refs/heads/{self.branch or 'main'}"

    @property
    def public_url(self) -> str:
        """The URL without any user:password part (what pages, logs and revisions show)."""
        return redact_url(self.url)


@dataclass(frozen=True)
class WindowConfig:
    """A sync window: from each time the cron expression matches, for `duration` seconds."""

    kind: str  # "allow" | "deny"
    cron: str
    duration: float


@dataclass(frozen=True)
class StackConfig:
    """One stack the agent keeps equal to its source."""

    name: str
    source: str
    files: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    project: str | None = None
    env: str | None = None
    apply: str = "auto"  # auto | manual (the plan waits for an approve)
    prune: bool = False
    drift: str = "report"  # report | heal
    drift_interval: float = DEFAULT_DRIFT_INTERVAL
    windows: tuple[WindowConfig, ...] = ()
    timeout: float = 600.0
    rollback_on_failure: bool = False
    resolve_image: str = "always"
    history_max: int = 10
    age_key_file: str | None = None  # encrypted files decrypt with it (else the agent's): core.Agent._keys


@dataclass(frozen=True)
class NotifyConfig:
    url: str
    timeout: float = 10.0


@dataclass(frozen=True)
class AgentConfig:
    path: str
    sources: tuple[SourceConfig, ...]
    stacks: tuple[StackConfig, ...]
    host: str = "127.0.0.1"
    port: int = 9600
    webhook_secret_file: str | None = None
    api_token_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    cache_dir: str = DEFAULT_CACHE_DIR
    drift_interval: float = DEFAULT_DRIFT_INTERVAL
    time_zone: str = "UTC"
    age_key_file: str | None = None
    notify: tuple[NotifyConfig, ...] = field(default_factory=tuple)

    def source(self, name: str) -> SourceConfig:
        return next(s for s in self.sources if s.name == name)

    def stack(self, name: str) -> StackConfig | None:
        return next((s for s in self.stacks if s.name == name), None)


def redact_url(url: str) -> str:
    """`https://user:token@host/x` → `https://host/x`: credentials never leave the config."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme and "@" in parts.netloc and parts.scheme in ("http", "https"):
        return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    if parts.scheme and parts.password:
        return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", "@")))
    return url


@functools.cache
def _schema() -> dict[str, Any]:
    from stackctl.validate.schema import schemas_dir

    data: dict[str, Any] = json.loads((schemas_dir() / SCHEMA_FILE).read_text(encoding="utf-8"))
    return data


def parse_config_file(path: str) -> SourceDoc:
    """The config as a SourceDoc (lines of every key); LoadError when unreadable or not YAML."""
    from stackctl.load import yamlio

    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise LoadError(diagnostics=[Diagnostic(f"cannot read agent config: {err.strerror}", path)]) from None
    return yamlio.parse_yaml(yamlio.decode_text(raw, path), path)


def load_config(path: str) -> AgentConfig:
    """Parse, check and resolve the agent config; ValidationError with every problem at once."""
    doc = parse_config_file(path)
    problems = check_schema(doc)
    if problems:
        raise ValidationError(diagnostics=problems)
    checker = _Checker(doc)
    config = checker.build()
    if checker.problems:
        raise ValidationError(diagnostics=checker.problems)
    return config


def check_schema(doc: SourceDoc) -> list[Diagnostic]:
    from jsonschema import Draft202012Validator

    from stackctl.project import explain_schema_error

    validator = Draft202012Validator(_schema())
    if not isinstance(doc.data, dict):
        return [Diagnostic("the agent config must be a mapping", doc.filename, 1)]
    out: list[Diagnostic] = []
    for error in sorted(
        validator.iter_errors(doc.data), key=lambda e: doc.line_of(list(e.absolute_path)) or 0
    ):
        out.extend(explain_schema_error(doc, error))
    return out


class _Checker:
    """The checks a schema cannot express, collected while the dataclasses are built."""

    def __init__(self, doc: SourceDoc) -> None:
        self.doc = doc
        self.problems: list[Diagnostic] = []
        self.base = os.path.dirname(doc.filename)

    def problem(self, at: Sequence[str | int], message: str, hint: str | None = None) -> None:
        self.problems.append(
            Diagnostic(message, self.doc.filename, self.doc.line_of(list(at)) or 1, dotted(list(at)), hint)
        )

    def local_path(self, value: str | None) -> str | None:
        if value is None:
            return None
        return value if os.path.isabs(value) else os.path.normpath(os.path.join(self.base, value))

    def duration(self, at: Sequence[str | int], value: str | None, default: float) -> float:
        from stackctl.units import parse_duration

        if value is None:
            return default
        try:
            seconds = parse_duration(value) / 1e9
        except ValueError as err:
            self.problem(at, str(err), "use e.g. 30s, 5m, 1h30m")
            return default
        if seconds <= 0:
            self.problem(at, f"must be more than 0 (got {value})")
            return default
        return seconds

    def build(self) -> AgentConfig:
        data: dict[str, Any] = self.doc.data
        sources = self.sources(data.get("sources") or [])
        names = [s.name for s in sources]
        zone = str(data.get("time_zone") or "UTC")
        self.time_zone(zone)
        drift_default = self.duration(("drift_interval",), data.get("drift_interval"), DEFAULT_DRIFT_INTERVAL)
        stacks = self.stacks(data.get("stacks") or [], names, drift_default)
        host, port = self.listen(data.get("listen") or DEFAULT_LISTEN)
        if bool(data.get("tls_cert_file")) != bool(data.get("tls_key_file")):
            self.problem(
                ("tls_cert_file" if data.get("tls_cert_file") else "tls_key_file",),
                "tls_cert_file and tls_key_file go together",
                "give both, or neither",
            )
        notify = tuple(
            NotifyConfig(str(n["url"]), self.duration(("notify", i, "timeout"), n.get("timeout"), 10.0))
            for i, n in enumerate(data.get("notify") or [])
        )
        return AgentConfig(
            path=self.doc.filename,
            sources=tuple(sources),
            stacks=tuple(stacks),
            host=host,
            port=port,
            webhook_secret_file=self.local_path(data.get("webhook_secret_file")),
            api_token_file=self.local_path(data.get("api_token_file")),
            tls_cert_file=self.local_path(data.get("tls_cert_file")),
            tls_key_file=self.local_path(data.get("tls_key_file")),
            cache_dir=self.local_path(data.get("cache_dir")) or DEFAULT_CACHE_DIR,
            drift_interval=drift_default,
            time_zone=zone,
            age_key_file=self.local_path(data.get("age_key_file")),
            notify=notify,
        )

    def time_zone(self, zone: str) -> None:
        import zoneinfo

        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.problem(("time_zone",), f"unknown time zone {zone!r}", "e.g. UTC, Europe/Berlin")

    def listen(self, text: str) -> tuple[str, int]:
        host, _, port = str(text).rpartition(":")
        number = int(port) if port.isdigit() else -1
        if not 0 <= number <= 65535:
            self.problem(("listen",), f"invalid port in {text!r}", "HOST:PORT, e.g. 127.0.0.1:9600")
            number = 9600
        return host.strip("[]") or "0.0.0.0", number

    def sources(self, items: list[dict[str, Any]]) -> list[SourceConfig]:
        out: list[SourceConfig] = []
        seen: set[str] = set()
        for i, item in enumerate(items):
            at = ("sources", i)
            name = item.get("name")
            if name is None:
                if len(items) > 1:
                    self.problem(
                        (*at, "url"),
                        "a source needs a name when there are several",
                        "add name: and refer to it from each stack's source:",
                    )
                name = DEFAULT_SOURCE
            if name in seen:
                self.problem((*at, "name"), f"source {name!r} is defined twice")
            seen.add(name)
            if item.get("branch") and item.get("tag"):
                self.problem((*at, "tag"), "branch and tag are exclusive", "follow one of them")
            if item.get("ssh_key_file") and item.get("token_file"):
                self.problem(
                    (*at, "token_file"),
                    "ssh_key_file and token_file are exclusive",
                    "ssh:// URLs take a key, https:// URLs a token",
                )
            url = str(item["url"])
            if item.get("token_file") and not url.startswith(("https://", "http://")):
                self.problem((*at, "token_file"), "a token works with https:// URLs only")
            if item.get("ssh_key_file") and url.startswith(("https://", "http://", "file://")):
                self.problem((*at, "ssh_key_file"), "an ssh key works with ssh:// URLs only")
            if item.get("known_hosts_file") and not item.get("ssh_key_file"):
                self.problem((*at, "known_hosts_file"), "known_hosts_file goes with ssh_key_file")
            out.append(
                SourceConfig(
                    name=str(name),
                    url=url,
                    branch=None if item.get("tag") else str(item.get("branch") or "main"),
                    tag=item.get("tag"),
                    interval=self.duration((*at, "interval"), item.get("interval"), DEFAULT_INTERVAL),
                    ssh_key_file=self.local_path(item.get("ssh_key_file")),
                    known_hosts_file=self.local_path(item.get("known_hosts_file")),
                    token_file=self.local_path(item.get("token_file")),
                    token_user=str(item.get("token_user") or "x-access-token"),
                )
            )
        return out

    def repo_path(self, at: Sequence[str | int], value: str) -> str:
        norm = os.path.normpath(value)
        if os.path.isabs(value) or norm == ".." or norm.startswith("../"):
            self.problem(
                at, f"{value!r} is not a path inside the repository", "write it relative to its root"
            )
        return norm

    def stacks(
        self, items: list[dict[str, Any]], sources: list[str], drift_default: float
    ) -> list[StackConfig]:
        out: list[StackConfig] = []
        seen: set[str] = set()
        for i, item in enumerate(items):
            at = ("stacks", i)
            name = str(item["name"])
            if name in seen:
                self.problem((*at, "name"), f"stack {name!r} is listed twice", "one entry per stack")
            seen.add(name)
            source = item.get("source")
            if source is None:
                if len(sources) > 1:
                    self.problem(
                        (*at, "name"),
                        f"stack {name!r} needs source: (there are several)",
                        f"one of {', '.join(sources)}",
                    )
                source = sources[0] if sources else DEFAULT_SOURCE
            elif source not in sources:
                self.problem(
                    (*at, "source"), f"no source named {source!r}", f"defined: {', '.join(sources) or 'none'}"
                )
            files = item.get("files") or []
            project = item.get("project")
            if bool(files) == bool(project):
                self.problem(
                    at,
                    f"stack {name!r} needs either files: or project: (with env:)",
                    "files: lists stack files in the repository; project: names its stackctl.yml",
                )
            if project and not item.get("env"):
                self.problem((*at, "project"), "project: needs env: (the environment to deploy)")
            if item.get("env") and not project:
                self.problem((*at, "env"), "env: goes with project:")
            windows = []
            for w, win in enumerate(item.get("windows") or []):
                windows.append(self.window((*at, "windows", w), win))
            timeout = self.duration((*at, "timeout"), item.get("timeout"), 600.0)
            out.append(
                StackConfig(
                    name=name,
                    source=str(source),
                    files=tuple(self.repo_path((*at, "files", j), f) for j, f in enumerate(files)),
                    env_files=tuple(
                        self.repo_path((*at, "env_files", j), f)
                        for j, f in enumerate(item.get("env_files") or [])
                    ),
                    project=self.repo_path((*at, "project"), project) if project else None,
                    env=item.get("env"),
                    apply=str(item.get("apply") or "auto"),
                    prune=bool(item.get("prune", False)),
                    drift=str(item.get("drift") or "report"),
                    drift_interval=self.duration(
                        (*at, "drift_interval"), item.get("drift_interval"), drift_default
                    ),
                    windows=tuple(windows),
                    timeout=timeout,
                    rollback_on_failure=bool(item.get("rollback_on_failure", False)),
                    resolve_image=str(item.get("resolve_image") or "always"),
                    history_max=int(item.get("history_max", 10)),
                    age_key_file=self.local_path(item.get("age_key_file")),
                )
            )
        return out

    def window(self, at: tuple[str | int, ...], item: dict[str, Any]) -> WindowConfig:
        kinds = [k for k in ("allow", "deny") if k in item]
        if len(kinds) != 1:
            self.problem(at, "a window is either allow: CRON or deny: CRON", "e.g. deny: '0 16 * * 5'")
            return WindowConfig("deny", "* * * * *", 0.0)
        kind = kinds[0]
        cron = str(item[kind])
        from stackctl.agent.windows import cron_problem

        problem = cron_problem(cron)
        if problem:
            self.problem(
                (*at, kind),
                f"invalid cron expression {cron!r}: {problem}",
                "five fields: minute hour day-of-month month day-of-week",
            )
        return WindowConfig(kind, cron, self.duration((*at, "duration"), item.get("duration"), 0.0))
