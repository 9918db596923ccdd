"""Tables for the troubleshooting commands: rich on a terminal, plain aligned text otherwise, or JSON.

Plain text follows the docker CLI's tabwriter layout (columns padded by 3 spaces, at least 10 wide)
so scripts that parsed the reference keep working. The JSON documents are described in
docs/json-output.md; every one carries `"schema": "stackctl.<command>/v1"`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

from stackctl.inspect_tasks import (
    KeptObjects,
    ServiceStatus,
    StackSummary,
    TaskRow,
    format_time,
    strip_digest,
    truncate_words,
)

PS_HEADERS = ["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"]
SERVICES_HEADERS = ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]
LS_HEADERS = ["NAME", "SERVICES", "NETWORKS", "SECRETS", "CONFIGS"]
ERROR_WIDTH = 60  # ps ERROR column without --no-trunc; cut at a word boundary, never mid-word
HISTORY_MARK = " \\_ "


def use_rich(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to the widest cell + 3 (minimum 10), like the reference's tabwriter."""
    widths = [max(10, len(h) + 3) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell) + 3)
    lines = []
    for row in [list(headers), *rows]:
        line = "".join(cell.ljust(widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row))
        lines.append(line.rstrip())
    return "\n".join(lines) + "\n"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, styles: Sequence[str] | None = None,
                stream: IO[str] | None = None) -> None:
    """A rich table on a terminal (cells wrap, nothing is cut), plain aligned text otherwise."""
    out = stream or sys.stdout
    if not use_rich(out):
        out.write(plain_table(headers, rows))
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for h in headers:
        table.add_column(h, overflow="fold")
    for i, row in enumerate(rows):
        table.add_row(*row, style=(styles[i] if styles else None) or None)
    Console(file=out).print(table)


def print_json(doc: Any, stream: IO[str] | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(doc, indent=2, sort_keys=False) + "\n")


# --- ps ---------------------------------------------------------------------------------------


def ps_cells(row: TaskRow, *, no_trunc: bool, full_error: bool = False) -> list[str]:
    error = row.error
    if error and not (no_trunc or full_error):
        error = truncate_words(error, ERROR_WIDTH)
    return [
        row.id if no_trunc else row.id[:12],
        (HISTORY_MARK if row.is_history else "") + row.name,
        row.image if no_trunc else strip_digest(row.image),
        row.node or "",
        row.desired_state[:1].upper() + row.desired_state[1:],
        row.current_state,
        f'"{error}"' if error else "",
        ", ".join(row.ports),
    ]


def ps_summary(statuses: Sequence[ServiceStatus], *, no_trunc: bool = True) -> str:
    """`3 services: 1 converged, 2 not converged` and one line per failing service with its error."""
    bad = [s for s in statuses if not s.converged]
    noun = "service" if len(statuses) == 1 else "services"
    lines = [f"{len(statuses)} {noun}: {len(statuses) - len(bad)} converged, {len(bad)} not converged"]
    width = max((len(s.name) for s in bad), default=0)
    for s in bad:
        problem = s.problem if no_trunc else truncate_words(s.problem, 100)
        lines.append(f"  {s.name.ljust(width)}  {s.replicas} running  {problem}".rstrip())
    return "\n".join(lines) + "\n"


def print_ps(rows: Sequence[TaskRow], statuses: Sequence[ServiceStatus], *, no_trunc: bool,
             stream: IO[str] | None = None) -> None:
    out = stream or sys.stdout
    rich = use_rich(out)
    cells = [ps_cells(r, no_trunc=no_trunc, full_error=rich) for r in rows]
    styles = ["red" if not r.service_converged and not r.is_history else ("dim" if r.is_history else "")
              for r in rows]
    print_table(PS_HEADERS, cells, styles=styles, stream=out)
    out.write("\n" + ps_summary(statuses))


def ps_text(rows: Sequence[TaskRow], statuses: Sequence[ServiceStatus], *, no_trunc: bool) -> str:
    """The plain-text ps output (what a pipe or file receives): used by golden tests."""
    cells = [ps_cells(r, no_trunc=no_trunc) for r in rows]
    return plain_table(PS_HEADERS, cells) + "\n" + ps_summary(statuses)


def ps_json(stack: str, rows: Sequence[TaskRow], statuses: Sequence[ServiceStatus], now: datetime
            ) -> dict[str, Any]:
    bad = sum(1 for s in statuses if not s.converged)
    return {
        "schema": "stackctl.ps/v1",
        "stack": stack,
        "generated_at": format_time(now),
        "summary": {"services": len(statuses), "converged": len(statuses) - bad, "not_converged": bad},
        "services": [s.to_json() for s in statuses],
        "tasks": [r.to_json() for r in rows],
    }


# --- services / ls / rm -------------------------------------------------------------------------


def services_cells(s: ServiceStatus) -> list[str]:
    return [s.id[:12], s.name, s.mode, s.replicas, strip_digest(s.image), ", ".join(s.ports)]


def services_json(stack: str, statuses: Sequence[ServiceStatus]) -> dict[str, Any]:
    return {"schema": "stackctl.services/v1", "stack": stack, "services": [s.to_json() for s in statuses]}


def ls_cells(s: StackSummary) -> list[str]:
    return [s.name, str(s.services), str(s.networks), str(s.secrets), str(s.configs)]


def ls_json(stacks: Sequence[StackSummary]) -> dict[str, Any]:
    return {"schema": "stackctl.ls/v1", "stacks": [s.to_json() for s in stacks]}


def kept_line(kept: KeptObjects) -> str | None:
    text = kept.describe()
    return f"Kept: {text}" if text else None
