"""Revision history of a stack, stored in the swarm itself (like helm's release history).

Each deploy that wrote something records one revision as a swarm config named
`stackctl-history-STACK-N`, labelled `com.docker.stackctl.history=STACK`,
`com.docker.stackctl.revision=N` and the stack namespace label, so that the revisions belong
to the stack: `docker stack rm` removes them with it. stackctl's own observe, plan, prune,
`ls` and `rm` tell them apart by the history label (`is_history`). The data is JSON: revision
number, time, status (`deployed`, `failed`, `rolled back`, `timed out`, `interrupted`: from the
deploy's exit code), a one-line description of what the deploy did, who and where from (user,
host, CI job), the files, the stackctl version, the rendered stack (the
`stackctl config` data: secret/config entries keep only their file paths; any inline
content is replaced by its digest), a sha256 digest (12 hex) of each secret/config file,
the image of each service as the file wrote it (`images`) and, beside it, the image the deploy sent
for each service it wrote (`sent`, maybe pinned to a digest), and per secret/config the name of
the version the services used (`objects`: rotated secrets/configs, docs/rotation.md), so that a
rollback points the services back at that version. Secret values are never stored, nor values from
encrypted env files: those are stored as their digest (secrets/sensitive.py) and a rollback takes them
back from the stack's services on the swarm (`restore_sensitive`). Large documents are
stored zlib-compressed and base64-encoded (a swarm config holds at most 500 KB).
The last `keep` revisions (default 10, `--history-max`; 0: no limit) are kept: each revision
carries the `keep` of the deploy that wrote it, and every reader sees only the newest revision's
`keep` revisions. The older ones are removed in batches (once `PRUNE_SLACK` more have piled up), so
that a deploy usually writes one bookkeeping object, its revision, and not also a removal.
"""

from __future__ import annotations

import base64
import copy
import getpass
import hashlib
import json
import os
import socket
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from stackctl.ci import detect_ci
from stackctl.errors import (
    EXIT_DEPLOY_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    EXIT_TIMEOUT,
    Diagnostic,
    EngineError,
    StackctlError,
)
from stackctl.names import HISTORY_LABEL, KEEP_LABEL, NAMESPACE_LABEL, REVISION_LABEL, scope
from stackctl.names import HISTORY_PREFIX as NAME_PREFIX

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.secrets.sensitive import Sensitive

DEFAULT_KEEP = 10
PRUNE_SLACK = 5  # hidden revisions beyond --history-max allowed before one deploy removes them all
MAX_CONFIG_BYTES = 500 * 1024
COMPRESS_ABOVE = 64 * 1024
FORMAT_VERSION = 1
DESCRIPTION_MAX = 120  # characters: one line of `history`

DEPLOYED, FAILED, ROLLED_BACK, TIMED_OUT, INTERRUPTED = (
    "deployed", "failed", "rolled back", "timed out", "interrupted")
_STATUS_BY_EXIT = {EXIT_OK: DEPLOYED, EXIT_DEPLOY_FAILED: FAILED, EXIT_ROLLED_BACK: ROLLED_BACK,
                   EXIT_TIMEOUT: TIMED_OUT, EXIT_INTERRUPTED: INTERRUPTED}


def status_for_exit(code: int) -> str:
    """The revision status of a deploy that ended with exit `code` (docs/exit-codes.md)."""
    return _STATUS_BY_EXIT.get(code, FAILED)


def exit_for_status(status: str) -> int:
    """The exit code a deploy that recorded `status` ended with (the agent reads it back)."""
    for code, name in _STATUS_BY_EXIT.items():
        if name == status:
            return code
    return EXIT_DEPLOY_FAILED


def is_history(labels: Mapping[str, str] | None) -> bool:
    """True for a revision-history config: never one of the stack's own configs."""
    return HISTORY_LABEL in (labels or {})


class HistoryError(StackctlError):
    """A revision is missing or cannot be read or written."""


class HistorySpecJson(TypedDict, total=False):
    """`Spec` of a revision's swarm config (what stackctl reads of it)."""

    Name: str
    Labels: dict[str, str]
    Data: str  # base64 of the stored document (some engines omit it in lists)


class HistoryConfigJson(TypedDict, total=False):
    """A revision's swarm config as the engine lists it (what stackctl reads of it)."""

    ID: str
    Spec: HistorySpecJson


