"""Service `env_file:` files, read the way the reference reads them (not dotenv).

`KEY=VAL` is taken literally (no quotes stripped, no `${}`), `#` starts a comment line,
a bare `KEY` takes its value from the environment and is dropped when unset, and a key
with whitespace in it is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackctl.errors import Diagnostic
from stackctl.load.source import KeyPath

Lookup = Callable[[str], "str | None"]


class EnvFileError(Exception):
    """A problem in one env file, with the line it is on."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


def parse_env_file(path: str, lookup: Lookup) -> list[tuple[str, str]]:
    """(KEY, VALUE) pairs of an env file, in file order."""
    return read_env_file(path, lookup)[0]


def read_env_file(path: str, lookup: Lookup) -> tuple[list[tuple[str, str]], bool]:
    """(KEY, VALUE) pairs of an env file, in file order, and whether the file was encrypted.

    The values of an encrypted file are noted as sensitive (secrets/sensitive.py)."""
    from stackctl.secrets.decrypt import DecryptError, read_file_kind
    from stackctl.secrets.sensitive import note

    try:
        raw, encrypted = read_file_kind(path)  # decrypted in memory if encrypted (docs/secrets.md)
    except FileNotFoundError:
        raise EnvFileError("env file not found") from None
    except OSError as err:
        raise EnvFileError(f"cannot read env file: {err.strerror}") from None
    except DecryptError as err:
        raise EnvFileError(f"{err.reason}: {err.detail}" if err.detail else err.reason) from None
    pairs: list[tuple[str, str]] = []
    for number, raw_line in enumerate(raw.split(b"\n"), start=1):
        if number == 1 and raw_line.startswith(b"\xef\xbb\xbf"):
            raw_line = raw_line[3:]
        try:
            text = raw_line.decode("utf-8")
        except UnicodeDecodeError:
            raise EnvFileError("invalid UTF-8", number) from None
        if text.endswith("\r"):
            text = text[:-1]
        line = text.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not key:
            # an encrypted file's lines are secret: the line number only
            raise EnvFileError("no variable name on the line" if encrypted else
                               f"no variable name on line '{line}'", number)
        if " " in key or "\t" in key:
            raise EnvFileError(f"variable '{key}' contains whitespaces", number)
        if sep:
            pairs.append((key, value))
        else:
            found = lookup(key)
            if found is not None:
                pairs.append((key, found))
    if encrypted:
        for _, value in pairs:
            note(value, path)
    return pairs, encrypted is not None


def resolve_environment(
    service: dict[str, Any], working_dir: str, lookup: Lookup, filename: str,
    line_of: Callable[[KeyPath], int | None],
    service_name: str,
) -> list[Diagnostic]:
    """Merge `env_file` contents and `environment` into one map (`environment` wins), in place.

    Keys without a value (or with an empty one) take the environment's value when it has one.
    """
    import os

    from stackctl.secrets.sensitive import note_env

    env: dict[str, str | None] = {}
    secret_from: dict[str, tuple[str, str]] = {}  # KEY -> (the encrypted file, its value)
    problems: list[Diagnostic] = []
    files = service.get("env_file")
    if isinstance(files, str):
        files = [files]
    if isinstance(files, list):
        for index, name in enumerate(files):
            if not isinstance(name, str):
                continue
            path = name if os.path.isabs(name) else os.path.normpath(os.path.join(working_dir, name))
            where = ("services", service_name, "env_file", index)
            try:
                pairs, encrypted = read_env_file(path, lookup)
            except EnvFileError as err:
                problems.append(Diagnostic(
                    f"{err} ({path}" + (f", line {err.line})" if err.line else ")"),
                    filename, line_of(where), f"services.{service_name}.env_file[{index}]"))
                continue
            for key, value in pairs:
                _update(env, key, value, lookup)
                if encrypted:
                    secret_from[key] = (path, value)
                else:
                    secret_from.pop(key, None)
    declared = service.get("environment")
    if isinstance(declared, dict):
        for key, value in declared.items():
            _update(env, str(key), None if value is None else _string(value), lookup)
    elif isinstance(declared, list):
        for item in declared:
            if item is None:
                continue
            key, sep, value = str(item).partition("=")
            _update(env, key, value if sep else None, lookup)
    if files is not None or declared is not None:
        service["environment"] = env
    for key, (path, value) in secret_from.items():
        if env.get(key) == value:  # not overridden by `environment:`
            note_env(service_name, key, path)
    return problems


def _update(env: dict[str, str | None], key: str, value: str | None, lookup: Lookup) -> None:
    if not value:
        found = lookup(key)
        if found is not None:
            env[key] = found
            return
    env[key] = value


def _string(value: object) -> str:
    from stackctl.load.yamlio import go_number

    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return go_number(value)
    return str(value)
