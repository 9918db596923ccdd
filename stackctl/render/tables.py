"""Tables for the troubleshooting commands (ps, services, ls, history), or JSON.

Text follows the docker CLI's tabwriter layout (columns padded by 3 spaces, at least 10 wide) so
scripts that parsed the reference keep working. One rule fits every table (`fit_table`, a pure
function), the same on a terminal and into a pipe except for the width:

1. a column empty in every row is left out (`-o wide` keeps it); a pipe gets the same columns;
2. a pipe (no width), `--no-trunc` and `-o wide` get no cell cut to a width, in the tabwriter layout
   (a pipe's cells are the reference's: 12-character IDs, no digest, `ps` errors to 60 characters);
3. a terminal too narrow for that gets 2-space padding and short headers (`DESIRED`, `CURRENT`), then
   CURRENT STATE as people read it (`Running 8s`, `Failed 2m: non-zero exit (3)`: the error moves
   into it and the ERROR column goes), then IMAGE cut in the middle keeping its tag
   (`10.2…/dockersamples/atsea_app:latest`, down to `…/atsea_app:latest`), and only then other
   cells cut at the end with `…` (in CUT_ORDER, down to SOFT_FLOOR characters);
4. if the table still does not fit, and it would with every cut column at HARD_FLOOR characters (or
   its header), text columns, then IMAGE, then the state's `Failed 2m` part go down to that;
5. NAME, ID, NODE, SERVICE, REVISION and the short fixed-form columns are never cut: a row runs past
   the terminal's edge (unwrapped, as `docker` and `kubectl` print it) only when those cells and the
   other columns at their hard floor do not fit (the others then keep their soft floors).

The JSON documents are described in docs/json-output.md; every one carries
`"schema": "stackctl.<command>/v1"`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Literal

from stackctl.images import strip_digest
from stackctl.observe import KeptObjects, StackSummary
from stackctl.render.tasks import TaskRow, truncate_words
from stackctl.swarm.services import ServiceStatus
from stackctl.swarm.times import format_time

PS_HEADERS = ["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"]
SERVICES_HEADERS = ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]
LS_HEADERS = ["NAME", "SERVICES", "NETWORKS", "SECRETS", "CONFIGS"]
HISTORY_HEADERS = ["REVISION", "UPDATED", "STATUS", "BY", "DESCRIPTION"]
ERROR_WIDTH = 60  # ps ERROR column without --no-trunc or -o wide; cut at a word boundary, never mid-word
HISTORY_MARK = " \\_ "

Kind = Literal["key", "fixed", "image", "text"]
# How a column may be cut, by header. `key`: what a row is about (never cut: a cut name or node cannot
# be told from its neighbour); `fixed`: short values of a fixed form (never cut); `image`: cut in the
# middle, keeping the tag; anything else is text, cut at the end.
COLUMN_KINDS: dict[str, Kind] = {
    "ID": "key", "NAME": "key", "NODE": "key", "SERVICE": "key", "REVISION": "key",
    "MODE": "fixed", "REPLICAS": "fixed", "DESIRED STATE": "fixed", "SERVICES": "fixed", "NETWORKS": "fixed",
    "SECRETS": "fixed", "CONFIGS": "fixed", "UPDATED": "fixed", "TASKS": "fixed",
    "IMAGE": "image",
}
# Headers a narrow terminal shortens first (they are wider than their values).
SHORT_HEADERS = {"DESIRED STATE": "DESIRED", "CURRENT STATE": "CURRENT", "NEWEST TASK ERROR": "TASK ERROR"}
# A column whose short cells say what another column says: that one goes when they are used.
ABSORBS = {"CURRENT STATE": ("ERROR",)}
# Text columns cut in this order (unlisted ones first): what troubleshooting needs most comes last.
CUT_ORDER = ("ERROR", "NEWEST TASK ERROR", "PORTS", "BY", "NOTE", "DESCRIPTION", "UPDATE", "STATUS", "STATE",
             "CURRENT STATE")
SOFT_FLOOR = 12  # characters a text column keeps while another column can still give some up
HARD_FLOOR = 6  # characters a cut column keeps in any case (or its header's width, if wider)
IMAGE_NAME_KEEP = 6  # characters of the image's name an IMAGE cell keeps before other columns are cut
PAD = 3  # spaces between columns, as the reference's tabwriter
MIN_COLUMN = 10  # a column (with its padding) is at least this wide, as the reference's tabwriter
ELLIPSIS = "…"
STYLE_CODES = {"red": "\x1b[31m", "dim": "\x1b[2m", "bold": "\x1b[1m"}
RESET = "\x1b[0m"


@dataclass(frozen=True)
class Cell:
    """A cell with a second, shorter form for a narrow terminal.

    `text`: the whole cell (a pipe, `--no-trunc`, a wide enough terminal); `short`: how people read
    it when the table must shrink (CURRENT STATE: `Failed 2m: non-zero exit (3)`); `keep`: how many
    leading characters of `short` stay whole until every other cuttable column is at its hard floor.
    """

    text: str
    short: str = ""
    keep: int = 0

    def __str__(self) -> str:
        return self.text


CellValue = str | Cell


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


def _image_parts(image: str) -> tuple[str, str]:
    """(name, tag) of an image reference's last path component: `atsea_app`, `:latest` ("" untagged)."""
    last = image.rsplit("/", 1)[-1]
    name, colon, tag = last.partition(":")
    return name, colon + tag


