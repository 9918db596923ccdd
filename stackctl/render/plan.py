"""A Plan as people read it (terraform-plan style) or as CI reads it (JSON).

Text: one line per object that changes (`+` create, `~` update, `-` remove, `!` a change
that cannot be applied, `=` an object the files no longer have, kept without --prune), its
changes underneath in the file's words (`~ deploy.update_config.delay: 2s → 5s  (stack.yml:9)`;
list elements as `+`/`-` lines; a field no file sets by its engine path, as drift; `--debug`
adds the engine path), then `Plan: N to create, N to update, N to remove, N unchanged[, N kept
(not in the files)].` Rich colours only on a terminal; the plain text is identical otherwise
(golden files test it). Secrets/configs show content digests, never values.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from stackctl.images import spec_image
from stackctl.plan import (
    CREATE,
    KEPT,
    REMOVE,
    UNCHANGED,
    UPDATE,
    Action,
    ComposeChange,
    FieldChange,
    Plan,
    short_digest,
)
from stackctl.swarm.modes import service_mode, tasks_wanted

JSON_SCHEMA = "stackctl.diff/v2"
SYMBOLS = {CREATE: "+", UPDATE: "~", REMOVE: "-", KEPT: "="}
STYLES = {"+": "green", "~": "yellow", "-": "red", "!": "magenta", "=": "cyan"}
ARROW = "→"
DRIFT = "  (drift: changed on the swarm, not in the file)"
NO_KEY = "  (drift: set on the swarm; no key in the files sets it)"


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _service_summary(spec: dict[str, Any]) -> str:
    image = spec_image(spec) or "?"
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
    elif action.action == REMOVE:
        text += ": not in the files; removed"
    elif action.action == KEPT:
        text += ": not in the files; kept (use --prune to remove)"
    return symbol, text


def _change_lines(ch: FieldChange) -> list[str]:
    """A field of a network, secret or config (no compose key): its engine path."""
    drift = DRIFT if ch.drift else ""
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
    return [f"~ {ch.path}: {_shown_raw(old)} {ARROW} {_shown_raw(new)}{drift}"]


def _shown_raw(value: Any) -> str:
    """An engine value; a content digest (`sha256:…`) as it is."""
    if isinstance(value, str) and value.startswith("sha256:"):
        return value
    return _value(value)


def _compose_line(ch: ComposeChange, debug: bool) -> tuple[str, str]:
    """(symbol, text) of one change in the file's words."""
    key = ch.compose_path or ch.engine_path
    old = "(none)" if ch.old is None else ch.old
    new = "(none)" if ch.new is None else ch.new
    if ch.element:
        symbol, text = ("+", f"+ {key}: {new}") if ch.old is None else ("-", f"- {key}: {old}")
    else:
        symbol, text = "~", f"~ {key}: {old} {ARROW} {new}"
    if ch.file and ch.line:
        text += f"  ({ch.file}:{ch.line})"
    if ch.compose_path is None:
        text += NO_KEY
    elif ch.drift:
        text += DRIFT
    if debug and ch.compose_path is not None:
        text += f"  [{ch.engine_path}]"
    return symbol, text


def plan_lines(plan: Plan, *, debug: bool = False) -> list[tuple[str, str]]:
    """(style symbol, text) lines of the text rendering; symbol "" for plain lines.

    `debug`: each compose change also names the engine field it changes."""
    lines: list[tuple[str, str]] = []
    shown = [a for a in plan.actions if a.writes or (a.action == UNCHANGED and (a.warnings or a.changes))]
    if not shown and not plan.kept:
        lines.append(("", f"No changes. Stack {plan.stack} matches the files."))
    else:
        if shown:
            lines.append(("", f"Stack {plan.stack}: deploy will perform these actions:"))
        else:
            lines.append(("", f"No changes to apply. Stack {plan.stack} has objects the files no "
                              "longer have:"))
        lines.append(("", ""))
        for action in shown + plan.kept:
            symbol, text = _headline(action)
            lines.append((symbol, f"  {symbol} {text}"))
            if action.compose:
                for ch in action.compose:
                    sym, line = _compose_line(ch, debug)
                    lines.append((sym, f"      {line}"))
            elif action.action in (UPDATE, UNCHANGED) or action.changes:  # a new version: Data old -> new
                for change in action.changes:
                    for i, line in enumerate(_change_lines(change)):
                        lines.append(("~" if i == 0 else "", f"      {line}"))
            for note in action.notes if action.writes else []:
                lines.append(("", f"      # {note}"))
    counts = plan.counts()
    lines.append(("", ""))
    kept = f", {counts[KEPT]} kept (not in the files)" if counts[KEPT] else ""
    lines.append(("", f"Plan: {counts[CREATE]} to create, {counts[UPDATE]} to update, "
                      f"{counts[REMOVE]} to remove, {counts[UNCHANGED]} unchanged{kept}."))
    return lines


def render_plan_text(plan: Plan, *, debug: bool = False) -> str:
    """The plain-text rendering (what golden files hold)."""
    return "\n".join(text for _, text in plan_lines(plan, debug=debug)) + "\n"


def print_plan(plan: Plan, *, fmt: str = "text", stream: TextIO | None = None, debug: bool = False) -> None:
    """Print the plan: JSON, rich text on a terminal, plain text otherwise (`debug`: engine paths too)."""
    stream = stream or sys.stdout
    if fmt == "json":
        stream.write(json.dumps(plan_json(plan), indent=2, ensure_ascii=False) + "\n")
        return
    if not stream.isatty():
        stream.write(render_plan_text(plan, debug=debug))
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False)
    for symbol, text in plan_lines(plan, debug=debug):
        console.print(Text(text, style=STYLES.get(symbol, "")), soft_wrap=True)


def plan_json(plan: Plan) -> dict[str, Any]:
    """The JSON document of `diff --format json` (schema in docs/json-output.md)."""
    doc: dict[str, Any] = {"schema": JSON_SCHEMA}
    doc.update(plan.to_json())
    return doc
