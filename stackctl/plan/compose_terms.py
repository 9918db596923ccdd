"""Engine field changes said in the stack file's words: compose keys, the file's units.

The plan compares Engine API specs (that is what the swarm stores), but people wrote a
compose file: `UpdateConfig.Delay: 2000000000 -> 5000000000` is shown as
`deploy.update_config.delay: 2s → 5s`. One table maps each engine field of a service spec
to the compose key that produces it, with the value grammar that key uses; lists the user
writes as sets (environment, constraints, ports, mounts...) are compared element by element.
A field with no compose key (set on the swarm, outside any file) keeps its engine path.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from stackctl.model.compose import FIELDS, Unit, engine_field
from stackctl.swarm.modes import MODE_NAMES
from stackctl.units import format_bytes, format_cpus, format_duration, parse_bytes, parse_cpus, parse_duration

Formatter = Callable[[object, object], str]  # (engine value, the file's own value or None) -> text


@dataclass(frozen=True)
class ComposeChange:
    """One change as the plan shows it; `compose_path` is None for a field no file sets.

    `old`/`new` are the values as the file writes them (None: not set). `element`: one
    element of a list added (old None) or removed (new None). `parts`: the compose key path
    (a label key may hold dots); `file`/`line`: where the key is in the new files, when known;
    `drift`: the live value is not what stackctl last applied.
    """

    compose_path: str | None  # under services.NAME, e.g. "deploy.update_config.delay"
    engine_path: str
    old: str | None
    new: str | None
    element: bool = False
    parts: tuple[str, ...] = ()
    drift: bool = False
    file: str | None = None
    line: int | None = None

    @property
    def path(self) -> str:
        """The engine path, as FieldChange names it."""
        return self.engine_path

    @property
    def key_path(self) -> tuple[str, ...]:
        if self.parts:
            return self.parts
        return tuple(self.compose_path.split(".")) if self.compose_path else ()

    def to_json(self) -> dict[str, object]:
        # `path` is the engine path, as in stackctl.diff/v1
        return {"compose_path": self.compose_path, "engine_path": self.engine_path, "path": self.engine_path,
                "file": self.file, "line": self.line, "old": self.old, "new": self.new,
                "element": self.element, "drift": self.drift}


def key_text(parts: Sequence[str]) -> str:
    """("labels", "com.example.team") -> 'labels["com.example.team"]' (a key holding dots is quoted)."""
    out = ""
    for part in parts:
        out += f"[{json.dumps(part)}]" if "." in part or not part else ("." if out else "") + part
    return out


# --- value grammars, engine value back to the file's unit -------------------------------


def _text(value: object, _file_value: object = None) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value and value.strip() == value and "\n" not in value else json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _duration(value: object, _file_value: object = None) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, int) and not isinstance(value, bool):
        return format_duration(value)
    return _text(value)


def _bytes(value: object, file_value: object = None) -> str:
    """Bytes in the suffix the file uses (`64M`), else the largest exact one."""
    if value is None:
        return "(none)"
    if not isinstance(value, int) or isinstance(value, bool):
        return _text(value)
    return format_bytes(value, file_value if isinstance(file_value, str) else None)


def _cpus(value: object, _file_value: object = None) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, int) and not isinstance(value, bool):
        return format_cpus(value)
    return _text(value)


def _mode(value: object, _file_value: object = None) -> str:
    if isinstance(value, dict) and value:
        return MODE_NAMES.get(next(iter(value)), _text(value))
    return _text(value)


# --- engine path -> compose key and grammar: the compose field registry (model/compose.py) ---------

_GRAMMARS: dict[Unit, Formatter] = {"text": _text, "duration": _duration, "bytes": _bytes, "cpus": _cpus,
                                    "mode": _mode}


def compose_field(engine_path: str) -> tuple[str, Formatter, str] | None:
    """(compose path, grammar, the engine path's rest) for a dotted engine path, or None."""
    found = engine_field(engine_path)
    if found is None or found[0].service_key is None:
        return None
    field, rest = found
    return str(field.service_key), _GRAMMARS[field.unit], rest


def _file_value(service: Mapping[str, object] | None, compose_path: str) -> object:
    value: object = service
    for part in compose_path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _shown(grammar: Formatter, value: object, file_value: object = None) -> str | None:
    """A value in the file's words (the file's own text when it means this value: `90s`, not
    `1m30s`); None when it is not set."""
    if value is None:
        return None
    parse = _PARSERS.get(grammar)
    if parse is not None and isinstance(file_value, str | int | float) and not isinstance(file_value, bool):
        try:
            if parse(file_value) == value:
                return str(file_value).strip()
        except (ValueError, TypeError):
            pass
    return grammar(value, file_value)


_PARSERS: dict[Formatter, Callable[[object], int]] = {_duration: parse_duration, _bytes: parse_bytes,
                                                   _cpus: parse_cpus}


_PORT_KEYS = {"Protocol", "TargetPort", "PublishedPort", "PublishMode"}


def _port(value: object) -> str:
    """An EndpointSpec port as the short syntax writes it: `8080:80/tcp`, `80/udp`."""
    if not isinstance(value, Mapping) or set(value) - _PORT_KEYS:
        return _text(value)
    text = f"{value.get('TargetPort')}/{value.get('Protocol') or 'tcp'}"
    if value.get("PublishedPort"):
        text = f"{value['PublishedPort']}:{text}"
    if value.get("PublishMode") == "host":
        text += " (mode host)"
    return text


def _mount(value: object) -> str:
    """A mount as the short syntax writes it (`data:/data:ro`); other options as JSON."""
    if not isinstance(value, Mapping) or set(value) - {"Type", "Source", "Target", "ReadOnly"}:
        return _text(value)
    kind, source, target = value.get("Type") or "volume", value.get("Source"), value.get("Target")
    if kind == "tmpfs":
        return f"tmpfs:{target}"
    text = f"{source}:{target}" if source else str(target)
    return text + (":ro" if value.get("ReadOnly") else "")


def _file_ref(value: object) -> str:
    """A secret/config reference: `STACK_pw-1a2b3c4d as /run/secrets/pw` (the version, its path)."""
    if not isinstance(value, Mapping):
        return _text(value)
    name = value.get("SecretName") or value.get("ConfigName")
    target = (value.get("File") or {}).get("Name") if isinstance(value.get("File"), Mapping) else None
    return f"{name} as {target}" if name and target else _text(value)


def _network(value: object) -> str:
    """A service's network attachment: `shop_back` or `shop_back (aliases: db)`."""
    if not isinstance(value, Mapping) or set(value) - {"Target", "Aliases"} or not value.get("Target"):
        return _text(value)
    aliases = value.get("Aliases") or []
    return str(value["Target"]) + (f" (aliases: {', '.join(map(str, aliases))})" if aliases else "")


_ELEMENT_TEXT: dict[str, Callable[[object], str]] = {"ports": _port, "volumes": _mount, "secrets": _file_ref,
                                                  "configs": _file_ref, "networks": _network}


def _env_map(items: Sequence[object]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in items:
        name, eq, value = str(item).partition("=")
        out[name] = value if eq else None
    return out


_ABSENT = object()
_MAPS = frozenset(str(f.service_key) for f in FIELDS
                  if f.elements and f.service_key and f.load in ("labels", "string_map"))


def _env_value(env: Mapping[str, str | None], name: str) -> str | None:
    if name not in env:
        return None
    value = env[name]
    return "(no value)" if value is None else _text(value)


def _element_changes(compose_path: str, engine_path: str, old: object, new: object) -> list[ComposeChange]:
    """Lists diffed by element: `environment.LEVEL: info → debug`, `ports: + 8080:80/tcp`."""
    base = tuple(compose_path.split("."))
    if compose_path == "environment":
        before, after = _env_map(_as_list(old)), _env_map(_as_list(new))
        out = []
        for name in sorted(set(before) | set(after)):
            if before.get(name, _ABSENT) != after.get(name, _ABSENT):
                out.append(ComposeChange(key_text((*base, name)), engine_path, _env_value(before, name),
                                         _env_value(after, name), parts=(*base, name)))
        return out
    if compose_path in _MAPS and _is_map(old) and _is_map(new):
        before_map, after_map = _as_map(old), _as_map(new)
        return [ComposeChange(key_text((*base, key)), engine_path, _shown(_text, before_map.get(key)),
                              _shown(_text, after_map.get(key)), parts=(*base, key))
                for key in sorted(set(before_map) | set(after_map))
                if before_map.get(key) != after_map.get(key)]
    old_list = list(old or []) if isinstance(old, list | type(None)) else None
    new_list = list(new or []) if isinstance(new, list | type(None)) else None
    if old_list is None or new_list is None:
        return []
    show = _ELEMENT_TEXT.get(compose_path, _text)
    removed = [v for v in old_list if v not in new_list]
    added = [v for v in new_list if v not in old_list]
    if not removed and not added:  # same elements, other order
        return [ComposeChange(compose_path, engine_path, _text([show(v) for v in old_list]),
                              _text([show(v) for v in new_list]), parts=base)]
    return ([ComposeChange(compose_path, engine_path, show(v), None, True, base) for v in removed]
            + [ComposeChange(compose_path, engine_path, None, show(v), True, base) for v in added])


# the keys the plan diffs by element (the registry's `elements` rows), and which of them are maps
ELEMENTWISE = frozenset(str(f.service_key) for f in FIELDS if f.elements and f.service_key)


def _is_map(value: object) -> bool:
    return value is None or isinstance(value, Mapping)


def _as_map(value: object) -> dict[str, object]:
    """A map's copy ({} for None)."""
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def _as_list(value: object) -> Sequence[object]:
    """A list ([] for None)."""
    return value if isinstance(value, list | tuple) else []


def list_field(engine_path: str) -> str | None:
    """The engine path of the whole list when `engine_path` is inside an element of a list the
    plan diffs by element (`EndpointSpec.Ports[0].PublishedPort` -> `EndpointSpec.Ports`)."""
    found = compose_field(engine_path)
    if found is None or not found[2] or found[0] not in ELEMENTWISE:
        return None
    return engine_path[: len(engine_path) - len(found[2])]


def compose_changes(engine_path: str, old: object, new: object,
                    service: Mapping[str, object] | None = None) -> list[ComposeChange]:
    """One engine field change of a service as compose changes (usually one).

    `service`: the service's entry as the files write it (before normalisation), for their units.
    """
    found = compose_field(engine_path)
    if (found is None or found[2]) and _is_map(old) and _is_map(new) and (old or new):
        # A block added or removed whole (`TaskTemplate.Resources: None -> {...}`): its leaves.
        before, after = _as_map(old), _as_map(new)
        out: list[ComposeChange] = []
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                out += compose_changes(f"{engine_path}.{key}", before.get(key), after.get(key), service)
        return out
    if found is None:
        return [ComposeChange(None, engine_path, _shown(_text, old), _shown(_text, new))]
    compose_path, grammar, rest = found
    if compose_path in ELEMENTWISE and not rest:
        changes = _element_changes(compose_path, engine_path, old, new)
        if changes:
            return changes
    if rest:  # a part of a structured value (a network's Aliases...): name the key
        return [ComposeChange(compose_path, engine_path, _shown(_text, old), _shown(_text, new))]
    file_value = _file_value(service, compose_path)
    return [ComposeChange(compose_path, engine_path, _shown(grammar, old, file_value),
                          _shown(grammar, new, file_value))]
