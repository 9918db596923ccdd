"""The "sensitive" mark: values that came from an encrypted env file, and what they went into.

A service's `env_file: app.sops.env` (or `*.age`) and an encrypted `--env-file` / `env_files:`
(interpolation variables) give plaintext values that must never be shown, logged, planned in
clear or stored in the history (docs/secrets.md), yet the rest of the pipeline works on plain data
(the normalised config is what `docker stack config` prints, and what convert sends). So the mark
is a side record, `Sensitive`, carried beside the config on `LoadedStack` and `DeployRequest`:

- `values`: every plaintext value read from an encrypted env file, and every string interpolation
  built with one (tainted), each with the file it came from;
- `env`: the (service, KEY) environment entries whose value is sensitive (exact, from load);
- `fields`: the (service, compose key) of other fields holding one (`command`, `deploy.labels`).

Whatever is shown or stored goes through it: `stackctl config`, the plan (text, JSON, --debug,
drift), the revision history. A sensitive value is shown as a placeholder holding its digest,
`sha256:1f0a9c3e5b77 (sensitive: from app.sops.env)`, the first 12 hex digits of the value's
sha256 (as a secret's content digest is shown). A string is recognised as sensitive when it is, or
holds, one of `values` at least `MIN_CONTAINED` characters long (a value split by normalisation:
a `command:` string, a URL); a shorter value (`1`, `info`: too common to hide wherever it appears)
only through the environment entries that hold it (`env`), and as a word in messages.

Load collects the mark through `collecting()`: the readers of encrypted env files call `note()`,
which records into the collector of the current context (a context variable, so concurrent loads
of the agent do not mix).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import re
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

MIN_CONTAINED = 6  # a sensitive value this long is found inside other strings too
DIGEST_HEX = 12
_PLACEHOLDER = re.compile(r"^sha256:([0-9a-f]{12}) \(sensitive(?:: from (.*))?\)$")


def value_digest(value: str) -> str:
    """The first 12 hex digits of the value's sha256 (what stands for it everywhere)."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()[:DIGEST_HEX]


def placeholder(value: str, source: str | None = None) -> str:
    """`sha256:1f0a9c3e5b77 (sensitive: from app.sops.env)`: what is shown and stored for `value`."""
    return f"sha256:{value_digest(value)} (sensitive" + (f": from {source})" if source else ")")


def placeholder_digest(text: object) -> str | None:
    """The digest a placeholder holds, None when `text` is not a placeholder."""
    if not isinstance(text, str):
        return None
    found = _PLACEHOLDER.match(text)
    return found.group(1) if found else None


def placeholder_source(text: str) -> str | None:
    found = _PLACEHOLDER.match(text)
    return found.group(2) if found else None


