"""Tables for the troubleshooting commands, or JSON.

Text follows the docker CLI's tabwriter layout (columns padded by 3 spaces, at least 10 wide)
so scripts that parsed the reference keep working. A terminal gets the same columns and text as a
pipe, with colour, and long cells shortened (ellipsis at the end) to fit its width: a row is
never wrapped over several lines. `--no-trunc` shortens nothing. The JSON documents are described in
docs/json-output.md; every one carries `"schema": "stackctl.<command>/v1"`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
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


# Columns whose values are short and fixed in form: never shortened to fit a terminal.
FIXED_COLUMNS = frozenset({"ID", "MODE", "REPLICAS", "DESIRED STATE", "SERVICES", "NETWORKS", "SECRETS",
                           "CONFIGS", "REVISION", "TIME"})
# Shortened first when a table is wider than the terminal (troubleshooting needs NAME and NODE most;
# the ps summary on stderr repeats each failing service's error in full). Unlisted columns go first.
SHRINK_FIRST = ("ERROR", "NEWEST TASK ERROR", "IMAGES", "IMAGE", "PORTS", "BY", "NOTE", "CURRENT STATE",
                "STATE", "NAME", "SERVICE", "NODE")
# Characters a shortened column keeps while others can still give some up (default 12).
SOFT_FLOOR = {"CURRENT STATE": 19, "STATE": 19, "NAME": 16, "SERVICE": 16}
PAD = 3  # spaces between columns, as the reference's tabwriter
MIN_COLUMN = 10  # a column (with its padding) is at least this wide
ELLIPSIS = "…"
STYLE_CODES = {"red": "\x1b[31m", "dim": "\x1b[2m", "bold": "\x1b[1m"}
RESET = "\x1b[0m"


def use_rich(stream: IO[str]) -> bool:
    """A terminal: fit its width and colour the rows (the text itself is the pipe's)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def terminal_width(stream: IO[str]) -> int | None:
    """Columns of the terminal `stream` writes to (honours $COLUMNS); None for a pipe or file."""
    if not use_rich(stream):
        return None
    import shutil

    return shutil.get_terminal_size(fallback=(80, 24)).columns


def shorten(text: str, width: int) -> str:
    """At most `width` characters, cut at the end with an ellipsis; a quoted value keeps its quotes."""
    if len(text) <= width:
        return text
    if len(text) > 2 and text[0] == text[-1] == '"' and width > 3:
        return '"' + text[1:width - 2] + ELLIPSIS + '"'
    return text[:max(width - 1, 0)] + ELLIPSIS


def fit_widths(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None
               ) -> tuple[list[int], int, int]:
    """(content width of each column, padding, minimum column) so that lines fit `width`.

    None: no limit, the pipe layout. A table wider than the terminal gets 2-space padding and no
    minimum column width; then columns give up characters in SHRINK_FIRST order, first down to
    SOFT_FLOOR, then down to their header's width, until the table fits. Cells are then cut with
    an ellipsis, never wrapped, so each row stays one line in a terminal exactly as in a pipe.
    """
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def total(pad: int, minimum: int) -> int:
        return sum(max(minimum, w + pad) for w in widths[:-1]) + widths[-1]

    if width is None or total(PAD, MIN_COLUMN) <= width:
        return widths, PAD, MIN_COLUMN
    pad, minimum = PAD - 1, 0
    order = sorted((i for i, h in enumerate(headers) if h not in FIXED_COLUMNS),
                   key=lambda i: SHRINK_FIRST.index(headers[i]) if headers[i] in SHRINK_FIRST else -1)
    # First every column down to a readable width, least useful first; then to its header.
    soft = [max(len(h), SOFT_FLOOR.get(h, 12)) for h in headers]
    floors: tuple[Callable[[int], int], ...] = (lambda i: soft[i], lambda i: len(headers[i]))
    for floor_of in floors:
        for i in order:
            excess = total(pad, minimum) - width
            if excess <= 0:
                return widths, pad, minimum
            widths[i] = max(min(widths[i], floor_of(i)), widths[i] - excess)
    return widths, pad, minimum


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, width: int | None = None) -> str:
    """Columns padded to the widest cell + 3 (minimum 10), like the reference's tabwriter.

    `width`: the terminal's columns; long cells are shortened (ellipsis at the end) to fit.
    """
    return "".join(line + "\n" for line in table_lines(headers, rows, width))