def cut_image(image: str, width: int) -> str:
    """At most `width` characters, cut in the middle so the tag and as much of the path's end stay.

    `10.213.47.1:5000/dockersamples/atsea_app:latest` at 36: `10.2…/dockersamples/atsea_app:latest`
    (the registry's head, then whole path components from the end); narrower, the name keeps its
    tag (`atsea_…:latest`); narrower still, the name is cut at its end.
    """
    if len(image) <= width:
        return image
    if width < 2:
        return ELLIPSIS[:width]
    last = image.rfind("/")
    for slash in (i for i, ch in enumerate(image) if ch == "/"):
        head = width - 1 - (len(image) - slash)
        if head >= (0 if slash == last else min(4, slash)):
            return image[:head] + ELLIPSIS + image[slash:]
    name, tag = _image_parts(image)
    if len(name) <= width - 1 - len(tag):
        return ELLIPSIS + name + tag  # only the path before the name is cut
    if width - 1 - len(tag) >= 1:
        return name[:width - 1 - len(tag)] + ELLIPSIS + tag
    return shorten(name + tag, width)


def _image_floor(image: str) -> int:
    """Width an IMAGE cell keeps while other columns can give some up: its name and tag after the
    cut path (`…/atsea_app:latest`), or a long name's first letters and the tag (`atseas…:latest`)."""
    name, tag = _image_parts(image)
    if len(name) > 2 * IMAGE_NAME_KEEP:
        return min(len(image), IMAGE_NAME_KEEP + len(ELLIPSIS) + len(tag))
    return min(len(image), (len(ELLIPSIS) + 1 if "/" in image else 0) + len(name) + len(tag))


@dataclass
class _Column:
    name: str  # the header as declared (PS_HEADERS...): what the rules above look up
    kind: Kind
    cells: list[CellValue]
    shown: list[str] = field(default_factory=list)  # the text each row shows (whole or short form)
    limit: int | None = None  # at most this wide (None: as wide as its widest cell)
    header: str = ""  # the header shown (short on a narrow terminal)

    def __post_init__(self) -> None:
        self.shown = [str(c) for c in self.cells]
        self.header = self.header or self.name

    @property
    def natural(self) -> int:
        return max([len(self.header), *(len(t) for t in self.shown)])

    @property
    def width(self) -> int:
        return self.natural if self.limit is None else min(self.natural, self.limit)

    @property
    def cuttable(self) -> bool:
        return self.kind not in ("key", "fixed")

    def keep_floor(self) -> int:
        """Width that keeps the `keep` part of every short cell whole (`Failed 2m` of `Failed 2m: …`)."""
        return max((cell.keep + (len(ELLIPSIS) if len(shown) > cell.keep else 0)
                    for cell, shown in zip(self.cells, self.shown, strict=True)
                    if isinstance(cell, Cell) and cell.keep), default=0)

    @property
    def hard_floor(self) -> int:
        return max(len(self.header), HARD_FLOOR)

    def cut_to(self, floor: int, excess: int) -> None:
        """Give up to `excess` characters, keeping at least `floor` (and the hard floor)."""
        floor = max(floor, self.hard_floor)
        if self.width > floor:
            self.limit = max(floor, self.width - excess)

    def text(self, row: int) -> str:
        text = self.shown[row]
        return cut_image(text, self.width) if self.kind == "image" else shorten(text, self.width)


