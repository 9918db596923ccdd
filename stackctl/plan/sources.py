"""A service's changes in the files' words: compose key, the files' units, FILE:LINE.

The plan diffs normalised Engine API specs; people read the stack file. Given the parsed
files (`SourceDoc`s, values as written: before normalisation), each engine field change of a
service becomes the compose changes that explain it (`compose_terms.py`), each located at its
key in the new files. Without the files (a rollback to a stored config) the compose keys and
default units are still shown, without FILE:LINE. Pure: no engine, no file reads.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from stackctl.errors import Diagnostic
from stackctl.load.source import SourceDoc, locate
from stackctl.plan.compose_terms import ComposeChange, compose_changes, list_field
from stackctl.plan.fields import field_changes, path_parts, value_at
from stackctl.plan.model import FieldChange

# compose keys whose entries are `NAME=value` list items or `NAME: value` mapping keys
_ENTRY_KEYS = {("environment",), ("labels",), ("deploy", "labels"), ("sysctls",), ("logging", "options")}


def _raw_at(data: object, path: Sequence[str | int]) -> object:
    for part in path:
        if isinstance(part, int):
            if not isinstance(data, list) or part >= len(data):
                return None
            data = data[part]
        elif isinstance(data, Mapping):
            data = data.get(part)
        else:
            return None
    return data


def _merge(base: object, over: object) -> object:
    if isinstance(base, Mapping) and isinstance(over, Mapping):
        out: dict[object, object] = dict(base)
        for key, value in over.items():
            out[key] = _merge(base.get(key), value) if key in base else value
        return out
    return over


def raw_service(docs: Sequence[SourceDoc], short: str) -> dict[str, object] | None:
    """The service's entry as the files write it (later files override earlier ones), or None."""
    found: Mapping[str, object] | None = None
    for doc in docs:
        entry = _raw_at(doc.data, ("services", short))
        if isinstance(entry, Mapping):
            merged = _merge(found, entry) if found is not None else entry
            found = merged if isinstance(merged, Mapping) else None
    return dict(found) if found is not None else None


def _port_text(item: object) -> str | None:
    """A port as the file writes it, in the plan's form (`8080:80/tcp`), for finding its line."""
    if isinstance(item, Mapping):
        text = f"{item.get('target')}/{item.get('protocol') or 'tcp'}"
        return f"{item['published']}:{text}" if item.get("published") else text
    if isinstance(item, str | int):
        text = str(item).strip()
        return text if "/" in text else text + "/tcp"
    return None


def _same_item(key: tuple[str, ...], item: object, text: str) -> bool:
    """Whether a list item of the file is the element the plan shows as `text`."""
    if key == ("ports",):
        return _port_text(item) == text.split(" (")[0]
    return isinstance(item, str | int | float) and "".join(str(item).split()) == "".join(text.split())


def locate_change(docs: Sequence[SourceDoc], short: str,
                  change: ComposeChange) -> tuple[str | None, int | None]:
    """FILE:LINE of a change's key in the new files: the entry of an environment variable or
    label when the files have it, the list item of an added element, else the key (or the
    nearest key above it that the files still have). (None, None) for a field no file sets."""
    parts = change.key_path
    if not parts or not docs:
        return None, None
    base: tuple[str | int, ...] = ("services", short)
    if len(parts) >= 2 and tuple(parts[:-1]) in _ENTRY_KEYS:
        parent, key = base + tuple(parts[:-1]), parts[-1]
        for doc in reversed(docs):
            if doc.has(parent + (key,)):
                return doc.filename, doc.lines[parent + (key,)]
            items = _raw_at(doc.data, parent)
            if isinstance(items, list):
                for i, item in enumerate(items):
                    if str(item).partition("=")[0] == key and doc.has(parent + (i,)):
                        return doc.filename, doc.lines[parent + (i,)]
        return locate(docs, parent)
    path = base + tuple(parts)
    if change.element and change.new is not None:
        for doc in reversed(docs):
            items = _raw_at(doc.data, path)
            if isinstance(items, list):
                for i, item in enumerate(items):
                    if _same_item(tuple(parts), item, change.new) and doc.has(path + (i,)):
                        return doc.filename, doc.lines[path + (i,)]
    return locate(docs, path)


