"""Rollout progress: a live table per service on a terminal, plain lines elsewhere.

Plain mode (CI logs, pipes) prints one line per service only when what it shows changed,
so a ten-minute wait does not flood the log with identical lines.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from stackctl.names import descope

if TYPE_CHECKING:  # types only: a no-op deploy must not import the waiter (~45 ms with apply/)
    from stackctl.apply.convergence import ServiceOutcome, ServiceProgress

_STATE_STYLE = {
    "converged": "green",
    "failed": "bold red",
    "paused": "bold red",
    "rolled_back": "bold yellow",
    "timeout": "bold red",
    "interrupted": "yellow",
}


# How a wait ended and where the swarm's update stands, in words (JSON keeps the engine's names).
STATE_WORDS = {
    "converged": "converged",
    "failed": "failed",
    "paused": "paused",
    "rolled_back": "rolled back",
    "timeout": "timed out",
    "interrupted": "interrupted",
}
UPDATE_WORDS = {
    "updating": "updating",
    "paused": "update paused",
    "completed": "update completed",
    "rollback_started": "rolling back",
    "rollback_paused": "rollback paused",
    "rollback_completed": "rolled back",
}
# The summary's count of each ending, in this order.
COUNT_WORDS = (
    ("converged", "converged"),
    ("rolled_back", "rolled back (previous version running)"),
    ("paused", "paused"),
    ("failed", "failed"),
    ("timeout", "timed out"),
    ("interrupted", "interrupted"),
)


def state_words(state: str | None) -> str:
    return STATE_WORDS.get(state or "", (state or "waiting").replace("_", " "))


def update_words(state: str | None) -> str:
    return UPDATE_WORDS.get(state or "", (state or "-").replace("_", " "))


def progress_line(p: ServiceProgress) -> str:
    """`stack_web: updating, 1/2 running [update paused] (task abc: non-zero exit (1))`."""
    head = f"{p.name}: {state_words(p.final) + ': ' if p.final and p.final != 'converged' else ''}{p.message}"
    if p.update_state and not p.final and p.update_state not in ("updating", "rollback_started"):
        head += f" [{update_words(p.update_state)}]"
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
            if p.final and p.final != "converged":
                continue  # the verdict that follows tells how it ended, once
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

    from stackctl.render.tables import fit_table

    rows, styles = [], []
    for p in progress:
        state = p.final or "waiting"
        tasks = f"{p.completed}/{p.desired} done" if p.mode.endswith("job") else f"{p.running}/{p.desired}"
        rows.append([p.name, tasks, update_words(p.update_state), f"{state_words(p.final)}: {p.message}",
                     p.task_error or ""])
        styles.append(_STATE_STYLE.get(state, "cyan"))
    lines = fit_table(LIVE_HEADERS, rows, width)
    return Group(Text(title), Text(lines[0], style="bold"),
                 *(Text(line, style=style) for line, style in zip(lines[1:], styles, strict=True)))


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def count_line(outcomes: Sequence[ServiceOutcome]) -> str:
    """`3 services: 2 converged, 1 rolled back (previous version running)`."""
    counts = Counter(o.state for o in outcomes)
    parts = [f"{counts[state]} {words}" for state, words in COUNT_WORDS if counts[state]]
    parts += [f"{n} {state_words(state)}" for state, n in counts.items()
              if state not in dict(COUNT_WORDS)]
    total = len(outcomes)
    return f"{total} service{'s' if total != 1 else ''}: {', '.join(parts)}"


def _headline(o: ServiceOutcome) -> str:
    if o.state in ("rolled_back", "paused"):
        # the swarm decided; the error line says which task failed and how
        what = "the new version's tasks failed" if o.task_error else "the update did not complete"
        return f"service {o.name}: {what}"
    return f"service {o.name}: {o.message}"


def _what_the_swarm_did(o: ServiceOutcome) -> str | None:
    if o.state == "rolled_back":
        return "the swarm rolled the service back to its previous spec; the previous version runs"
    if o.state == "paused" and o.update_state == "rollback_paused":
        return "the swarm's rollback is paused too: the service may run tasks of both specs"
    if o.state == "paused":
        return "the update is paused: replaced tasks run the new spec, the others the previous one"
    return None


def failure_lines(o: ServiceOutcome) -> list[str]:
    """One service's ending, a line per fact: what happened, the task's error, its log's last lines
    (stdout and stderr), what the swarm did."""
    lines = [_headline(o)]
    if o.task_error:
        lines.append(f"  error: {o.task_error}")
    if o.log_tail:
        n = len(o.log_tail)
        task = f" of task {o.log_task_id[:12]}" if o.log_task_id else ""
        lines.append(f"  last {n} log line{'s' if n != 1 else ''}{task}:")
        lines += [f"    | {line}" for line in o.log_tail]
    elif o.log_error:
        lines.append(f"  log: could not be read ({o.log_error})")
    elif o.log_tail is not None and o.task_id and o.state != "timeout":
        lines.append("  log: the task wrote nothing since the deploy began")
    swarm = _what_the_swarm_did(o)
    if swarm:
        lines.append(f"  {swarm}")
    return lines


def next_lines(outcomes: Sequence[ServiceOutcome], stack: str, *, had_previous: bool) -> list[str]:
    """The commands to run next, one per line, each once."""
    bad = [o for o in outcomes if o.state not in ("converged", "interrupted")]
    if not bad or not stack:
        return []
    rows = []
    for o in bad:
        short = descope(stack, o.name)
        rows.append((f"stackctl logs {stack} {short}", f"the whole log of {o.name}"))
    rows.append((f"stackctl ps {stack}", "every task and its error"))
    new_spec_runs = any(o.state in ("failed", "paused", "timeout") for o in outcomes) or (
        any(o.state == "rolled_back" for o in outcomes) and any(o.state == "converged" for o in outcomes))
    if had_previous and new_spec_runs:
        rows.append((f"stackctl rollback {stack}", "back to the last revision that worked"))
    width = max(len(cmd) for cmd, _ in rows)
    return ["next:"] + [f"  {cmd.ljust(width)}   # {why}" for cmd, why in rows]


def summary_lines(outcomes: Sequence[ServiceOutcome], stack: str = "", *, had_previous: bool = False,
                  next_steps: bool = True) -> list[str]:
    """The verdict: each service that did not converge (failure_lines), a count, what to run next."""
    lines: list[str] = []
    for o in outcomes:
        if o.state != "converged":
            lines += failure_lines(o)
    lines.append(count_line(outcomes))
    if next_steps:
        lines += next_lines(outcomes, stack, had_previous=had_previous)
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
            undo = event.title == "undo"
            lines = summary_lines(list(event.outcomes), event.stack, had_previous=event.had_previous,
                                  next_steps=not undo and not event.undo_follows)
            for line in lines:
                print(prefix + line, file=self.err, flush=True)
        elif kind == "problem":
            print(event.text, file=self.err, flush=True)
