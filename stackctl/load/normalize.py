"""A validated stack file → the normalised form `docker stack config` prints.

Short syntax becomes long syntax, strings that stand for lists are split, sizes become
byte counts, durations Go strings, relative paths absolute; zero values are dropped the way
the reference drops them (only fields it keeps as pointers survive as 0/false/{}).
Key order is not decided here: `order_config` does that once, after merging.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterable, Mapping

from stackctl.errors import Diagnostic
from stackctl.load.source import KeyPath, SourceDoc, dotted
from stackctl.load.yamlio import go_number
from stackctl.model import compose
from stackctl.syntax.ports import expand_port_spec
from stackctl.syntax.volumes import is_windows_abs, parse_volume_spec
from stackctl.units import format_duration, parse_bytes, parse_duration

Lookup = Callable[[str], "str | None"]
Conv = Callable[[object], object]
_OMIT = object()


class _Bad(Exception):
    """A value that cannot be normalised; becomes a Diagnostic at its path."""


def _items(value: object) -> Iterable[object]:
    """The elements of a YAML sequence (a wrong type: TypeError, which the schema check reports)."""
    if isinstance(value, Iterable):
        return value
    raise TypeError(f"not a list: {value!r}")


def _entries(value: object) -> Mapping[object, object]:
    """A YAML mapping (a wrong type: AttributeError, which the schema check reports)."""
    if isinstance(value, Mapping):
        return value
    raise AttributeError(f"not a mapping: {value!r}")


def _s(value: object) -> str:
    """A scalar as the string Go's loader makes of it."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return go_number(value)
    return str(value)


def _str(value: object) -> object:
    text = _s(value) if not isinstance(value, dict | list) else value
    return text if text != "" else _OMIT


def _bool(value: object) -> object:
    return True if value is True else _OMIT


def _ptr_bool(value: object) -> object:
    return _OMIT if value is None else bool(value)


def _int(value: object) -> object:
    return value if isinstance(value, int | float) and not isinstance(value, bool) and value else _OMIT


def _ptr_int(value: object) -> object:
    return _OMIT if value is None else value


def _float(value: object) -> object:
    return value if isinstance(value, int | float) and value else _OMIT


def _duration(value: object) -> object:
    ns = _parse_duration(value)
    return _OMIT if not ns else format_duration(ns)


def _ptr_duration(value: object) -> object:
    if value is None:
        return _OMIT
    return format_duration(_parse_duration(value))


