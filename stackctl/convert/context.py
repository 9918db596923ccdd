"""State shared while one stack is converted: names, top-level sections, collected problems."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from stackctl.errors import Diagnostic
from stackctl.load.source import dotted
from stackctl.model import config as compose
from stackctl.names import NAMESPACE_LABEL, scope


@dataclass
class ConvertContext:
    """Everything a converter needs besides the one item it converts."""

    stack: str
    config: compose.Config
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)

    def scope(self, name: str) -> str:
        """`web` → `STACK_web`: the name of a stack-owned object."""
        return scope(self.stack, name)

    def labels(self, labels: object) -> dict[str, str]:
        """User labels (map or `k=v` list) plus the namespace label, which wins."""
        out = as_string_map(labels)
        out[NAMESPACE_LABEL] = self.stack
        return out

    def section(self, name: str) -> Mapping[str, Mapping[str, object]]:
        """A top-level section (`networks`, `volumes`, `secrets`, `configs`) by key; {} when absent."""
        config: Mapping[str, object] = self.config
        value = config.get(name)
        return value if isinstance(value, dict) else {}

    @property
    def services(self) -> Mapping[str, compose.Service]:
        return self.config.get("services") or {}

    def error(self, path: tuple[str | int, ...], message: str, hint: str | None = None) -> None:
        self.errors.append(Diagnostic(message=message, path=dotted(path), hint=hint))

    def warn(self, path: tuple[str | int, ...], message: str, hint: str | None = None) -> None:
        self.warnings.append(Diagnostic(message=message, path=dotted(path), hint=hint, severity="warning"))


def as_string_map(value: object) -> dict[str, str]:
    """A compose map-or-list (`{k: v}` or `["k=v", "k"]`) as Go would hold it: string values."""
    from stackctl.convert.values import go_string

    if not value:
        return {}
    if isinstance(value, Mapping):
        return {str(k): go_string(v) for k, v in value.items()}
    if not isinstance(value, Iterable):
        raise TypeError(f"not a map or a list: {value!r}")
    out: dict[str, str] = {}
    for item in value:
        key, _, val = str(item).partition("=")
        out[key] = val
    return out


def is_external(entry: object) -> bool:
    """`external: true` or the legacy `external: {name: …}` form."""
    if not isinstance(entry, Mapping):
        return False
    ext = entry.get("external")
    if isinstance(ext, Mapping):
        return True
    return bool(ext)


def external_name(key: str, entry: Mapping[str, object]) -> str:
    """The name an external object is looked up by: `name:`, else `external.name`, else the key."""
    if entry.get("name"):
        return str(entry["name"])
    ext = entry.get("external")
    if isinstance(ext, Mapping) and ext.get("name"):
        return str(ext["name"])
    return key


def object_name(ctx: ConvertContext, key: str, entry: object) -> str:
    """Actual name of a top-level network/volume/secret/config."""
    if isinstance(entry, Mapping):
        if is_external(entry):
            return external_name(key, entry)
        if entry.get("name"):
            return str(entry["name"])
    return ctx.scope(key)