class RevisionDoc(TypedDict, total=False):
    """The stored document of a revision (the JSON in its config; all keys optional: older
    revisions lack the newer ones)."""

    format: int
    revision: int
    stack: str
    time: str
    user: str
    host: str
    cwd: str
    files: list[str]
    working_dir: str
    stackctl_version: str
    note: str
    status: str
    description: str
    ci: dict[str, str]
    config: dict[str, Any]  # the rendered stack (`stackctl config`), secret/config content scrubbed
    images: dict[str, str]
    sent: dict[str, str]
    digests: dict[str, dict[str, str]]
    objects: dict[str, dict[str, str]]
    rollout: dict[str, object]
    git: dict[str, str]
    encoding: str  # "zlib+base64": a large document, packed in `data`
    data: str


class RevisionSummary(TypedDict):
    """A revision as `history --format json` lists it."""

    revision: int
    time: str
    status: str
    description: str
    user: str
    host: str
    ci: dict[str, str] | None
    cwd: str
    files: list[str]
    note: str
    images: dict[str, str]
    sent: dict[str, str]
    stackctl_version: str
    rollout: dict[str, object] | None
    git: dict[str, str] | None


class RevisionJson(RevisionSummary):
    """One revision as `history STACK N --format json` shows it."""

    working_dir: str
    digests: dict[str, dict[str, str]]
    objects: dict[str, dict[str, str]]
    config: dict[str, Any]


@dataclass
class Revision:
    revision: int
    time: str = ""
    user: str = ""
    host: str = ""
    cwd: str = ""
    files: list[str] = field(default_factory=list)
    stackctl_version: str = ""
    note: str = ""
    status: str = DEPLOYED  # revisions recorded before statuses existed were all successful
    description: str = ""
    ci: dict[str, str] = field(default_factory=dict)  # CI system and job, when run from one
    config: dict[str, Any] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)  # service -> image as the file wrote it
    sent: dict[str, str] = field(default_factory=dict)  # service -> image this deploy sent (written only)
    digests: dict[str, dict[str, str]] = field(default_factory=dict)  # secrets/configs: name -> digest
    # "secrets"/"configs" -> base name (STACK_key) -> the version the services used (rotation)
    objects: dict[str, dict[str, str]] = field(default_factory=dict)
    working_dir: str = ""
    config_id: str = ""
    # a fan-out rollout's deploy (docs/fan-out.md): id, env, target, wave, action (deploy|rollback)
    rollout: dict[str, object] = field(default_factory=dict)
    # where the files came from when the agent deployed them: repository URL (no credentials),
    # commit SHA, author, subject (stackctl agent, docs/agent.md); {} for CLI deploys
    git: dict[str, str] = field(default_factory=dict)

    def summary(self) -> RevisionSummary:
        return {"revision": self.revision, "time": self.time, "status": self.status,
                "description": self.description or self.note or "deploy", "user": self.user,
                "host": self.host, "ci": self.ci or None, "cwd": self.cwd, "files": self.files,
                "note": self.note, "images": self.images, "sent": self.sent,
                "stackctl_version": self.stackctl_version, "rollout": self.rollout or None,
                "git": self.git or None}

    def to_json(self) -> RevisionJson:
        return {**self.summary(), "working_dir": self.working_dir, "digests": self.digests,
                "objects": self.objects, "config": self.config}


def config_name(stack: str, revision: int) -> str:
    return f"{NAME_PREFIX}{stack}-{revision}"


def file_digest(path: str | os.PathLike[str]) -> str | None:
    """sha256 of a file's bytes, first 12 hex chars; None when it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]
    except OSError:
        return None


def scrub_config(config: Mapping[str, Any],
                 working_dir: str = "") -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The stack without secret/config content, and the digest of each secret/config file."""
    clean = copy.deepcopy(dict(config))
    digests: dict[str, dict[str, str]] = {}
    for section in ("secrets", "configs"):
        entries = clean.get(section) or {}
        out: dict[str, str] = {}
        for name, entry in entries.items():
            if not isinstance(entry, dict):
                continue
            for key in ("content", "data"):
                if key in entry:
                    raw = entry.pop(key)
                    text = raw if isinstance(raw, str) else json.dumps(raw)
                    entry[f"x-{key}-digest"] = hashlib.sha256(text.encode()).hexdigest()[:12]
            path = entry.get("file")
            if path:
                full = path if os.path.isabs(path) or not working_dir else os.path.join(working_dir, path)
                digest = file_digest(full)
                if digest:
                    out[name] = digest
        if out:
            digests[section] = out
    return clean, digests


