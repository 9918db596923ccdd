"""Revision history of a stack, stored in the swarm itself (like helm's release history).

Each successful deploy records one revision as a swarm config named
`stackctl-history-STACK-N`, labelled `com.docker.stackctl.history=STACK` and
`com.docker.stackctl.revision=N`. Not the stack namespace label: `docker stack rm`, `ls`
and pruning must neither count nor remove them. The data is JSON: revision number, time,
who and where from, the files, the stackctl version, the rendered stack (the
`stackctl config` data: secret/config entries keep only their file paths; any inline
content is replaced by its digest), a sha256 digest (12 hex) of each secret/config file,
the image of each service, and per secret/config the name of the version the services used
(`objects`: rotated secrets/configs, docs/rotation.md), so that a rollback points the
services back at that version. Secret values are never stored. Large documents are
stored zlib-compressed and base64-encoded (a swarm config holds at most 500 KB).
The last `keep` revisions (default 10) are kept.
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
from typing import TYPE_CHECKING, Any

from stackctl.errors import EngineError, StackctlError
from stackctl.names import HISTORY_LABEL, REVISION_LABEL
from stackctl.names import HISTORY_PREFIX as NAME_PREFIX

if TYPE_CHECKING:
    from stackctl.engine import Engine

DEFAULT_KEEP = 10
MAX_CONFIG_BYTES = 500 * 1024
COMPRESS_ABOVE = 64 * 1024
FORMAT_VERSION = 1


class HistoryError(StackctlError):
    """A revision is missing or cannot be read or written."""


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
    config: dict[str, Any] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    digests: dict[str, dict[str, str]] = field(default_factory=dict)  # secrets/configs: name -> digest
    # "secrets"/"configs" -> base name (STACK_key) -> the version the services used (rotation)
    objects: dict[str, dict[str, str]] = field(default_factory=dict)
    working_dir: str = ""
    config_id: str = ""

    def summary(self) -> dict[str, Any]:
        return {"revision": self.revision, "time": self.time, "user": self.user, "host": self.host,
                "cwd": self.cwd, "files": self.files, "note": self.note, "images": self.images,
                "stackctl_version": self.stackctl_version}

    def to_json(self) -> dict[str, Any]:
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


def _encode(doc: dict[str, Any]) -> bytes:
    raw = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    if len(raw) <= COMPRESS_ABOVE:
        return raw
    packed = base64.b64encode(zlib.compress(raw, 9)).decode()
    data = json.dumps({"encoding": "zlib+base64", "data": packed}).encode()
    if len(data) > MAX_CONFIG_BYTES:
        raise HistoryError(f"revision too large to store ({len(data)} bytes compressed, "
                           f"limit {MAX_CONFIG_BYTES})")
    return data


def _decode(data: bytes) -> dict[str, Any]:
    doc = json.loads(data)
    if isinstance(doc, dict) and doc.get("encoding") == "zlib+base64":
        doc = json.loads(zlib.decompress(base64.b64decode(doc["data"])))
    return doc


def _history_configs(engine: Engine, stack: str) -> list[dict[str, Any]]:
    """The stack's history configs, oldest first (exact stack match: label filters are exact)."""
    try:
        found = engine.objects("config", {"label": [f"{HISTORY_LABEL}={stack}"]})
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


def _revision_number(cfg: Mapping[str, Any]) -> int:
    return int(((cfg.get("Spec") or {}).get("Labels") or {})[REVISION_LABEL])


def _from_config(cfg: Mapping[str, Any], engine: Engine) -> Revision:
    data = (cfg.get("Spec") or {}).get("Data")
    if data is None:  # some engines omit Data in lists
        data = ((engine.inspect("config", cfg["ID"]).get("Spec")) or {}).get("Data", "")
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
        config=doc.get("config") or {},
        images=doc.get("images") or {},
        digests=doc.get("digests") or {},
        objects=doc.get("objects") or {},
        working_dir=doc.get("working_dir", ""),
        config_id=cfg.get("ID", ""),
    )


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
) -> int:
    """Store a new revision of `stack` and prune to the newest `keep`; return its number."""
    from stackctl import __version__

    clean, digests = scrub_config(config, working_dir)
    all_images = {f"{stack}_{name}": str(body.get("image", ""))
                  for name, body in (clean.get("services") or {}).items() if isinstance(body, dict)}
    all_images.update(images)  # what was sent (maybe pinned) wins over the file's string
    existing = _history_configs(engine, stack)
    number = (_revision_number(existing[-1]) if existing else 0) + 1
    doc = {
        "format": FORMAT_VERSION,
        "stack": stack,
        "time": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "user": _user(),
        "host": socket.gethostname(),
        "cwd": os.getcwd(),
        "files": [os.path.abspath(f) if f != "-" else f for f in (files or [])],
        "working_dir": working_dir,
        "stackctl_version": __version__,
        "note": note,
        "config": clean,
        "images": all_images,
        "digests": digests,
        "objects": {section: dict(names) for section, names in (objects or {}).items() if names},
    }
    for _attempt in range(5):
        doc["revision"] = number
        spec = {"Name": config_name(stack, number), "Data": base64.b64encode(_encode(doc)).decode(),
                "Labels": {HISTORY_LABEL: stack, REVISION_LABEL: str(number)}}
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
    prune(engine, stack, keep)
    return number


def prune(engine: Engine, stack: str, keep: int = DEFAULT_KEEP) -> list[int]:
    """Remove all but the newest `keep` revisions; return the removed numbers."""
    configs = _history_configs(engine, stack)
    removed = []
    for cfg in configs[: max(0, len(configs) - max(1, keep))]:
        try:
            engine.remove("config", cfg["ID"])
            removed.append(_revision_number(cfg))
        except EngineError:  # an old revision that stays is harmless
            continue
    return removed


def list_revisions(engine: Engine, stack: str) -> list[Revision]:
    """The recorded revisions, oldest first."""
    return [_from_config(c, engine) for c in _history_configs(engine, stack)]


def get_revision(engine: Engine, stack: str, revision: int | None = None) -> Revision:
    """One revision; None means the one before the latest (the usual rollback target)."""
    revs = _history_configs(engine, stack)
    if not revs:
        raise HistoryError(f"stack {stack} has no recorded revisions (deploy it with stackctl first)")
    numbers = [_revision_number(c) for c in revs]
    if revision is None:
        if len(revs) < 2:
            raise HistoryError(f"stack {stack} has only revision {numbers[0]}: "
                               "there is nothing to roll back to")
        return _from_config(revs[-2], engine)
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