@dataclass
class Sensitive:
    """Sensitive plaintext values (never shown: repr hides them) and the env entries holding them."""

    values: dict[str, str] = field(default_factory=dict, repr=False)  # value -> the file it came from
    env: dict[tuple[str, str], str] = field(default_factory=dict)  # (service, KEY) -> that file
    # (service, compose key) of the other fields holding a sensitive value (`command`, `labels`,
    # `deploy.labels`...) -> the file it came from
    fields: dict[tuple[str, str], str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.values or self.env or self.fields)

    def add(self, value: str, source: str) -> None:
        if value:
            self.values.setdefault(value, source)

    def update(self, other: Sensitive) -> None:
        for value, source in other.values.items():
            self.add(value, source)
        for key, source in other.env.items():
            self.env.setdefault(key, source)
        for key, source in other.fields.items():
            self.fields.setdefault(key, source)

    def keys_of(self, service: str) -> tuple[str, ...]:
        """The compose keys of `service` that hold sensitive values: `environment.KEY`, `command`..."""
        keys = {f"environment.{key}" for (name, key) in self.env if name == service}
        keys |= {key for (name, key) in self.fields if name == service}
        return tuple(sorted(keys))

    # --- recognising --------------------------------------------------------------------------

    def source_of(self, text: str, *, short: bool = False) -> str | None:
        """The file a sensitive `text` came from, None when it holds no sensitive value. A value
        shorter than MIN_CONTAINED (`1`, `info`) counts only with `short` (and then only as the
        whole text): elsewhere it is found through the entries that hold it (`env`), not by value."""
        if not text:
            return None
        if text in self.values and (short or len(text) >= MIN_CONTAINED):
            return self.values[text]
        for value, source in self.values.items():
            if len(value) >= MIN_CONTAINED and value in text:
                return source
        return None

    def taint(self, text: str) -> None:
        """`text` was built with a sensitive value (interpolation): it is sensitive as a whole."""
        source = self.source_of(text)
        if source is not None:
            self.add(text, source)

    # --- hiding -------------------------------------------------------------------------------

    def text(self, value: str) -> str:
        """`value`, or its placeholder when it is sensitive (a short value: see source_of)."""
        source = self.source_of(value)
        return value if source is None else placeholder(value, source)

    def hide(self, message: str, *, words: bool = True) -> str:
        """A message (an error, a warning) with every sensitive value in it a placeholder; a value
        shorter than MIN_CONTAINED only where it stands as a word of its own (`words`), or only as
        the whole text (not `words`: a plan's value, where `1` or `info` is too common a word)."""
        for value in sorted(self.values, key=len, reverse=True):
            if value not in message or (not words and len(value) < MIN_CONTAINED):
                continue
            shown = placeholder(value, self.values[value])
            if len(value) >= MIN_CONTAINED:
                message = message.replace(value, shown)
            elif words:
                word = re.compile(r"(?<![\w])" + re.escape(value) + r"(?![\w])")
                message = word.sub(shown.replace("\\", "\\\\"), message)
        return message

    def hide_diagnostics(self, diagnostics: list[Any]) -> list[Any]:
        """Diagnostics (errors.Diagnostic) with `hide` applied to their message and hint."""
        import dataclasses

        if not self.values:
            return diagnostics
        return [dataclasses.replace(d, message=self.hide(d.message),
                                    hint=self.hide(d.hint) if d.hint else d.hint) for d in diagnostics]

    def scrub(self, data: Any) -> Any:
        """A copy of plain data (dicts, lists, strings) with every sensitive string a placeholder."""
        if not self.values:
            return data
        if isinstance(data, str):
            return self.text(data)
        if isinstance(data, Mapping):
            return {k: self.scrub(v) for k, v in data.items()}
        if isinstance(data, list | tuple):
            return [self.scrub(v) for v in data]
        return data

    def mark_config(self, config: Mapping[str, Any]) -> None:
        """Record the (service, KEY) of every environment value of `config` that is sensitive, and
        the (service, compose key) of every other field holding one."""
        if not self.values:
            return
        for name, service in (config.get("services") or {}).items():
            if not isinstance(service, Mapping):
                continue
            for top, body in service.items():
                if top == "environment" and isinstance(body, Mapping):
                    for key, value in body.items():
                        # `environment: [KEY]` takes a variable's value: a short one too
                        source = self.source_of(value, short=True) if isinstance(value, str) else None
                        if source is not None:
                            self.env.setdefault((str(name), str(key)), source)
                elif top == "deploy" and isinstance(body, Mapping):
                    for sub, part in body.items():
                        source = self._found_in(part)
                        if source is not None:
                            self.fields.setdefault((str(name), f"deploy.{sub}"), source)
                else:
                    source = self._found_in(body)
                    if source is not None:
                        self.fields.setdefault((str(name), str(top)), source)

    def _found_in(self, data: Any) -> str | None:
        if isinstance(data, str):
            return self.source_of(data)
        if isinstance(data, Mapping):
            data = list(data.values())
        if isinstance(data, list | tuple):
            for item in data:
                source = self._found_in(item)
                if source is not None:
                    return source
        return None

    def env_source(self, service: str, key: str) -> str | None:
        return self.env.get((service, key))

    def redact_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The config (the normalised stack) as it may be shown or stored: sensitive values as
        placeholders, the marked environment entries whatever their value."""
        out: dict[str, Any] = self.scrub(config) if self.values else copy.deepcopy(dict(config))
        for (name, key), source in self.env.items():
            env = ((out.get("services") or {}).get(name) or {}).get("environment")
            value = env.get(key) if isinstance(env, dict) else None
            if isinstance(env, dict) and isinstance(value, str) and placeholder_digest(value) is None:
                env[key] = placeholder(env[key], source)
        return out


# --- collecting while a stack loads ------------------------------------------------------------

_collector: ContextVar[Sensitive | None] = ContextVar("stackctl_sensitive", default=None)


@contextlib.contextmanager
def collecting(into: Sensitive | None = None) -> Iterator[Sensitive]:
    """Within the block, `note()` records into the Sensitive yielded (nested: the outer one's)."""
    outer = _collector.get()
    if outer is not None and into is None:
        yield outer
        return
    mine = into if into is not None else Sensitive()
    token = _collector.set(mine)
    try:
        yield mine
    finally:
        _collector.reset(token)


def note(value: str, path: str) -> None:
    """A plaintext value read from the encrypted file `path` (shown by its base name)."""
    current = _collector.get()
    if current is not None:
        current.add(value, os.path.basename(path))


def note_env(service: str, key: str, path: str) -> None:
    """Environment entry KEY of `service` came from the encrypted env file `path`."""
    current = _collector.get()
    if current is not None:
        current.env.setdefault((service, key), os.path.basename(path))


def taint(text: str) -> None:
    """An interpolated string: sensitive when a sensitive value went into it."""
    current = _collector.get()
    if current is not None and current.values:
        current.taint(text)