def restore_sensitive(engine: Engine, stack: str, rev: Revision) -> tuple[dict[str, Any], Sensitive | None]:
    """The revision's config with its sensitive values back, and their mark (None: it had none).

    A value from an encrypted env file is stored as its digest only (secrets/sensitive.py), so a
    rollback takes it from the stack's services on the swarm (their spec, and the previous spec the
    swarm keeps): any string of the stack's service specs, or value of an environment entry, whose
    digest matches (the same digest is the same value).
    When none does, HistoryError names the key before anything is written."""
    from stackctl.secrets.sensitive import Sensitive, placeholder_digest, placeholder_source, value_digest

    wanted: list[tuple[tuple[Any, ...], str]] = []

    def find(node: Any, path: tuple[Any, ...]) -> None:
        if placeholder_digest(node) is not None:
            wanted.append((path, str(node)))
        elif isinstance(node, dict):
            for key, value in node.items():
                find(value, (*path, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                find(value, (*path, index))

    find(rev.config, ())
    if not wanted:
        return rev.config, None
    anywhere: dict[str, str] = {}  # digest -> a string of the stack's specs (and each `KEY=value`'s value)

    def strings(node: Any) -> None:
        if isinstance(node, str):
            anywhere.setdefault(value_digest(node), node)
            name, eq, value = node.partition("=")
            if eq:
                anywhere.setdefault(value_digest(value), value)
        elif isinstance(node, dict):
            for value in node.values():
                strings(value)
        elif isinstance(node, list):
            for value in node:
                strings(value)

    for svc in engine.objects("service", {"label": [f"{NAMESPACE_LABEL}={stack}"]}):
        # the spec now, then the one before it (the swarm keeps it: what a rollback usually wants)
        for spec in (svc.get("Spec") or {}, svc.get("PreviousSpec") or {}):
            strings(spec)
    config = copy.deepcopy(rev.config)
    sensitive = Sensitive()
    for path, shown in wanted:
        digest = placeholder_digest(shown) or ""
        source = placeholder_source(shown) or f"revision {rev.revision}"
        value = anywhere.get(digest)  # a value with the digest is the value, wherever it stands
        if value is None:
            key = ".".join(str(p) for p in path)
            raise HistoryError(
                f"cannot roll back stack {stack} to revision {rev.revision}: {key} is sensitive (from "
                f"{source}) and the history keeps only its digest (sha256:{digest}); no service of the "
                "stack on the swarm (spec or previous spec) holds that value any more; nothing was changed",
                [Diagnostic(f"{key}: sha256:{digest} is not on the swarm", path=key,
                            hint="deploy that revision from its files instead (stackctl deploy -c FILE "
                                 "with the encrypted env files and their key)")])
        node: Any = config
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
        sensitive.add(value, source)
        if len(path) == 4 and path[0] == "services" and path[2] == "environment":
            sensitive.env.setdefault((str(path[1]), str(path[3])), source)
    return config, sensitive


def _encode(doc: RevisionDoc) -> bytes:
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    if len(raw) <= COMPRESS_ABOVE:
        return raw
    packed = base64.b64encode(zlib.compress(raw, 9)).decode()
    data = json.dumps({"encoding": "zlib+base64", "data": packed}).encode()
    if len(data) > MAX_CONFIG_BYTES:
        raise HistoryError(f"revision too large to store ({len(data)} bytes compressed, "
                           f"limit {MAX_CONFIG_BYTES})")
    return data


def _decode(data: bytes) -> RevisionDoc:
    doc: RevisionDoc = json.loads(data)
    if isinstance(doc, dict) and doc.get("encoding") == "zlib+base64":
        doc = json.loads(zlib.decompress(base64.b64decode(doc.get("data", ""))))
    return doc


def _history_configs(engine: Engine, stack: str) -> list[HistoryConfigJson]:
    """The stack's history configs, oldest first (exact stack match: label filters are exact)."""
    try:
        found = cast(list[HistoryConfigJson],
                     engine.objects("config", {"label": [f"{HISTORY_LABEL}={stack}"]}))
    except EngineError as err:
        raise err.during(f"list the history of stack {stack}") from None
    out = []
    for c in found:
        labels = (c.get("Spec") or {}).get("Labels") or {}
        try:
            rev = int(labels.get(REVISION_LABEL, ""))
        except ValueError:
            continue
        if labels.get(HISTORY_LABEL) == stack:
            out.append((rev, c))
    return [c for _, c in sorted(out, key=lambda p: p[0])]


def _visible(configs: list[HistoryConfigJson]) -> list[HistoryConfigJson]:
    """The revisions within the newest one's --history-max (older ones await their batched removal)."""
    if not configs:
        return configs
    try:
        keep = int(((configs[-1].get("Spec") or {}).get("Labels") or {}).get(KEEP_LABEL, "0"))
    except ValueError:
        keep = 0
    return configs[-keep:] if keep > 0 else configs


def _revision_number(cfg: HistoryConfigJson) -> int:
    return int(((cfg.get("Spec") or {}).get("Labels") or {})[REVISION_LABEL])


def _from_config(cfg: HistoryConfigJson, engine: Engine) -> Revision:
    data = (cfg.get("Spec") or {}).get("Data")
    if data is None:  # some engines omit Data in lists
        inspected = cast(HistoryConfigJson, engine.inspect("config", cfg.get("ID", "")))
        data = (inspected.get("Spec") or {}).get("Data", "")
    try:
        doc = _decode(base64.b64decode(data))
    except (ValueError, zlib.error) as err:
        raise HistoryError(f"history entry {cfg.get('Spec', {}).get('Name')} is unreadable: {err}") from None
    return Revision(
        revision=int(doc.get("revision") or _revision_number(cfg)),
        time=doc.get("time", ""),
        user=doc.get("user", ""),
        host=doc.get("host", ""),
        cwd=doc.get("cwd", ""),
        files=list(doc.get("files") or []),
        stackctl_version=doc.get("stackctl_version", ""),
        note=doc.get("note", ""),
        status=doc.get("status") or DEPLOYED,
        description=doc.get("description", ""),
        ci=dict(doc.get("ci") or {}),
        config=doc.get("config") or {},
        **_images_of(doc),
        digests=doc.get("digests") or {},
        objects=doc.get("objects") or {},
        working_dir=doc.get("working_dir", ""),
        config_id=cfg.get("ID", ""),
        rollout=dict(doc.get("rollout") or {}),
        git={str(k): str(v) for k, v in (doc.get("git") or {}).items()},
    )


def _images_of(doc: RevisionDoc) -> dict[str, dict[str, str]]:
    """`images` (as the file wrote them) and `sent` of a stored revision. Revisions recorded before
    `sent` existed kept one mixed map (the sent image where the deploy wrote the service, the file's
    string elsewhere): it is read as `sent` and the file's strings come from the stored config."""
    if "sent" in doc:
        return {"images": dict(doc.get("images") or {}), "sent": dict(doc.get("sent") or {})}
    stack = str(doc.get("stack", ""))
    services = (doc.get("config") or {}).get("services") or {}
    return {"images": {scope(stack, name): str(body.get("image", ""))
                       for name, body in services.items() if isinstance(body, dict)},
            "sent": dict(doc.get("images") or {})}


def pin_changes(old: Revision, new: Revision) -> list[tuple[str, str, str]]:
    """Services whose file image is the same in both revisions but whose sent image differs (a tag
    that moved, pinned to another digest): (service, old sent, new sent). A service either revision
    did not write has nothing sent to compare; a changed file image is a config change already."""
    return [(name, old.sent[name], new.sent[name]) for name in sorted(set(old.sent) & set(new.sent))
            if old.images.get(name) == new.images.get(name) and old.sent[name] != new.sent[name]]


def record_revision(
    engine: Engine,
    stack: str,
    config: Mapping[str, Any],
    images: Mapping[str, str],
    *,
    files: list[str] | None = None,
    working_dir: str = "",
    note: str = "",
    keep: int = DEFAULT_KEEP,
    objects: Mapping[str, Mapping[str, str]] | None = None,
    status: str = DEPLOYED,
    description: str = "",
    environ: Mapping[str, str] | None = None,
    rollout: Mapping[str, object] | None = None,
    git: Mapping[str, str] | None = None,
) -> int:
    """Store a new revision of `stack` and prune to the newest `keep` (0: keep all); return its number.

    `status`: see status_for_exit; `description`: history_text.describe_deploy's line; `environ`: where the
    CI job variables are read (None: this process's environment); `rollout`: the fan-out rollout
    this deploy is part of (its id, environment, target, wave), docs/fan-out.md; `git`: the
    repository URL, commit, author and subject the agent deployed from.
    """
    from stackctl import __version__

    clean, digests = scrub_config(config, working_dir)
    # One way for every service: the image as the file wrote it; what was sent goes beside it.
    file_images = {scope(stack, name): str(body.get("image", ""))
                   for name, body in (clean.get("services") or {}).items() if isinstance(body, dict)}
    existing = _history_configs(engine, stack)
    number = (_revision_number(existing[-1]) if existing else 0) + 1
    doc: RevisionDoc = {
        "format": FORMAT_VERSION,
        "stack": stack,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user": _user(),
        "host": socket.gethostname(),
        "cwd": os.getcwd(),
        # a CLI deploy's files as absolute paths; the agent's as the repository names them (`git`)
        "files": [f if f == "-" or git else os.path.abspath(f) for f in (files or [])],
        "working_dir": working_dir,
        "stackctl_version": __version__,
        "note": note,
        "status": status,
        "description": _one_line(description),
        "ci": detect_ci(os.environ if environ is None else environ),
        "config": clean,
        "images": file_images,
        "sent": dict(images),
        "digests": digests,
        "objects": {section: dict(names) for section, names in (objects or {}).items() if names},
    }
    if rollout:
        doc["rollout"] = dict(rollout)
    if git:
        doc["git"] = dict(git)
    for _attempt in range(5):
        doc["revision"] = number
        spec = {"Name": config_name(stack, number), "Data": base64.b64encode(_encode(doc)).decode(),
                "Labels": {NAMESPACE_LABEL: stack, HISTORY_LABEL: stack, REVISION_LABEL: str(number),
                           KEEP_LABEL: str(max(keep, 0))}}
        try:
            engine.create("config", spec)
            break
        except EngineError as err:
            if err.conflict:
                number += 1  # a concurrent deploy took this number
                continue
            raise err.during(f"record revision {number} of stack {stack}") from None
    else:
        raise HistoryError(f"cannot record a revision of stack {stack}: revision numbers keep colliding")
    if keep > 0 and len(existing) + 1 > keep + PRUNE_SLACK:
        prune(engine, stack, keep)
    return number


def prune(engine: Engine, stack: str, keep: int = DEFAULT_KEEP) -> list[int]:
    """Remove all but the newest `keep` revisions (0: remove none); return the removed numbers."""
    if keep <= 0:
        return []
    configs = _history_configs(engine, stack)
    removed = []
    for cfg in configs[: max(0, len(configs) - keep)]:
        try:
            engine.remove("config", cfg["ID"])
            removed.append(_revision_number(cfg))
        except EngineError:  # an old revision that stays is harmless
            continue
    return removed


def list_revisions(engine: Engine, stack: str) -> list[Revision]:
    """The recorded revisions, oldest first."""
    return [_from_config(c, engine) for c in _visible(_history_configs(engine, stack))]


def get_revision(engine: Engine, stack: str, revision: int | None = None) -> Revision:
    """One revision; None means the newest `deployed` one before the latest (the rollback target:
    after a failed deploy, the last revision that worked)."""
    revs = _visible(_history_configs(engine, stack))
    if not revs:
        raise HistoryError(f"stack {stack} has no recorded revisions (deploy it with stackctl first)")
    numbers = [_revision_number(c) for c in revs]
    if revision is None:
        for cfg in reversed(revs[:-1]):
            rev = _from_config(cfg, engine)
            if rev.status == DEPLOYED:
                return rev
        raise HistoryError(f"stack {stack} has no deployed revision before revision {numbers[-1]}: "
                           "there is nothing to roll back to")
    for c in revs:
        if _revision_number(c) == revision:
            return _from_config(c, engine)
    raise HistoryError(f"stack {stack} has no revision {revision} (recorded: {', '.join(map(str, numbers))})")


def remove_history(engine: Engine, stack: str) -> int:
    """Delete every revision of the stack (tests, `rm --history`); return how many."""
    configs = _history_configs(engine, stack)
    for cfg in configs:
        try:
            engine.remove("config", cfg["ID"])
        except EngineError:
            continue
    return len(configs)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return os.environ.get("USER", "") or str(os.getuid())


# --- who, where from, what: pure helpers (unit-tested) ----------------------------------

def _one_line(text: str) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= DESCRIPTION_MAX else line[: DESCRIPTION_MAX - 1] + "…"