@dataclass
class _Layout:
    columns: list[_Column]
    pad: int = PAD
    minimum: int = MIN_COLUMN

    def total(self, *, least: bool = False) -> int:
        """Width of a line; `least`: with every cuttable column at its hard floor."""
        widths = [min(c.width, c.hard_floor) if least and c.cuttable else c.width for c in self.columns]
        return sum(max(self.minimum, w + self.pad) for w in widths[:-1]) + (widths[-1] if widths else 0)

    def by_cut_order(self, kinds: tuple[Kind, ...]) -> list[_Column]:
        cols = [c for c in self.columns if c.kind in kinds]
        rank = {h: i for i, h in enumerate(CUT_ORDER)}
        return sorted(cols, key=lambda c: (c.kind != "image", rank.get(c.name, -1)))

    def lines(self, rows: int) -> list[str]:
        slots = [max(self.minimum, c.width + self.pad) for c in self.columns]
        out = []
        header = [shorten(c.header, c.width) for c in self.columns]
        for cells in [header, *([c.text(r) for c in self.columns] for r in range(rows))]:
            line = "".join(cell.ljust(slot) for cell, slot in zip(cells[:-1], slots, strict=False))
            out.append((line + (cells[-1] if cells else "")).rstrip())
        return out


def fit_table(headers: Sequence[str], rows: Sequence[Sequence[CellValue]], width: int | None, *,
              wide: bool = False) -> list[str]:
    """The table's lines (header first), fitted to a terminal `width` columns wide (None: a pipe or
    `--no-trunc`, every cell whole) by the rule in this module's docstring. `wide`: keep the columns
    that are empty in every row."""
    columns = [_Column(h, COLUMN_KINDS.get(h, "text"), [row[i] for row in rows])
               for i, h in enumerate(headers)]
    if rows and not wide:
        columns = [c for c in columns if any(str(cell) for cell in c.cells)]
    layout = _Layout(columns)
    if width is None or layout.total() <= width:
        return layout.lines(len(rows))
    layout.pad, layout.minimum = PAD - 1, 0
    for step in (_short_headers, _short_cells, _cut_images, _cut_soft):
        if layout.total() <= width:
            break
        step(layout, width)
    # Below their soft floors only when that makes the table fit: when the uncuttable cells alone are
    # too wide, the rows run past the edge anyway and keep a readable image, state and text.
    if layout.total() > width >= layout.total(least=True):
        _cut_to_hard_floors(layout, width)
    return layout.lines(len(rows))


def _short_headers(layout: _Layout, width: int) -> None:
    for c in layout.columns:
        c.header = SHORT_HEADERS.get(c.name, c.header)


def _short_cells(layout: _Layout, width: int) -> None:
    """The short forms (CURRENT STATE: `Failed 2m: non-zero exit (3)`); what they absorb goes."""
    absorbed: set[str] = set()
    for c in layout.columns:
        if any(isinstance(cell, Cell) and cell.short for cell in c.cells):
            c.shown = [(cell.short or cell.text) if isinstance(cell, Cell) else cell for cell in c.cells]
            absorbed.update(ABSORBS.get(c.name, ()))
    layout.columns = [c for c in layout.columns if c.name not in absorbed]


def _cut_images(layout: _Layout, width: int) -> None:
    for c in layout.by_cut_order(("image",)):
        c.cut_to(max((_image_floor(t) for t in c.shown), default=0), layout.total() - width)


def _cut_soft(layout: _Layout, width: int) -> None:
    for c in layout.by_cut_order(("text",)):
        c.cut_to(max(SOFT_FLOOR, c.keep_floor()), layout.total() - width)


def _cut_to_hard_floors(layout: _Layout, width: int) -> None:
    """Last: every cuttable column down to its hard floor: text columns (in CUT_ORDER), then
    IMAGE, then the short forms' `keep` parts (`Failed 2m`)."""
    columns = layout.by_cut_order(("image", "text"))
    for c in sorted(columns, key=lambda c: (c.keep_floor() > 0, c.kind == "image")):  # stable: CUT_ORDER
        c.cut_to(c.keep_floor(), layout.total() - width)
    for c in columns:
        c.cut_to(0, layout.total() - width)