def table_lines(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None) -> list[str]:
    """The table's lines (header first), fitted to `width` columns (None: no limit)."""
    widths, pad, minimum = fit_widths(headers, rows, width)
    slots = [max(minimum, w + pad) for w in widths]
    lines = []
    for row in [list(headers), *rows]:
        cells = [shorten(cell, widths[i]) for i, cell in enumerate(row)]
        line = "".join(cell.ljust(slots[i]) if i < len(cells) - 1 else cell for i, cell in enumerate(cells))
        lines.append(line.rstrip())
    return lines


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], *, styles: Sequence[str] | None = None,
                stream: IO[str] | None = None, no_trunc: bool = False) -> None:
    """The same columns and text everywhere; on a terminal, fitted to its width and coloured.

    `no_trunc`: never shorten a cell (long rows then run past the terminal's edge, unwrapped).
    """
    import os

    out = stream or sys.stdout
    width = None if no_trunc else terminal_width(out)
    lines = table_lines(headers, rows, width)
    if not use_rich(out) or os.environ.get("NO_COLOR"):
        out.write("".join(line + "\n" for line in lines))
        return
    codes = ["bold", *(styles or [""] * len(rows))]
    for line, style in zip(lines, codes, strict=False):
        code = STYLE_CODES.get(style or "")
        out.write(f"{code}{line}{RESET}\n" if code else line + "\n")


def print_json(doc: Any, stream: IO[str] | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(doc, indent=2, sort_keys=False) + "\n")


# --- ps ---------------------------------------------------------------------------------------


def ps_cells(row: TaskRow, *, no_trunc: bool) -> list[str]:
    error = row.error
    if error and not no_trunc:
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
             stream: IO[str] | None = None, summary_stream: IO[str] | None = None) -> None:
    """The task table on `stream`; the convergence summary on `summary_stream` (stderr), so
    stdout holds nothing but the table, as `docker stack ps` prints it."""
    out = stream or sys.stdout
    cells = [ps_cells(r, no_trunc=no_trunc) for r in rows]
    styles = ["red" if not r.service_converged and not r.is_history else ("dim" if r.is_history else "")
              for r in rows]
    print_table(PS_HEADERS, cells, styles=styles, stream=out, no_trunc=no_trunc)
    out.flush()
    (summary_stream or sys.stderr).write(ps_summary(statuses))


def ps_text(rows: Sequence[TaskRow], statuses: Sequence[ServiceStatus], *, no_trunc: bool,
            width: int | None = None) -> str:
    """The ps table as a pipe (or a terminal `width` columns wide) receives it, then the summary
    that goes to stderr: used by golden tests."""
    cells = [ps_cells(r, no_trunc=no_trunc) for r in rows]
    return plain_table(PS_HEADERS, cells, width=None if no_trunc else width) + "\n" + ps_summary(statuses)


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


def services_cells(s: ServiceStatus, *, no_trunc: bool = False) -> list[str]:
    return [s.id if no_trunc else s.id[:12], s.name, s.mode, s.replicas,
            s.image if no_trunc else strip_digest(s.image), ", ".join(s.ports)]


def services_json(stack: str, statuses: Sequence[ServiceStatus]) -> dict[str, Any]:
    return {"schema": "stackctl.services/v1", "stack": stack, "services": [s.to_json() for s in statuses]}


def ls_cells(s: StackSummary) -> list[str]:
    return [s.name, str(s.services), str(s.networks), str(s.secrets), str(s.configs)]


def ls_json(stacks: Sequence[StackSummary]) -> dict[str, Any]:
    return {"schema": "stackctl.ls/v1", "stacks": [s.to_json() for s in stacks]}


def kept_line(kept: KeptObjects) -> str | None:
    text = kept.describe()
    return f"Kept: {text}" if text else None
