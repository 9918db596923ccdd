"""Rollout progress: a live table per service on a terminal, plain lines elsewhere.

Plain mode (CI logs, pipes) prints one line per service only when what it shows changed,
so a ten-minute wait does not flood the log with identical lines.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

from stackctl.apply.wait import ServiceOutcome, ServiceProgress

_STATE_STYLE = {
    "converged": "green",
    "failed": "bold red",
    "paused": "bold red",
    "rolled_back": "bold yellow",
    "timeout": "bold red",
    "interrupted": "yellow",
}


def progress_line(p: ServiceProgress) -> str:
    """`stack_web: 1/2 running [updating] (task abc: non-zero exit (1))`."""
    head = f"{p.name}: {p.final + ': ' if p.final and p.final != 'converged' else ''}{p.message}"
    if p.update_state and not p.final and p.update_state not in ("updating", "rollback_started"):
        head += f" [update {p.update_state}]"
    if p.task_error and p.final != "converged":
        head += f" ({p.task_error})"
    return head


class RolloutDisplay:
    """Callable for `wait_for_services(on_progress=...)`; use as a context manager."""

    def __init__(self, stream: TextIO | None = None, *, live: bool | None = None, quiet: bool = False,
                 title: str = "rollout") -> None:
        self.stream = stream or sys.stdout
        self.quiet = quiet
        self.title = title
        self.live_mode = (live if live is not None else _is_tty(self.stream)) and not quiet
        self._last: dict[str, str] = {}
        self._live: Any = None

    def __enter__(self) -> RolloutDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, progress: list[ServiceProgress]) -> None:
        if self.quiet:
            return
        if self.live_mode:
            self._update_live(progress)
            return
        for p in progress:
            line = progress_line(p)
            if self._last.get(p.name) != line:
                self._last[p.name] = line
                print(line, file=self.stream, flush=True)

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _update_live(self, progress: list[ServiceProgress]) -> None:
        from rich.console import Console
        from rich.live import Live

        if self._live is None:
            console = Console(file=self.stream)
            self._live = Live(_table(progress, self.title, console.width), console=console,
                              refresh_per_second=4, transient=False)
            self._live.start()
        else:
            self._live.update(_table(progress, self.title, self._live.console.width))


LIVE_HEADERS = ["SERVICE", "TASKS", "UPDATE", "STATE", "NEWEST TASK ERROR"]


def _table(progress: list[ServiceProgress], title: str, width: int | None = None) -> Any:
    """The live table: one line per service, fitted to `width` by render.tables (cells cut with an
    ellipsis, never wrapped); the verdict after the wait prints each failing service's error in full."""
    from rich.console import Group
    from rich.text import Text

    from stackctl.render.tables import table_lines

    rows, styles = [], []
    for p in progress:
        state = p.final or "waiting"
        tasks = f"{p.completed}/{p.desired} done" if p.mode.endswith("job") else f"{p.running}/{p.desired}"
        rows.append([p.name, tasks, p.update_state or "-", f"{state}: {p.message}", p.task_error or ""])
        styles.append(_STATE_STYLE.get(state, "cyan"))
    lines = table_lines(LIVE_HEADERS, rows, width)
    return Group(Text(title), Text(lines[0], style="bold"),
                 *(Text(line, style=style) for line, style in zip(lines[1:], styles, strict=True)))


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def summary_lines(outcomes: list[ServiceOutcome]) -> list[str]:
    """The final verdict, one line per service that did not converge (plus a count)."""
    bad = [o for o in outcomes if o.state != "converged"]
    lines = []
    for o in bad:
        text = f"service {o.name}: {o.state.replace('_', ' ')}: {o.message}"
        if o.task_error:
            text += f"; {o.task_error}"
        lines.append(text)
    ok = len(outcomes) - len(bad)
    lines.append(f"{ok} of {len(outcomes)} service{'s' if len(outcomes) != 1 else ''} converged")
    return lines


class RolloutPrinter:
    """The rollout's callback (stackctl.apply.rollout.RolloutEvent) as text: progress and notes on
    `out`, verdicts and problems on `err`."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, *, quiet: bool = False,
                 live: bool | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.live = live
        self._display: RolloutDisplay | None = None

    def __call__(self, event: Any) -> None:
        kind = event.kind
        if kind == "watch":
            self._display = RolloutDisplay(self.out, quiet=self.quiet, live=self.live, title=event.title)
        elif kind == "progress" and self._display is not None:
            self._display(list(event.progress))
        elif kind == "end" and self._display is not None:
            self._display.close()
            self._display = None
        elif kind in ("converged", "note"):
            if not self.quiet:
                print(event.text, file=self.out, flush=True)
        elif kind == "verdict":
            prefix = "undo: " if event.title == "undo" else ""
            lines = summary_lines(list(event.outcomes))
            for line in lines:
                print(prefix + line, file=self.err, flush=True)
        elif kind == "problem":
            print(event.text, file=self.err, flush=True)