def _parse_duration(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    try:
        return parse_duration(value)
    except ValueError as err:
        raise _Bad(str(err)) from None


def _size(value: object) -> object:
    if value is None:
        return _OMIT
    try:
        size = parse_bytes(value)
    except ValueError as err:
        raise _Bad(str(err)) from None
    return str(size) if size else _OMIT


def _str_list(value: object) -> object:
    """StringList: a string or a list of strings."""
    if value is None:
        return _OMIT
    items = [value] if not isinstance(value, list) else value
    out = [_s(v) for v in items]
    return out if out else _OMIT


def _shell_command(value: object) -> object:
    if value is None:
        return _OMIT
    if isinstance(value, str):
        try:
            out = shlex.split(value)
        except ValueError as err:
            raise _Bad(f"cannot split the command: {err}") from None
    else:
        out = [_s(v) for v in _items(value)]
    return out if out else _OMIT


def _mapping(value: object, sep: str = "=", keep_null: bool = False) -> object:
    """A map or a `k=v` list → {str: str} (null → "" unless keep_null)."""
    if value is None:
        return _OMIT
    out: dict[str, object] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out[str(key)] = None if (item is None and keep_null) else _s(item)
    else:
        for item in _items(value):
            key, found, rest = _s(item).partition(sep)
            out[key] = rest if found else (None if keep_null else "")
    return out if out else _OMIT


def _labels(value: object) -> object:
    return _mapping(value)


def _mapping_nullable(value: object) -> object:
    return _mapping(value, keep_null=True)


def _string_map(value: object) -> object:
    if not value:
        return _OMIT
    return {str(k): _s(v) for k, v in value.items()} if isinstance(value, dict) else _mapping(value)


def _hosts(value: object) -> object:
    if not value:
        return _OMIT
    pairs: list[tuple[str, str | None]]
    if isinstance(value, dict):
        pairs = sorted((str(k), _s(v)) for k, v in value.items())
    else:
        pairs = []
        for item in _items(value):
            text = _s(item)
            cut = min((i for i in (text.find("="), text.find(":")) if i >= 0), default=-1)
            if cut < 0:
                pairs.append((text, None))
                continue
            pairs.append((text[:cut], text[cut + 1:]))
    out = []
    for host, ip in pairs:
        if ip is None:
            out.append(host)
            continue
        if ip.startswith("[") and ip.endswith("]"):
            ip = ip[1:-1]
        out.append(f"{host}:{ip}")
    return out


def _any(value: object) -> object:
    return value


def _struct(spec: dict[str, Conv], keep_empty: bool = False) -> Conv:
    """A Go struct: convert known fields, drop zero ones; a pointer struct keeps `{}`."""

    def convert(value: object) -> object:
        if value is None:
            return _OMIT
        if not isinstance(value, dict):
            raise _Bad("must be a mapping")
        out: dict[str, object] = {}
        for key, item in value.items():
            fn = spec.get(key)
            if fn is None:
                continue
            converted = fn(item)
            if converted is not _OMIT:
                out[key] = converted
        if not out and not keep_empty:
            return _OMIT
        return out

    return convert


def _list_of(fn: Conv) -> Conv:
    def convert(value: object) -> object:
        if not value:
            return _OMIT
        out = []
        for item in _items(value):
            converted = fn(item)
            out.append({} if converted is _OMIT else converted)
        return out

    return convert


def _map_of(fn: Conv, null: object = None) -> Conv:
    def convert(value: object) -> object:
        if not value:
            return _OMIT
        out = {}
        for key, item in _entries(value).items():
            converted = fn(item) if item is not None else null
            out[str(key)] = null if converted is _OMIT else converted
        return out

    return convert


def _depends_on(value: object) -> object:
    """The list syntax stays a list (the reference prints it so); the long syntax (Compose
    Specification files only) is a map with each default written out, as `docker compose config` does."""
    if not isinstance(value, dict):
        return _str_list(value)
    out: dict[str, object] = {}
    for name, options in value.items():
        options = options if isinstance(options, dict) else {}
        entry: dict[str, object] = {"condition": _s(options.get("condition") or "service_started"),
                                 "required": options.get("required") is not False}
        if options.get("restart") is True:
            entry["restart"] = True
        out[str(name)] = entry
    return out if out else _OMIT


def _healthcheck_test(value: object) -> object:
    if isinstance(value, str):
        return ["CMD-SHELL", value]
    return _str_list(value)


def _build(inner: Conv) -> Conv:
    def convert(value: object) -> object:
        if isinstance(value, str):
            return {"context": value} if value else _OMIT
        return inner(value)

    return convert


def _ulimit(inner: Conv) -> Conv:
    def convert(value: object) -> object:
        if isinstance(value, int):
            return value if value else {}
        return inner(value)

    return convert


def _service_networks(inner: Conv) -> Conv:
    def convert(value: object) -> object:
        if not value:
            return _OMIT
        if isinstance(value, list):
            return {_s(name): None for name in value}
        return {str(k): (None if v is None else inner(v)) for k, v in _entries(value).items()}

    return convert


def _file_ref(inner: Conv) -> Conv:
    def convert(value: object) -> object:
        if isinstance(value, str):
            return {"source": value}
        return inner(value)

    return convert


_LEAVES: dict[str, Conv] = {
    "str": _str, "bool": _bool, "ptr_bool": _ptr_bool, "int": _int, "ptr_int": _ptr_int, "float": _float,
    "duration": _duration, "ptr_duration": _ptr_duration, "size": _size, "str_list": _str_list,
    "shell_command": _shell_command, "labels": _labels, "mapping_nullable": _mapping_nullable,
    "string_map": _string_map, "hosts": _hosts, "any": _any, "depends_on": _depends_on,
    "healthcheck_test": _healthcheck_test,
}
_WRAPPERS: dict[str, Callable[[Conv], Conv]] = {"build": _build, "file_ref": _file_ref, "ulimit": _ulimit}


def _fields(path: str) -> dict[str, Conv]:
    """The converters of the keys below `path` that have one, from the compose field registry."""
    return {row.key: _converter(row.path) for row in compose.children(path)
            if row.load is not None and row.load != "code"}


def _converter(path: str) -> Conv:
    """How the value at `path` of the registry (model/compose.py) is normalised."""
    kind = compose.BY_PATH[path].load
    if kind in _LEAVES:
        return _LEAVES[kind]
    if kind == "list":
        return _list_of(_converter(path + "[]"))
    if kind == "ulimits":
        return _map_of(_converter(path + ".*"), null={})
    if kind == "networks":
        return _service_networks(_converter(path + ".*"))
    inner = _struct(_fields(path), keep_empty=kind != "struct")
    return _WRAPPERS[kind](inner) if kind in _WRAPPERS else inner


# Fields with a simple conversion; ports, volumes, environment and env_file have their own code.
_SERVICE_FIELDS = _fields("services.*")
_LONG_PORT = _converter("services.*.ports[]")
_VOLUME_LONG = _converter("services.*.volumes[]")
_SECTIONS = {section: _converter(section + ".*") for section in ("networks", "volumes", "secrets", "configs")}


class Normalizer:
    """Normalises one SourceDoc; collects errors and warnings with their file and line."""

    def __init__(self, doc: SourceDoc, working_dir: str, lookup: Lookup) -> None:
        self.doc = doc
        self.working_dir = working_dir
        self.lookup = lookup
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []

    def error(self, message: str, path: KeyPath, hint: str | None = None) -> None:
        self.errors.append(Diagnostic(message, self.doc.filename, self.doc.line_of(path), dotted(path), hint))

    def warn(self, message: str, path: KeyPath) -> None:
        self.warnings.append(Diagnostic(message, self.doc.filename, self.doc.line_of(path), dotted(path),
                                        severity="warning"))

    def run(self) -> dict[str, object]:
        data = self.doc.data
        out: dict[str, object] = {"version": self.doc.version}
        if self.doc.spec and isinstance(data.get("name"), str) and data["name"]:
            out["name"] = data["name"]
        services = data.get("services") or {}
        normalised: dict[str, dict[str, object]] = {}
        out["services"] = normalised
        if isinstance(services, dict):
            for name, service in services.items():
                if isinstance(service, dict):
                    normalised[str(name)] = self.service(str(name), service)
                elif service is None:
                    normalised[str(name)] = {}
        for section, fn in (("networks", self.network), ("volumes", self.volume),
                            ("secrets", self.secret), ("configs", self.config)):
            entries = data.get(section)
            if isinstance(entries, dict) and entries:
                out[section] = {str(k): fn(str(k), v if isinstance(v, dict) else {})
                                for k, v in entries.items()}
        for key, value in data.items():
            if isinstance(key, str) and key.startswith("x-"):
                out[key] = value
        return out

    # --- services ------------------------------------------------------------------------------

    def service(self, name: str, raw: dict[str, object]) -> dict[str, object]:
        base: KeyPath = ("services", name)
        out: dict[str, object] = {}
        env_files = raw.get("env_file")
        if self.doc.spec and isinstance(env_files, list):
            raw = {**raw, "env_file": self.spec_env_files(env_files)}
        for key, value in raw.items():
            path = (*base, key)
            if key.startswith("x-"):
                out[key] = value
                continue
            try:
                if key == "ports":
                    converted = self.ports(value, path)
                elif key == "volumes":
                    converted = self.service_volumes(value, path)
                elif key == "environment":
                    continue
                else:
                    fn = _SERVICE_FIELDS.get(key)
                    if fn is None:
                        continue  # in a Compose Specification file: warned about (load/spec.py)
                    converted = fn(value)
            except _Bad as err:
                self.error(str(err), path)
                continue
            except (TypeError, AttributeError, ValueError):
                continue  # a wrong type: the schema check reports it
            if converted is not _OMIT:
                out[key] = converted
        from stackctl.load.envfile import resolve_environment

        holder: dict[str, object] = {k: raw[k] for k in ("env_file", "environment") if k in raw}
        self.errors += resolve_environment(holder, self.working_dir, self.lookup, self.doc.filename,
                                           self.doc.line_of, name)
        if holder.get("environment"):
            out["environment"] = holder["environment"]
        return out

    def ports(self, value: object, path: KeyPath) -> object:
        if not value:
            return _OMIT
        out: list[dict[str, object]] = []
        for index, item in enumerate(_items(value)):
            if isinstance(item, dict):
                port: dict[str, object] | None = item
                if self.doc.spec:
                    port = self.spec_port(item, (*path, index))
                    if port is None:
                        continue
                long_port = _LONG_PORT(port)
                out.append(long_port if isinstance(long_port, dict) else {})
                continue
            try:
                parsed = expand_port_spec(item)
            except ValueError as err:
                self.error(str(err), (*path, index))
                continue
            out += parsed.ports
            for message in parsed.warnings:
                self.warn(message, (*path, index))
        return out

    def spec_env_files(self, items: list[object]) -> list[object]:
        """Compose Specification `env_file` items {path, required} → paths; an optional file that
        does not exist is left out, as compose does."""
        out = []
        for item in items:
            if not isinstance(item, dict):
                out.append(item)
                continue
            path = _s(item.get("path"))
            if item.get("required") is False and not os.path.exists(self.abs_path(path)):
                continue
            out.append(path)
        return out

    def spec_port(self, item: dict[str, object], path: KeyPath) -> dict[str, object] | None:
        """A Compose Specification long port → the 3.x one: `published: "8080"` becomes 8080 (the
        keys swarm has no field for are dropped by the long port struct; load/spec.py warns about them)."""
        item = dict(item)
        published = item.get("published")
        if isinstance(published, str):
            text = published.strip()
            if text.isdigit():
                item["published"] = int(text)
            elif text == "":
                item.pop("published")
            else:
                self.error(f'published port "{published}" is not a port number', (*path, "published"),
                           "swarm publishes single ports in the long syntax; write one entry per port")
                return None
        return item

    def service_volumes(self, value: object, path: KeyPath) -> object:
        if not value:
            return _OMIT
        out: list[dict[str, object]] = []
        for index, item in enumerate(_items(value)):
            volume: dict[str, object]
            if isinstance(item, str):
                try:
                    volume = parse_volume_spec(item)
                except ValueError as err:
                    self.error(str(err), (*path, index))
                    continue
            else:
                long_volume = _VOLUME_LONG(item)
                if not isinstance(long_volume, dict):
                    continue
                volume = long_volume
            if volume.get("type") == "bind":
                source = volume.get("source", "")
                if not source:
                    self.error('invalid mount config for type "bind": field Source must not be empty',
                               (*path, index))
                    continue
                volume["source"] = self.bind_path(str(source))
            out.append(volume)
        return out

    def bind_path(self, source: str) -> str:
        if source.startswith("~"):
            home = self.lookup("HOME") or os.path.expanduser("~")
            source = source.replace("~", home, 1)
        if source.startswith("/") or is_windows_abs(source):
            return source
        return os.path.normpath(os.path.join(self.working_dir, source))

    def abs_path(self, path: str) -> str:
        if os.path.isabs(path):
            return path
        return os.path.normpath(os.path.join(self.working_dir, path)) if path else self.working_dir

    # --- top-level objects ---------------------------------------------------------------------

    def external(
        self, kind: str, key: str, raw: dict[str, object], deprecated_since: str
    ) -> dict[str, object] | None:
        """The external form `{name, external: true}`, or None when the object is not external."""
        ext = raw.get("external")
        if not ext:
            return None
        name = raw.get("name")
        if isinstance(ext, dict) and ext.get("name"):
            if name:
                self.error(f"{kind}.external.name and {kind}.name conflict; only use {kind}.name",
                           (kind + "s", key, "external", "name"))
            elif _version_at_least(self.doc.version, deprecated_since):
                self.warn(f"{kind}.external.name is deprecated in favor of {kind}.name",
                          (kind + "s", key, "external", "name"))
            name = name or ext["name"]
        return {"name": _s(name) if name else key, "external": True}

    def network(self, key: str, raw: dict[str, object]) -> dict[str, object]:
        ext = self.external("network", key, raw, "3.5")
        if ext is not None:
            return {**ext, **{k: v for k, v in raw.items() if k.startswith("x-")}}
        spec = _SECTIONS["networks"]
        return self._convert(spec, raw, ("networks", key))

    def volume(self, key: str, raw: dict[str, object]) -> dict[str, object]:
        ext = self.external("volume", key, raw, "3.4")
        if ext is not None:
            for conflict in ("driver", "driver_opts", "labels"):
                if raw.get(conflict):
                    self.error(f'conflicting parameters "external" and "{conflict}" specified for volume '
                               f'"{key}"', ("volumes", key, conflict))
            return {**ext, **{k: v for k, v in raw.items() if k.startswith("x-")}}
        spec = _SECTIONS["volumes"]
        return self._convert(spec, raw, ("volumes", key))

    def secret(self, key: str, raw: dict[str, object]) -> dict[str, object]:
        return self.file_object("secret", key, raw)

    def config(self, key: str, raw: dict[str, object]) -> dict[str, object]:
        return self.file_object("config", key, raw)

    def file_object(self, kind: str, key: str, raw: dict[str, object]) -> dict[str, object]:
        if raw.get("content") is not None and not raw.get("file"):  # Compose Specification files only
            self.error(f'{kind} "{key}": inline content is not supported', (kind + "s", key, "content"),
                       "put the content in a file and use file:")
            return {}
        extras = {k: v for k, v in raw.items() if k.startswith("x-")}
        ext = self.external(kind, key, raw, "3.5")
        spec = _SECTIONS[kind + "s"]
        out = self._convert(spec, raw, (kind + "s", key))
        if ext is not None:
            out.update(ext)
            out.pop("file", None)
        elif out.get("environment") and not out.get("file"):
            pass  # the variable's NAME only: its value is read at convert time, never printed
        elif out.get("driver"):
            if out.get("file"):
                self.error(f"{kind}.driver and {kind}.file conflict; only use {kind}.driver",
                           (kind + "s", key, "driver"))
        else:
            out["file"] = self.abs_path(str(out.get("file", "")))
        out.update(extras)
        return out

    def _convert(self, spec: Conv, raw: dict[str, object], path: KeyPath) -> dict[str, object]:
        try:
            out = spec(raw)
        except _Bad as err:
            self.error(str(err), path)
            return {}
        except (TypeError, AttributeError, ValueError):
            return {}
        return out if isinstance(out, dict) else {}


def _version_at_least(version: str, minimum: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        try:
            return tuple(int(p) for p in v.split("."))
        except ValueError:
            return (0,)

    return parts(version) >= parts(minimum)


def normalize_doc(
    doc: SourceDoc, working_dir: str, lookup: Lookup
) -> tuple[dict[str, object], list[Diagnostic], list[Diagnostic]]:
    """(normalised data, errors, warnings) for one file."""
    norm = Normalizer(doc, working_dir, lookup)
    out = norm.run()
    return out, norm.errors, norm.warnings
