"""`stackctl config`: print the merged, interpolated, normalised stack like `docker stack config`."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from stackctl.errors import EXIT_OK, UsageError


def dump_yaml(config: dict[str, Any]) -> str:
    """YAML in the reference's style: 2-space indent, indented lists, Go-style quoting."""
    import yaml

    from stackctl.load.yamlio import go_number, resolve_plain

    base = getattr(yaml, "Dumper")

    class Dumper(base):  # type: ignore[misc,valid-type]
        def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
            super().increase_indent(flow, False)

    implicit = yaml.resolver.Resolver()
    base60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")

    def represent_str(dumper: Any, value: str) -> Any:
        style = None
        if "\n" in value:
            style = "|"
        elif (not isinstance(resolve_plain(value), str) if value else True) or (
            implicit.resolve(yaml.ScalarNode, value, (True, False)) != "tag:yaml.org,2002:str"
        ) or base60.fullmatch(value) or value in ("y", "Y", "n", "N"):
            style = '"'
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    def represent_float(dumper: Any, value: float) -> Any:
        return dumper.represent_scalar("tag:yaml.org,2002:float", go_number(value))

    def represent_none(dumper: Any, _: Any) -> Any:
        return dumper.represent_scalar("tag:yaml.org,2002:null", "null")

    Dumper.add_representer(str, represent_str)
    Dumper.add_representer(float, represent_float)
    Dumper.add_representer(type(None), represent_none)
    return yaml.dump(config, Dumper=Dumper, sort_keys=False, default_flow_style=False, indent=2,
                     width=1 << 30, allow_unicode=True)


def run(files: list[str], env_files: list[str], env: str | None, fmt: str, skip_interpolation: bool) -> int:
    if env:
        raise UsageError("--env needs stackctl.yml (not yet supported)")
    if fmt not in ("yaml", "json", "text"):
        raise UsageError(f"unknown --format {fmt!r} (yaml or json)")
    if not files:
        raise UsageError("give at least one stack file with -c/--compose-file")
    from stackctl.pipeline import load_stack
    from stackctl.render.diagnostics import print_warnings

    stack = load_stack(list(files), env_files=list(env_files), skip_interpolation=skip_interpolation,
                       validate=False)
    print_warnings(stack.warnings)
    if fmt == "json":
        sys.stdout.write(json.dumps(stack.config, indent=2) + "\n")
    else:
        sys.stdout.write(dump_yaml(stack.config))
    return EXIT_OK
