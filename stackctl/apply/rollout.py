"""The waiting phase of a deploy: watch, report, and (with --rollback-on-failure) undo.

`follow_rollout(engine, result, ...)` is what `deploy` and `rollback` call after
`apply_plan`: it waits for every service the deploy created or updated, prints the verdict,
and returns the exit code (docs/exit-codes.md). Ctrl-C and SIGTERM while waiting: with
`rollback_on_failure` the deploy is undone (and waited for) before exiting 130; without it
the swarm is left to finish on its own and the message says what was already changed.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from stackctl.apply.wait import (
    CONVERGED,
    INTERRUPTED,
    ROLLED_BACK,
    ServiceOutcome,
    exit_code_for,
    interrupt_on_sigterm,
    wait_for_services,
)
from stackctl.errors import EXIT_DEPLOY_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_ROLLED_BACK

if TYPE_CHECKING:
    from stackctl.engine import Engine


@dataclass
class RolloutReport:
    exit_code: int
    outcomes: list[ServiceOutcome] = field(default_factory=list)
    undone: bool = False  # --rollback-on-failure restored the stack
    undo_problems: list[str] = field(default_factory=list)
    undo_outcomes: list[ServiceOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "exit_code": self.exit_code,
            "services": [o.to_json() for o in self.outcomes],
            "undone": self.undone,
            "undo_problems": list(self.undo_problems),
            "undo_services": [o.to_json() for o in self.undo_outcomes],
        }


def _restored_names(result: Any) -> list[str]:
    """Services undo puts back (updated ones and re-created removed ones): the ones to wait for."""
    return [o.name for o in list(result.updated) + list(result.removed) if o.kind == "service"]


def _what_was_done(result: Any) -> str:
    parts = []
    done = (("created", result.created), ("updated", result.updated), ("removed", result.removed))
    for label, items in done:
        names = [f"{o.kind} {o.name}" for o in items]
        if names:
            parts.append(f"{label} {', '.join(names)}")
    return "; ".join(parts) or "nothing was changed"


def follow_rollout(
    engine: Engine,
    result: Any,
    *,
    timeout: float,
    rollback_on_failure: bool = False,
    quiet: bool = False,
    stream: TextIO | None = None,
    err: TextIO | None = None,
    poll: float = 0.5,
    live: bool | None = None,
) -> RolloutReport:
    """Wait for `result.service_names` and decide the deploy's exit code; undo on failure if asked.

    `result` is the deploy helper's ApplyResult (`created`, `updated`, `removed`,
    `service_names`, `started_at`); `undo(engine, result)` from stackctl.apply restores it.
    """
    from stackctl.render.progress import RolloutDisplay, summary_lines

    out = stream or sys.stdout
    err = err or sys.stderr
    names = list(result.service_names)
    if not names:
        return RolloutReport(EXIT_OK)
    with RolloutDisplay(out, quiet=quiet, live=live) as display, interrupt_on_sigterm():
        outcomes = wait_for_services(engine, names, timeout=timeout, on_progress=display, poll=poll,
                                     since=getattr(result, "started_at", None) or None)
    report = RolloutReport(exit_code_for(outcomes), outcomes)
    if report.ok:
        if not quiet:
            print(f"{len(outcomes)} service{'s' if len(outcomes) != 1 else ''} converged", file=out)
        return report
    for line in summary_lines(outcomes):
        print(line, file=err)
    interrupted = any(o.state == INTERRUPTED for o in outcomes)
    if not rollback_on_failure:
        if interrupted:
            print(f"interrupted: the deploy already {_what_was_done(result)}; the swarm continues the "
                  f"rollout on its own (follow it with `stackctl ps {result.stack}`)", file=err)
        return report
    _undo_and_wait(engine, result, report, timeout=timeout, quiet=quiet, out=out, err=err, poll=poll,
                   live=live)
    if interrupted:
        report.exit_code = EXIT_INTERRUPTED
    return report


def _undo_and_wait(engine: Engine, result: Any, report: RolloutReport, *, timeout: float, quiet: bool,
                   out: TextIO, err: TextIO, poll: float, live: bool | None) -> None:
    from stackctl.apply import undo
    from stackctl.render.progress import RolloutDisplay, summary_lines

    print(f"--rollback-on-failure: undoing the deploy of stack {result.stack} ({_what_was_done(result)})",
          file=err)
    since = time.time()
    try:
        with interrupt_on_sigterm():
            problems = undo(engine, result, on_event=None if quiet else
                            (lambda ev: print(f"undo: {ev.text()}", file=out)))
    except KeyboardInterrupt:
        report.undo_problems = ["undo interrupted: the stack may be partly restored"]
        print(report.undo_problems[0], file=err)
        report.exit_code = EXIT_INTERRUPTED
        return
    report.undo_problems = list(problems)
    for p in problems:
        print(f"undo: {p}", file=err)
    restored = _restored_names(result)
    if restored:
        with RolloutDisplay(out, quiet=quiet, live=live, title="undo") as display, interrupt_on_sigterm():
            report.undo_outcomes = wait_for_services(engine, restored, timeout=timeout, on_progress=display,
                                                     poll=poll, since=since)
    undo_ok = not problems and all(o.state in (CONVERGED, ROLLED_BACK) for o in report.undo_outcomes)
    report.undone = undo_ok
    if undo_ok:
        print(f"stack {result.stack} restored to its state before the deploy", file=err)
        report.exit_code = EXIT_ROLLED_BACK
    else:
        unrestored = [o for o in report.undo_outcomes if o.state not in (CONVERGED, ROLLED_BACK)]
        for line in summary_lines(unrestored):
            print(f"undo: {line}", file=err)
        print(f"stack {result.stack} could not be fully restored", file=err)
        report.exit_code = EXIT_DEPLOY_FAILED
