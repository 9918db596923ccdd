"""The waiting phase of a deploy: watch, decide, and (with --rollback-on-failure) undo.

`follow_rollout(engine, result, ...)` is what the deploy service layer (stackctl/deploy.py) calls
after `apply_plan`: it waits for every service the deploy created or updated and returns the exit
code (docs/exit-codes.md). It prints nothing: everything it has to say goes to `on_event` as a
`RolloutEvent`, which `render/progress.py` turns into text. Ctrl-C and SIGTERM while waiting: with
`rollback_on_failure` the deploy is undone (and waited for) before exiting 130; without it the
swarm is left to finish on its own and the event says what was already changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackctl.apply.convergence import (
    CONVERGED,
    INTERRUPTED,
    ROLLED_BACK,
    ServiceOutcome,
    ServiceProgress,
    exit_code_for,
)
from stackctl.apply.wait import interrupt_on_sigterm, wait_for_services
from stackctl.errors import (
    EXIT_DEPLOY_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    Diagnostic,
    EngineError,
)

if TYPE_CHECKING:
    from stackctl.apply.executor import ApplyEvent, ApplyResult
    from stackctl.engine import Engine

WATCH = "watch"  # a wait begins (title: rollout | undo | dependencies)
PROGRESS = "progress"  # one poll's view of every watched service
END = "end"  # the wait ended
CONVERGED_ALL = "converged"  # every service converged (text: the count line)
VERDICT = "verdict"  # some did not: outcomes hold every service's ending
NOTE = "note"  # a line of ordinary output (undo steps)
PROBLEM = "problem"  # a line for the error stream


@dataclass(frozen=True)
class RolloutEvent:
    """Something the rollout has to say; only render/ turns it into text."""

    kind: str
    title: str = "rollout"
    progress: tuple[ServiceProgress, ...] = ()
    outcomes: tuple[ServiceOutcome, ...] = ()
    text: str = ""
    # VERDICT only: the stack (for the commands to run next), whether an undo follows at once
    # (--rollback-on-failure), and whether the deploy changed services that existed before it
    # (only then has `stackctl rollback` something to go back to).
    stack: str = ""
    undo_follows: bool = False
    had_previous: bool = False


RolloutCallback = Callable[[RolloutEvent], None]


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


def _ignore(event: RolloutEvent) -> None:
    return None


def watch(engine: Engine, names: Sequence[str], *, title: str, timeout: float, on_event: RolloutCallback,
          poll: float = 0.5, since: float | None = None) -> list[ServiceOutcome]:
    """wait_for_services with its progress sent to `on_event` between a WATCH and an END event."""
    on_event(RolloutEvent(WATCH, title))
    try:
        with interrupt_on_sigterm():
            return wait_for_services(engine, list(names), timeout=timeout, poll=poll, since=since,
                                     on_progress=lambda p: on_event(RolloutEvent(PROGRESS, title, tuple(p))))
    finally:
        on_event(RolloutEvent(END, title))


def restored_names(result: ApplyResult) -> list[str]:
    """Services undo puts back (updated ones and re-created removed ones): the ones to wait for."""
    return [o.name for o in list(result.updated) + list(result.removed) if o.kind == "service"]


def what_was_done(result: ApplyResult) -> str:
    parts = []
    done = (("created", result.created), ("updated", result.updated), ("removed", result.removed))
    for label, items in done:
        names = [f"{o.kind} {o.name}" for o in items]
        if names:
            parts.append(f"{label} {', '.join(names)}")
    return "; ".join(parts) or "nothing was changed"


def wait_lost(err: EngineError, stack: str, done: str, what: str = "services") -> EngineError:
    """The wait could not go on (the engine went away, the swarm would not answer): the same error,
    told with what the deploy had written and what is not known, so a user knows where things stand."""
    lines = [f"done: {done}",
             f"not known: whether the {what} converged (the swarm carries on with them without stackctl)",
             f"next: once a manager answers, `stackctl ps {stack}` shows the tasks; rerunning the same "
             "deploy converges"]
    return EngineError(err.message, [Diagnostic(line) for line in lines], err.exit_code, err.status,
                       err.reason, err.failure)


def follow_rollout(
    engine: Engine,
    result: ApplyResult,
    *,
    timeout: float,
    rollback_on_failure: bool = False,
    on_event: RolloutCallback | None = None,
    poll: float = 0.5,
    order: Sequence[str] | None = None,
) -> RolloutReport:
    """Wait for `result.service_names` and decide the deploy's exit code; undo on failure if asked.

    `order` (services, dependencies first) makes the undo go in reverse dependency order.
    """
    emit = on_event or _ignore
    names = list(result.service_names)
    if not names:
        return RolloutReport(EXIT_OK)
    try:
        outcomes = watch(engine, names, title="rollout", timeout=timeout, on_event=emit, poll=poll,
                         since=result.started_at or None)
    except EngineError as err:
        raise wait_lost(err, result.stack, what_was_done(result)) from None
    report = RolloutReport(exit_code_for(outcomes), outcomes)
    if report.ok:
        emit(RolloutEvent(CONVERGED_ALL, outcomes=tuple(outcomes),
                          text=f"{len(outcomes)} service{'s' if len(outcomes) != 1 else ''} converged"))
        return report
    from stackctl.apply.logtail import with_log_tails

    report.outcomes = outcomes = with_log_tails(engine, outcomes, since=result.started_at or None)
    had_previous = any(o.kind == "service" for o in [*result.updated, *result.removed])
    emit(RolloutEvent(VERDICT, outcomes=tuple(outcomes), stack=result.stack,
                      undo_follows=rollback_on_failure, had_previous=had_previous))
    interrupted = any(o.state == INTERRUPTED for o in outcomes)
    if not rollback_on_failure:
        if interrupted:
            emit(RolloutEvent(PROBLEM, text=f"interrupted: the deploy already {what_was_done(result)}; the "
                              f"swarm continues the rollout on its own (follow it with `stackctl ps "
                              f"{result.stack}`)"))
        return report
    undo_and_wait(engine, result, report, timeout=timeout, on_event=emit, poll=poll, order=order)
    if interrupted:
        report.exit_code = EXIT_INTERRUPTED
    return report


def undo_and_wait(engine: Engine, result: ApplyResult, report: RolloutReport, *, timeout: float,
                  on_event: RolloutCallback, poll: float = 0.5, order: Sequence[str] | None = None) -> None:
    """--rollback-on-failure: put the stack back (reverse dependency order) and wait for it."""
    from stackctl.apply.executor import undo

    def note(event: ApplyEvent) -> None:
        on_event(RolloutEvent(NOTE, "undo", text=f"undo: {event.text()}"))

    on_event(RolloutEvent(PROBLEM, text=f"--rollback-on-failure: undoing the deploy of stack {result.stack} "
                          f"({what_was_done(result)})"))
    since = time.time()
    try:
        with interrupt_on_sigterm():
            problems = undo(engine, result, on_event=note, order=order)
    except KeyboardInterrupt:
        report.undo_problems = ["undo interrupted: the stack may be partly restored"]
        on_event(RolloutEvent(PROBLEM, text=report.undo_problems[0]))
        report.exit_code = EXIT_INTERRUPTED
        return
    report.undo_problems = list(problems)
    for p in problems:
        on_event(RolloutEvent(PROBLEM, text=f"undo: {p}"))
    restored = restored_names(result)
    if restored:
        try:
            report.undo_outcomes = watch(engine, restored, title="undo", timeout=timeout, on_event=on_event,
                                         poll=poll, since=since)
        except EngineError as err:
            raise wait_lost(err, result.stack, f"{what_was_done(result)}; then undone",
                            "restored services") from None
    undo_ok = not problems and all(o.state in (CONVERGED, ROLLED_BACK) for o in report.undo_outcomes)
    report.undone = undo_ok
    if undo_ok:
        on_event(RolloutEvent(PROBLEM, text=f"stack {result.stack} restored to its state before the deploy"))
        report.exit_code = EXIT_ROLLED_BACK
    else:
        unrestored = [o for o in report.undo_outcomes if o.state not in (CONVERGED, ROLLED_BACK)]
        if unrestored:
            on_event(RolloutEvent(VERDICT, "undo", outcomes=tuple(unrestored), stack=result.stack))
        on_event(RolloutEvent(PROBLEM, text=f"stack {result.stack} could not be fully restored"))
        report.exit_code = EXIT_DEPLOY_FAILED
