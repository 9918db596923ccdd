"""`stackctl validate`: load, check schema and meaning, and say what is wrong (or OK)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

from stackctl.errors import EXIT_ERROR, EXIT_OK, Diagnostic, LoadError, ValidationError

SECTIONS = ("services", "networks", "volumes", "secrets", "configs")


def _section(config: Mapping[str, object], section: str) -> Mapping[str, object]:
    value = config.get(section)
    return value if isinstance(value, Mapping) else {}


def _summary(config: Mapping[str, object]) -> dict[str, int]:
    return {section: len(_section(config, section)) for section in SECTIONS}


def _summary_line(counts: dict[str, int], config: Mapping[str, object] | None = None) -> str:
    parts = []
    for section, count in counts.items():
        noun = section if count != 1 else section[:-1]
        parts.append(f"{count} {noun}")
    notes = _count_notes(config or {})
    return "OK: " + ", ".join(parts) + (f" ({'; '.join(notes)})" if notes else "")


def _count_notes(config: Mapping[str, object]) -> list[str]:
    """Why `diff` and `ls` (what the swarm holds) may count differently from the file."""
    notes = []
    services = _section(config, "services")
    networks = _section(config, "networks")
    if "default" not in networks and any(
            isinstance(svc, dict) and not svc.get("networks") for svc in services.values()):
        notes.append("deploy also creates the default network")
    for section in ("networks", "secrets", "configs"):
        external = [n for n, v in _section(config, section).items()
                    if isinstance(v, dict) and v.get("external")]
        if external:
            noun = section if len(external) != 1 else section[:-1]
            notes.append(f"{len(external)} external {noun} not created by the stack")
    return notes


def _emit(ok: bool, diagnostics: list[Diagnostic], fmt: str, counts: dict[str, int] | None,
          config: Mapping[str, object] | None = None) -> None:
    if fmt == "json":
        doc: dict[str, object] = {"schema": "stackctl.validate/v1", "ok": ok,
                               "diagnostics": [d.to_json() for d in diagnostics]}
        if counts is not None:
            doc["summary"] = counts
        print(json.dumps(doc, indent=2))
        return
    for diagnostic in diagnostics:
        line = diagnostic.format()
        if not diagnostic.file and not diagnostic.path and diagnostic.severity == "error":
            line = f"error: {line}"
        print(line, file=sys.stderr)
    if ok and counts is not None:
        print(_summary_line(counts, config))


def run(files: list[str], env_files: list[str], env: str | None, fmt: str, skip_interpolation: bool) -> int:
    """Exit 0 when the stack is valid (warnings allowed), 1 on any error, 2 on usage errors."""
    from stackctl.commands._options import TEXT_FORMATS, check_format

    fmt = check_format(fmt, TEXT_FORMATS)
    from stackctl.pipeline import load_stack
    from stackctl.project import resolve_env_args

    _, files, env_files, environ, _ = resolve_env_args(env, files, env_files)
    try:
        stack = load_stack(list(files), env_files=list(env_files), environ=environ,
                           skip_interpolation=skip_interpolation, validate=True, decrypt=True)
    except (LoadError, ValidationError) as err:
        diagnostics = list(err.diagnostics) or [Diagnostic(err.message or type(err).__name__)]
        _emit(False, diagnostics, fmt, None)
        return EXIT_ERROR
    warnings = list(stack.warnings)
    errors = [d for d in warnings if d.severity == "error"]
    _emit(not errors, warnings, fmt, None if errors else _summary(stack.config), stack.config)
    return EXIT_ERROR if errors else EXIT_OK
