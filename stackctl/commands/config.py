"""`stackctl config`: print the merged, interpolated, normalised stack like `docker stack config`."""

from __future__ import annotations

import json
import sys
from typing import Any

from stackctl.errors import EXIT_OK


def dump_yaml(config: dict[str, Any]) -> str:
    """YAML in the reference's style: 2-space indent, indented lists, Go-style quoting."""
    from stackctl.load.emit import dump

    return dump(config)


def run(files: list[str], env_files: list[str], env: str | None, fmt: str, skip_interpolation: bool) -> int:
    from stackctl.commands._options import YAML_FORMATS, check_format

    fmt = check_format(fmt, YAML_FORMATS)
    from stackctl.pipeline import load_stack
    from stackctl.project import resolve_env_args
    from stackctl.render.diagnostics import print_warnings

    _, files, env_files, environ, _ = resolve_env_args(env, files, env_files)

    stack = load_stack(list(files), env_files=list(env_files), environ=environ,
                       skip_interpolation=skip_interpolation, validate=False)
    print_warnings(stack.warnings)
    # values from encrypted env files as their digest (docs/secrets.md, secrets/sensitive.py)
    shown = stack.sensitive.redact_config(stack.config) if stack.sensitive else stack.config
    if fmt == "json":
        sys.stdout.write(json.dumps(shown, indent=2) + "\n")
    else:
        sys.stdout.write(dump_yaml(shown))
    return EXIT_OK
