"""A Plan as people read it (terraform-plan style) or as CI reads it (JSON).

Text: one line per object that changes (`+` create, `~` update, `-` remove, `!` a change
that cannot be applied), its changed fields `path: old -> new` underneath, drift marked,
then `Plan: N to create, N to update, N to remove, N unchanged.` Rich colours only on a
terminal; the plain text is identical otherwise (golden files test it). Secrets/configs
show content digests, never values.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from stackctl.convert.normalize_spec import service_mode, tasks_wanted
from stackctl.plan import CREATE, REMOVE, UNCHANGED, UPDATE, Action, FieldChange, Plan, short_digest

JSON_SCHEMA = "stackctl.diff/v1"
SYMBOLS = {CREATE: "+", UPDATE: "~", REMOVE: "-"}
STYLES = {"+": "green", "~": "yellow", "-": "red", "!": "magenta"}


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _service_summary(spec: dict[str, Any]) -> str:
    image = ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", "?")
    how = service_mode(spec)
    if how == "replicated":
        how += f" {tasks_wanted(spec)}"
    return f"{image}, {how}"


def _headline(action: Action) -> tuple[str, str]:
    """(symbol, text) of an action's first line."""
    if action.action == UNCHANGED:
        symbol = "!"
    else:
        symbol = SYMBOLS[action.action]
    text = f"{action.kind} {action.name}"
    extra: list[str] = []
    if action.action == CREATE:
        if action.kind == "service" and action.desired:
            extra.append(_service_summary(action.desired))
        elif action.kind == "network" and action.desired:
            extra.append(action.desired.get("Driver") or "overlay")
        elif action.kind in ("secret", "config"):
            extra.append(short_digest(action.digest) if action.digest else "no data")
    elif action.id and action.kind == "service":
        extra.append(f"id: {action.id[:12]}")
    if extra:
        text += f" ({', '.join(extra)})"
    if action.drift:
        text += "  [drift]"
    if action.action == UNCHANGED and action.warnings:
        text += f": {action.warnings[0].split(' (')[0]}"
    return symbol, text


def _change_lines(ch: FieldChange) -> list[str]:
    drift = "  (drift: changed on the swarm, not in the file)" if ch.drift else ""
    old, new = ch.old, ch.new
    if isinstance(old, list) and isinstance(new, list) and all(
            not isinstance(v, (dict, list)) for v in old + new):
        removed = [v for v in old if v not in new]
        added = [v for v in new if v not in old]
        if removed or added:
            lines = [f"~ {ch.path}:{drift}"]
            lines += [f"    - {_value(v)}" for v in removed]
            lines += [f"    + {_value(v)}" for v in added]
            return lines
    return [f"~ {ch.path}: {_value(old)} -> {_value(new)}{drift}"]


def plan_lines(plan: Plan) -> list[tuple[str, str]]:
    """(style symbol, text) lines of the text rendering; symbol "" for plain lines."""
    lines: list[tuple[str, str]] = []
    shown = [a for a in plan.actions if a.writes or (a.action == UNCHANGED and (a.warnings or a.changes))]
    if not shown:
        lines.append(("", f"No changes. Stack {plan.stack} matches the files."))
    else:
        lines.append(("", f"Stack {plan.stack}: deploy will perform these actions:"))
        lines.append(("", ""))
        for action in shown:
            symbol, text = _headline(action)
            lines.append((symbol, f"  {symbol} {text}"))
            if action.action in (UPDATE, UNCHANGED) or action.changes:  # a new version: Data old -> new
                for ch in action.changes:
                    for i, line in enumerate(_change_lines(ch)):
                        lines.append(("~" if i == 0 else "", f"      {line}"))
            for note in action.notes if action.writes else []:
                lines.append(("", f"      # {note}"))
    counts = plan.counts()
    lines.append(("", ""))
    lines.append(("", f"Plan: {counts[CREATE]} to create, {counts[UPDATE]} to update, "
                      f"{counts[REMOVE]} to remove, {counts[UNCHANGED]} unchanged."))
    return lines


def render_plan_text(plan: Plan) -> str:
    """The plain-text rendering (what golden files hold)."""
    return "\n".join(text for _, text in plan_lines(plan)) + "\n"


def print_plan(plan: Plan, *, fmt: str = "text", stream: TextIO | None = None) -> None:
    """Print the plan: JSON, rich text on a terminal, plain text otherwise."""
    stream = stream or sys.stdout
    if fmt == "json":
        stream.write(json.dumps(plan_json(plan), indent=2, ensure_ascii=False) + "\n")
        return
    if not stream.isatty():
        stream.write(render_plan_text(plan))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False)
    for symbol, text in plan_lines(plan):
        console.print(Text(text, style=STYLES.get(symbol, "")), soft_wrap=True)


def plan_json(plan: Plan) -> dict[str, Any]:
    """The JSON document of `diff --format json` (schema in docs/json-output.md)."""
    doc: dict[str, Any] = {"schema": JSON_SCHEMA}
    doc.update(plan.to_json())
    return doc
