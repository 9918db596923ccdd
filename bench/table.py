"""The result table: one row per case, stackctl beside the reference, with the ratio and the target."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

Calls = tuple[int, int]  # (reads, writes): median Engine API requests of one run


@dataclass
class Row:
    case: str
    reference: str  # the tool stackctl is compared with
    ours: float | None  # seconds, or MB when unit == "MB"
    theirs: float | None
    target: str  # what the issue asks, in words
    check: Callable[[Row], bool] | None = None  # None: reported only
    ours_calls: Calls | None = None
    theirs_calls: Calls | None = None
    unit: str = "s"
    note: str = ""
    ours_mb: float | None = None  # peak RSS of one run (the largest of the case's runs), MB
    theirs_mb: float | None = None

    @property
    def ratio(self) -> float | None:
        """stackctl / reference: below 1 means stackctl is faster (or smaller)."""
        if self.ours is None or not self.theirs:
            return None
        return self.ours / self.theirs

    @property
    def met(self) -> bool | None:
        if self.check is None or self.ours is None:
            return None
        try:
            return bool(self.check(self))
        except TypeError:  # a value the check needs is missing
            return None


def fmt_value(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "MB":
        return f"{value:,.0f} MB"
    if value >= 10:
        return f"{value:,.1f} s"
    return f"{value * 1000:,.0f} ms"


def fmt_calls(calls: Calls | None) -> str:
    return "-" if calls is None else f"{calls[0]} / {calls[1]}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.3f}x"


def fmt_met(met: bool | None) -> str:
    return {True: "yes", False: "**NO**", None: "n/a"}[met]


HEADER = ("case", "stackctl", "reference", "ref value", "ratio", "target", "met",
          "API r/w stackctl", "API r/w ref", "peak MB stackctl / ref")


def fmt_memory(ours: float | None, theirs: float | None) -> str:
    if ours is None and theirs is None:
        return "-"
    return " / ".join("-" if v is None else f"{v:,.0f}" for v in (ours, theirs))


def render(rows: Sequence[Row]) -> str:
    """A Markdown table (it reads as a plain table in a terminal too), then the rows' notes."""
    body = [(r.case, fmt_value(r.ours, r.unit), r.reference, fmt_value(r.theirs, r.unit), fmt_ratio(r.ratio),
             r.target, fmt_met(r.met), fmt_calls(r.ours_calls), fmt_calls(r.theirs_calls),
             fmt_memory(r.ours_mb, r.theirs_mb)) for r in rows]
    widths = [max(len(line[i]) for line in [HEADER, *body]) for i in range(len(HEADER))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [line(HEADER), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(cells) for cells in body]
    notes = [f"- {r.case}: {r.note}" for r in rows if r.note]
    if notes:
        out += ["", *notes]
    return "\n".join(out)
