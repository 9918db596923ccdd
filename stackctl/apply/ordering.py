"""Deploy ordering: the gate between two tiers of `depends_on` (docs/ordering.md).

Before a tier of services is written, `DependencyGate.before` waits until every dependency that the
tier's services name, and that this deploy wrote, holds the edge's condition:

- `service_started`: the dependency's tasks run (the rollout's convergence rule, apply/convergence.py);
- `service_healthy`: its tasks are healthy. Swarm reports a task whose container has a healthcheck
  as `starting` until the first check passes and `running` only then, so a running task of a
  service with a healthcheck (validation requires one) is a healthy one;
- `service_completed_successfully`: its job's tasks completed (a job converges when they did).

A dependency this deploy did not write is taken as it is (unchanged services do not block). One that
fails, is rolled back by the swarm or times out stops the deploy before its dependents are written
(DependencyError, exit 3 or 5, naming it). `restart: true`: a dependent that is itself unchanged is
force-updated (its tasks restart) once a dependency that this deploy updated has converged.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from stackctl.apply.convergence import CONVERGED, INTERRUPTED, TIMEOUT, ServiceOutcome
from stackctl.apply.rollout import RolloutCallback, watch
from stackctl.errors import EXIT_DEPLOY_FAILED, EXIT_INTERRUPTED, EXIT_TIMEOUT, ApplyError, Diagnostic
from stackctl.model.depends import COMPLETED, HEALTHY, Edge, Ordering

if TYPE_CHECKING:
    from stackctl.apply.executor import ApplyResult
    from stackctl.engine import Engine

_WHAT = {HEALTHY: "become healthy", COMPLETED: "complete successfully"}


class DependencyError(ApplyError):
    """A dependency did not reach its condition: its dependents were not written."""


class DependencyGate:
    """The executor's gate (apply.executor.Gate): waits on the engine, reports through `on_event`."""

    def __init__(self, engine: Engine, ordering: Ordering, *, timeout: float, on_event: RolloutCallback,
                 poll: float = 0.5) -> None:
        self.engine = engine
        self.ordering = ordering
        self.deadline = time.monotonic() + timeout if timeout and timeout > 0 else None
        self.timeout = timeout
        self.on_event = on_event
        self.poll = poll
        self.ready: set[str] = set()  # dependencies already seen holding their conditions

    def before(self, tier: Sequence[str], writing: Sequence[str], result: ApplyResult) -> list[str]:
        written = set(result.service_names)
        in_tier = set(tier)
        edges = [e for e in self.ordering.edges if e.service in in_tier and e.dependency in written
                 and (e.service in writing or e.restart)]
        waiting = sorted({e.dependency for e in edges} - self.ready)
        if waiting:
            remaining = 0.0 if self.deadline is None else max(0.1, self.deadline - time.monotonic())
            outcomes = watch(self.engine, waiting, title="dependencies", timeout=remaining,
                             on_event=self.on_event, poll=self.poll, since=result.started_at or None)
            bad = [o for o in outcomes if o.state != CONVERGED]
            if bad:
                from stackctl.apply.logtail import with_log_tails

                bad = with_log_tails(self.engine, bad, since=result.started_at or None)
                raise _failure(bad, edges, self.timeout)
            self.ready.update(waiting)
        updated = {o.name for o in result.updated if o.kind == "service"}
        return sorted({e.service for e in edges if e.restart and e.dependency in updated
                       and e.service not in writing})


def _failure(bad: list[ServiceOutcome], edges: list[Edge], timeout: float) -> DependencyError:
    diagnostics = []
    for o in bad:
        waiting = sorted({e.service for e in edges if e.dependency == o.name})
        conditions = {e.condition for e in edges if e.dependency == o.name}
        what = next((_WHAT[c] for c in (COMPLETED, HEALTHY) if c in conditions), "start")
        text = f"dependency {o.name} did not {what}: {o.state.replace('_', ' ')}: {o.message}"
        if o.task_error:
            text += f"; {o.task_error}"
        if o.log_tail:  # the line a crash usually leaves last; `stackctl logs` has the rest
            text += f"; its log ends: {o.log_tail[-1]}"
        diagnostics.append(Diagnostic(f"{text} ({', '.join(waiting)} not written)"))
    states = {o.state for o in bad}
    names = ", ".join(o.name for o in bad)
    err = DependencyError(f"deploy stopped: dependency {names} did not reach its condition; "
                          "the services that depend on it were not written", diagnostics)
    err.exit_code = (EXIT_INTERRUPTED if INTERRUPTED in states else
                     EXIT_TIMEOUT if states == {TIMEOUT} else EXIT_DEPLOY_FAILED)
    return err
