"""`stackctl diff --env A --against B`: how two environments' rendered stacks differ.

No engine is involved: both environments are rendered from stackctl.yml exactly as
`stackctl config --env` renders them, and compared key path by key path by the differ
`history STACK N M` uses (config_diff.py), in its words: `~ path: old → new`. Exit 0 when
they are the same, 2 when they differ (as `diff`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

from stackctl.config_diff import ADDED, CHANGED, REMOVED, ConfigChange, diff_configs
from stackctl.errors import EXIT_CHANGES, EXIT_OK, UsageError


def compare(a: Mapping[str, object], b: Mapping[str, object]) -> list[ConfigChange]:
    """Changes from config `a` to config `b` (config_diff: the one differ, as `history N M`)."""
    return diff_configs(a, b)


def change_json(change: ConfigChange) -> dict[str, object]:
    """One difference as `stackctl.env-diff/v1` says it: op, path, `from` (unless added), `to` (unless
    removed); the path in config_diff's words (`labels["com.example.x"]`: a key with dots, quoted)."""
    out: dict[str, object] = {"op": change.change, "path": change.path}
    if change.change != ADDED:
        out["from"] = change.old
    if change.change != REMOVED:
        out["to"] = change.new
    return out


def render_environment(env: str) -> tuple[str, dict[str, object]]:
    """(stack name, rendered config) of environment `env`."""
    from stackctl.pipeline import load_stack
    from stackctl.project import resolve_env_args
    from stackctl.render.diagnostics import print_warnings

    stack, files, env_files, environ, _ = resolve_env_args(env, [], [])
    loaded = load_stack(files, env_files=env_files, environ=environ, validate=True)
    print_warnings(loaded.warnings)
    return stack or env, loaded.sensitive.redact_config(loaded.config)  # encrypted env values: digests


def run(*, env: str | None, against: str, fmt: str = "text", files: list[str] | None = None) -> int:
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
               "differences": [change_json(c) for c in changes]}
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        print(f"--- {env} (stack {stack_a})")
        print(f"+++ {against} (stack {stack_b})")
        for change in changes:
            print(change.text())
        if not changes:
            print("The rendered stacks are the same.")
        else:
            counts = {kind: sum(1 for c in changes if c.change == kind) for kind in (ADDED, CHANGED, REMOVED)}
            print(f"{len(changes)} difference(s): {counts[ADDED]} added, {counts[CHANGED]} changed, "
                  f"{counts[REMOVED]} removed")
    return EXIT_CHANGES if changes else EXIT_OK