def _drift_key(change: ComposeChange) -> tuple[str | None, str | None]:
    """What one compose change touches: its key, and for a list element the element."""
    return change.compose_path, (change.old if change.new is None else change.new) if change.element else None


def _compose_all(changes: Sequence[FieldChange], have: Mapping[str, object], want: Mapping[str, object],
                 service: Mapping[str, object] | None) -> list[tuple[ComposeChange, bool]]:
    """(compose change, engine-level drift) for each engine change, lists taken whole."""
    out: list[tuple[ComposeChange, bool]] = []
    whole_lists: set[str] = set()
    for ch in changes:
        path, old, new, drift = ch.path, ch.old, ch.new, ch.drift
        whole = list_field(ch.path)
        if whole is not None:
            if whole in whole_lists:
                continue
            whole_lists.add(whole)
            parts = path_parts(whole)
            path, old, new = whole, value_at(dict(have), parts), value_at(dict(want), parts)
            drift = any(c.drift for c in changes if c.path.startswith((whole + ".", whole + "[")))
        out += [(cc, drift) for cc in compose_changes(path, old, new, service)]
    return out


def service_changes(changes: Sequence[FieldChange], have: Mapping[str, object], want: Mapping[str, object],
                    short: str, docs: Sequence[SourceDoc] | None,
                    last: Mapping[str, object] | None = None) -> list[ComposeChange]:
    """The engine changes of one service (`have` -> `want`, both normalised) in compose terms.

    A change inside an element of a list the plan diffs by element (a port's PublishedPort)
    is shown as that element removed and added. A field no compose key sets is drift. The
    changes come in the files' order (file, line), as people read them.

    `last`: the normalised spec stackctl last applied, when known: a compose change is drift
    when the swarm changed that key (or list element) since, so one variable set on the swarm
    does not make the file's change of another variable drift too.
    """
    service = raw_service(docs, short) if docs else None
    swarm: set[tuple[str | None, str | None]] | None = None
    if last is not None:
        swarm = {_drift_key(cc) for cc, _ in _compose_all(field_changes(dict(last), dict(have)), last, have,
                                                          service)}
    out: list[ComposeChange] = []
    for cc, drift in _compose_all(changes, have, want, service):
        if swarm is not None and cc.compose_path is not None:
            drift = _drift_key(cc) in swarm
        file, line = locate_change(docs or (), short, cc)
        out.append(dataclasses.replace(cc, drift=drift or cc.compose_path is None, file=file, line=line))
    order = [doc.filename for doc in docs or ()]

    def in_file_order(cc: ComposeChange) -> tuple[int, int, int]:
        if cc.line is None or cc.file not in order:
            return (1, 0, 0)
        return (0, order.index(cc.file), cc.line)

    return sorted(out, key=in_file_order)  # stable: the engine's order where no line is known


def key_path(path: str, docs: Sequence[SourceDoc]) -> tuple[str | int, ...] | None:
    """A dotted key path (`services.web.deploy.placement.constraints`, `services.web.ports[1]`) as a
    path into the files, its entry name matched against the files' (names may contain dots)."""
    import re

    head, _, rest = path.partition(".")
    names = {str(n) for doc in docs if isinstance(doc.data.get(head), Mapping) for n in doc.data[head]}
    for name in sorted(names, key=len, reverse=True):
        if rest == name or rest.startswith((name + ".", name + "[")):
            tail = re.findall(r"\.([^.\[]+)|\[(\d+)\]", rest[len(name):])
            return (head, name, *(int(i) if i else key for key, i in tail))
    return None


def locate_problems(problems: list[Diagnostic], docs: Sequence[SourceDoc]) -> None:
    """Give each plan problem about the files (a key path, no FILE yet) the FILE:LINE of that key,
    or of its nearest ancestor, in the last file that defines the entry (in place)."""
    for i, diag in enumerate(problems):
        if diag.file or not diag.path:
            continue
        key = key_path(diag.path, docs)
        if key is None:
            continue
        for doc in reversed(docs):
            if doc.has(key[:2]):
                problems[i] = dataclasses.replace(diag, file=doc.filename, line=doc.line_of(key))
                break