def plain_table(headers: Sequence[str], rows: Sequence[Sequence[CellValue]], *, width: int | None = None,
                wide: bool = False) -> str:
    """The table as text: every cell whole in the tabwriter layout, or fitted to `width` columns."""
    return "".join(line + "\n" for line in fit_table(headers, rows, width, wide=wide))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[CellValue]], *,
                styles: Sequence[str] | None = None, stream: IO[str] | None = None, no_trunc: bool = False,
                wide: bool = False) -> None:
    """The same columns and text everywhere; on a terminal, fitted to its width and coloured.

    `no_trunc` and `wide` (`-o wide`): never cut a cell (long rows then run past the terminal's edge,
    unwrapped); `wide` also keeps the columns that are empty in every row.
    """
    import os

    out = stream or sys.stdout
    width = None if no_trunc or wide else terminal_width(out)
    lines = fit_table(headers, rows, width, wide=wide)
    if not use_rich(out) or os.environ.get("NO_COLOR"):
        out.write("".join(line + "\n" for line in lines))
        return
    codes = ["bold", *(styles or [""] * len(rows))]
    for line, style in zip(lines, codes, strict=False):
        code = STYLE_CODES.get(style or "")
        out.write(f"{code}{line}{RESET}\n" if code else line + "\n")


def print_json(doc: object, stream: IO[str] | None = None) -> None:
    (stream or sys.stdout).write(json.dumps(doc, indent=2, sort_keys=False) + "\n")


# --- ps ---------------------------------------------------------------------------------------


def ps_cells(row: TaskRow, *, no_trunc: bool, wide: bool = False) -> list[CellValue]:
    """One task's cells (PS_HEADERS). CURRENT STATE also carries its short form, which says the
    error too: a narrow terminal shows it instead of the CURRENT STATE and ERROR columns."""
    error = row.error
    if error and not (no_trunc or wide):
        error = truncate_words(error, ERROR_WIDTH)
    short = row.short_state or row.current_state
    return [
        row.id if no_trunc else row.id[:12],
        (HISTORY_MARK if row.is_history else "") + row.name,
        row.image if no_trunc else strip_digest(row.image),
        row.node or "",
        row.desired_state[:1].upper() + row.desired_state[1:],
        Cell(row.current_state, short, len(short.partition(": ")[0])),
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
             stream: IO[str] | None = None, summary_stream: IO[str] | None = None, wide: bool = False
             ) -> None:
    """The task table on `stream`; the convergence summary on `summary_stream` (stderr), so
    stdout holds nothing but the table, as `docker stack ps` prints it."""
    out = stream or sys.stdout
    cells = [ps_cells(r, no_trunc=no_trunc, wide=wide) for r in rows]
    styles = ["red" if not r.service_converged and not r.is_history else ("dim" if r.is_history else "")
              for r in rows]
    print_table(PS_HEADERS, cells, styles=styles, stream=out, no_trunc=no_trunc, wide=wide)
    out.flush()
    (summary_stream or sys.stderr).write(ps_summary(statuses))


def ps_text(rows: Sequence[TaskRow], statuses: Sequence[ServiceStatus], *, no_trunc: bool,
            width: int | None = None, wide: bool = False) -> str:
    """The ps table as a pipe (or a terminal `width` columns wide) receives it, then the summary
    that goes to stderr: used by golden tests."""
    cells = [ps_cells(r, no_trunc=no_trunc, wide=wide) for r in rows]
    return (plain_table(PS_HEADERS, cells, width=None if no_trunc or wide else width, wide=wide) + "\n"
            + ps_summary(statuses))


def ps_json(stack: str, rows: Sequence[TaskRow], statuses: Sequence[ServiceStatus], now: datetime
            ) -> dict[str, object]:
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


def services_json(stack: str, statuses: Sequence[ServiceStatus]) -> dict[str, object]:
    return {"schema": "stackctl.services/v1", "stack": stack, "services": [s.to_json() for s in statuses]}


def ls_cells(s: StackSummary) -> list[str]:
    return [s.name, str(s.services), str(s.networks), str(s.secrets), str(s.configs)]


def ls_json(stacks: Sequence[StackSummary]) -> dict[str, object]:
    return {"schema": "stackctl.ls/v1", "stacks": [s.to_json() for s in stacks]}


def kept_line(kept: KeptObjects) -> str | None:
    text = kept.describe()
    return f"Kept: {text}" if text else None
