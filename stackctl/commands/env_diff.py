"""`stackctl diff --env A --against B`: how two environments' rendered stacks differ.

No engine is involved: both environments are rendered from stackctl.yml exactly as
`stackctl config --env` renders them, and compared key path by key path. Exit 0 when
they are the same, 2 when they differ (as `diff`).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from stackctl.errors import EXIT_CHANGES, EXIT_OK, UsageError
from stackctl.load.source import dotted


@dataclass(frozen=True)
class Change:
    op: str  # "+" added in B, "-" only in A, "~" changed
    path: tuple[str | int, ...]
    before: Any = None
    after: Any = None

    def text(self) -> str:
        where = dotted(self.path) or "(root)"
        if self.op == "+":
            return f"+ {where}: {_show(self.after)}"
        if self.op == "-":
            return f"- {where}: {_show(self.before)}"
        return f"~ {where}: {_show(self.before)} -> {_show(self.after)}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"op": {"+": "added", "-": "removed", "~": "changed"}[self.op],
                               "path": dotted(self.path)}
        if self.op != "+":
            out["from"] = self.before
        if self.op != "-":
            out["to"] = self.after
        return out


def _show(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=False, default=str)


def compare(a: dict[str, Any], b: dict[str, Any]) -> list[Change]:
    """Changes from config `a` to config `b`, ordered by key path as they appear."""
    from deepdiff import DeepDiff

    diff = DeepDiff(a, b, view="tree", verbose_level=2)
    changes: list[Change] = []
    for kind, levels in diff.items():
        for level in levels:
            path = tuple(level.path(output_format="list"))
            if kind in ("dictionary_item_added", "iterable_item_added"):
                changes.append(Change("+", path, after=level.t2))
            elif kind in ("dictionary_item_removed", "iterable_item_removed"):
                changes.append(Change("-", path, before=level.t1))
            else:  # values_changed, type_changes
                changes.append(Change("~", path, before=level.t1, after=level.t2))
    return sorted(changes, key=lambda c: _sort_key(c.path))


def _sort_key(path: tuple[str | int, ...]) -> tuple[tuple[int, int | str, str], ...]:
    return tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in path)


def render_environment(env: str) -> tuple[str, dict[str, Any]]:
    """(stack name, rendered config) of environment `env`."""
    from stackctl.pipeline import load_stack
    from stackctl.project import resolve_env_args
    from stackctl.render.diagnostics import print_warnings

    stack, files, env_files, environ, _ = resolve_env_args(env, [], [])
    loaded = load_stack(files, env_files=env_files, environ=environ, validate=True)
    print_warnings(loaded.warnings)
    return stack or env, loaded.sensitive.redact_config(loaded.config)  # encrypted env values: digests


def run(*, env: str | None, against: str, fmt: str = "text", files: list[str] | None = None,
        **_ignored: Any) -> int:
    if not env:
        raise UsageError("--against needs --env: stackctl diff --env A --against B")
    if files:
        raise UsageError("--against compares two environments of stackctl.yml; do not give -c")
    from stackctl.commands._options import TEXT_FORMATS, check_format

    fmt = check_format(fmt, TEXT_FORMATS)
    stack_a, config_a = render_environment(env)
    stack_b, config_b = render_environment(against)
    changes = compare(config_a, config_b)
    if fmt == "json":
        doc = {"schema": "stackctl.env-diff/v1", "from": {"env": env, "stack": stack_a},
               "to": {"env": against, "stack": stack_b}, "changes": bool(changes),
               "differences": [c.to_json() for c in changes]}
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        print(f"--- {env} (stack {stack_a})")
        print(f"+++ {against} (stack {stack_b})")
        for change in changes:
            print(change.text())
        if not changes:
            print("The rendered stacks are the same.")
        else:
            counts = {op: sum(1 for c in changes if c.op == op) for op in "+~-"}
            print(f"{len(changes)} difference(s): {counts['+']} added, {counts['~']} changed, "
                  f"{counts['-']} removed")
    return EXIT_CHANGES if changes else EXIT_OK
