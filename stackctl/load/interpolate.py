"""`$VAR` / `${VAR:-default}` substitution in string values, with the reference's semantics.

Rules (docker-stack-reference.md §d.1): keys are never touched; defaults are not
interpolated again and end at the first `}`; a value that changed through substitution is
cast back to int/float/bool at the few paths where the schema wants one. Unlike the
reference, every error of a file is reported (the reference stops at one, and even loses
an error when a later `$` in the same string substitutes fine).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from stackctl.errors import Diagnostic, LoadError
from stackctl.load.source import KeyPath, SourceDoc, dotted
from stackctl.model import compose

_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|(?P<named>[_a-z][_a-z0-9]*(?::?[-?][^}]*)?)"
    r"|\{(?P<braced>[_a-z][_a-z0-9]*(?::?[-?][^}]*)?)\}"
    r"|(?P<invalid>))",
    re.IGNORECASE,
)

Lookup = Callable[[str], "str | None"]


class TemplateError(Exception):
    """One bad `$` expression in a string."""


def substitute(template: str, lookup: Lookup, unset: list[str] | None = None) -> tuple[str, list[str]]:
    """Return the substituted string and the problems found (empty if none).

    `unset` collects the variables that were used bare (`$VAR`, `${VAR}`) but are not set: they
    become empty strings, which compose reports as a warning, so stackctl does too.
    """
    if "$" not in template:
        return template, []
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        expr = match.group("named") or match.group("braced")
        if not expr:
            problems.append(f'invalid interpolation format: "{template}" (escape a literal $ as $$)')
            return ""
        try:
            return _expand(expr, lookup, unset)
        except TemplateError as err:
            problems.append(str(err))
            return ""

    return _PATTERN.sub(replace, template), problems


def _expand(expr: str, lookup: Lookup, unset: list[str] | None = None) -> str:
    """One `${...}` body; the four operators are tried in the reference's order."""
    if ":-" in expr:
        name, default = expr.split(":-", 1)
        value = lookup(name)
        return default if not value else value
    if "-" in expr:
        name, default = expr.split("-", 1)
        value = lookup(name)
        return default if value is None else value
    if ":?" in expr:
        name, message = expr.split(":?", 1)
        value = lookup(name)
        if not value:
            raise TemplateError(_required(name, message, "is missing a value"))
        return value
    if "?" in expr:
        name, message = expr.split("?", 1)
        value = lookup(name)
        if value is None:
            raise TemplateError(_required(name, message, "is not set"))
        return value
    value = lookup(expr)
    if value is None and unset is not None:
        unset.append(expr)
    return value or ""


def _required(name: str, message: str, what: str) -> str:
    return f"required variable {name} {what}" + (f": {message}" if message else "")


# --- casting after substitution -------------------------------------------------------------


def _to_int(value: str) -> int:
    text = value.strip()
    if not re.fullmatch(r"[-+]?[0-9]+", text) or text != value:
        raise ValueError(f'invalid syntax: "{value}" is not an integer')
    return int(text)


def _to_float(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f'invalid syntax: "{value}" is not a number') from None


def _to_bool(value: str) -> bool:
    low = value.lower()
    if low in ("y", "yes", "true", "on"):
        return True
    if low in ("n", "no", "false", "off"):
        return False
    raise ValueError(f"invalid boolean: {value}")


Caster = Callable[[str], int | float | bool]
_CASTERS: dict[str, Caster] = {"int": _to_int, "float": _to_float, "bool": _to_bool}
# (key path pattern, caster) from the compose field registry's `cast` column
_CASTS = [(field.parts, _CASTERS[field.cast]) for field in compose.FIELDS if field.cast]


def _caster_for(path: KeyPath) -> Caster | None:
    parts = tuple("[]" if isinstance(p, int) else p for p in path)
    for pattern, caster in _CASTS:
        if len(pattern) != len(parts):
            continue
        if all(p == "*" or p == q for p, q in zip(pattern, parts, strict=True)):
            return caster
    return None


# --- walking a document -------------------------------------------------------------------


def interpolate_doc(doc: SourceDoc, lookup: Lookup) -> list[Diagnostic]:
    """Substitute in place every string value of `doc.data`; return every problem found.

    Errors, then one warning per unset variable (at its first FILE:LINE) that became "".
    """
    from stackctl.secrets.sensitive import taint

    problems: list[Diagnostic] = []
    unset_at: dict[str, KeyPath] = {}

    def walk(value: object, path: KeyPath) -> object:
        if isinstance(value, str):
            if "$" not in value:
                return value
            unset: list[str] = []
            new, errors = substitute(value, lookup, unset)
            for name in unset:
                unset_at.setdefault(name, path)
            for message in errors:
                problems.append(Diagnostic(message, doc.filename, doc.line_of(path), dotted(path)))
            if errors or new == value:
                return value if errors else new
            taint(new)
            caster = _caster_for(path)
            if caster is None:
                return new
            try:
                return caster(new)
            except ValueError as err:
                problems.append(Diagnostic(
                    f"failed to cast the interpolated value to the expected type: {err}",
                    doc.filename, doc.line_of(path), dotted(path)))
                return new
        if isinstance(value, dict):
            for key, item in value.items():
                value[key] = walk(item, (*path, key))
            return value
        if isinstance(value, list):
            for index, item in enumerate(value):
                value[index] = walk(item, (*path, index))
            return value
        return value

    walk(doc.data, ())
    for name, path in unset_at.items():
        problems.append(Diagnostic(f"variable {name} is not set: using an empty string", doc.filename,
                                   doc.line_of(path), dotted(path), severity="warning",
                                   hint=f"set it, give it in an --env-file, or write ${{{name}:-default}}"))
    return problems


# --- where variables come from ---------------------------------------------------------------


def build_environment(
    env_files: list[str] | tuple[str, ...],
    environ: Mapping[str, str] | None,
    dotenv_dir: str | None,
) -> dict[str, str]:
    """Variables for interpolation: `.env` < --env-file (later wins) < the shell."""
    merged: dict[str, str] = {}
    sources: list[tuple[str, bool]] = []
    if dotenv_dir is not None:
        sources.append((os.path.join(dotenv_dir, ".env"), False))
    sources += [(f, True) for f in env_files]
    for path, required in sources:
        merged.update(_read_dotenv(path, required))
    merged.update(os.environ if environ is None else environ)
    return merged


def _read_dotenv(path: str, required: bool) -> dict[str, str]:
    file = Path(path)
    if not file.is_file():
        if required:
            raise LoadError(diagnostics=[Diagnostic("env file not found", path, hint="--env-file")])
        return {}
    import io

    from dotenv import dotenv_values

    from stackctl.secrets.decrypt import DecryptError, read_file_kind
    from stackctl.secrets.sensitive import note

    try:  # decrypted in memory when SOPS- or age-encrypted (docs/secrets.md)
        raw, encrypted = read_file_kind(path)
        text = raw.decode("utf-8")
        values = dotenv_values(stream=io.StringIO(text), interpolate=False)
    except (OSError, UnicodeDecodeError) as err:
        raise LoadError(diagnostics=[Diagnostic(f"cannot read env file: {err}", path)]) from None
    except DecryptError as err:
        raise LoadError(diagnostics=[Diagnostic(err.message, path, hint=err.hint)]) from None
    if encrypted:  # its values are sensitive: never shown, planned or stored (secrets/sensitive.py)
        for value in values.values():
            if value:
                note(value, path)
    return {k: v if v is not None else "" for k, v in values.items()}
