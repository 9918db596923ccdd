"""The rollout's convergence rules: given a service, its current-spec tasks and the nodes, how far it
got and, once decided, how it ended. Pure functions on Engine API JSON (swarm/api.py); the polling
loop that feeds them is apply/wait.py.

Rules (docs/exit-codes.md repeats them for users):
- Only tasks of the service's *current* spec count: the engine's `_up-to-date` task filter
  (the swarm's own "task is dirty" test, the one the docker CLI's waiter uses).
- A healthcheck needs no extra work: the swarm keeps a task `starting` until it is healthy,
  so `running` already means healthy.
- Replicated: `replicas` slots each with a running task (a task that completed under
  `restart_policy.condition: none|on-failure` counts: the swarm will not restart it, so a
  one-shot service does not hang the wait). `replicas: 0`: no task running.
  Global: one running task per eligible node (swarm/nodes.py: `eligible`).
  Jobs: the current iteration's completions reached (swarm/modes.py: `tasks_wanted`).
- An update the swarm is running (`UpdateStatus` started during this deploy) must end
  `completed`; the swarm's own `monitor` window has then passed for every batch, so no extra
  verify sleep is added. `paused` / `rollback_paused` → paused, `rollback_completed` →
  rolled back. A status older than the deploy belongs to an earlier update and is ignored.
- "Keeps failing": a slot (or node) whose current-spec tasks failed (swarm/states.py's
  FAILED_STATES: `orphaned` is not a failure of the spec) `max_failures` times (default 3) since
  the deploy started, or whose newest task failed and was not replaced within `REPLACE_GRACE`
  seconds (restart_policy `condition: none` or `max_attempts` reached). While the swarm runs an
  update it decides itself (pause / rollback / continue).
- A task stuck `pending` shows the scheduler's reason; at the timeout that is the message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from stackctl.errors import (
    EXIT_DEPLOY_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    EXIT_TIMEOUT,
)
from stackctl.swarm.api import Service, Task, UpdateStatus
from stackctl.swarm.modes import is_global, is_job, service_mode, tasks_wanted
from stackctl.swarm.nodes import ObservedNode, eligible_nodes
from stackctl.swarm.services import current_iteration
from stackctl.swarm.spec import ServiceSpec
from stackctl.swarm.states import FAILED_STATES, is_running, task_state
from stackctl.swarm.times import epoch

CONVERGED = "converged"
FAILED = "failed"
PAUSED = "paused"
ROLLED_BACK = "rolled_back"
TIMEOUT = "timeout"
INTERRUPTED = "interrupted"
OUTCOME_STATES = (CONVERGED, FAILED, PAUSED, ROLLED_BACK, TIMEOUT, INTERRUPTED)

DEFAULT_MAX_FAILURES = 3
DEFAULT_MONITOR = 5.0  # the swarm's default UpdateConfig.Monitor, seconds
REPLACE_GRACE = 3.0  # seconds a failed task may stay without a successor before "not restarted"


@dataclass(frozen=True)
class ServiceOutcome:
    """How one service's rollout ended."""

    name: str
    state: str  # one of OUTCOME_STATES
    message: str
    task_error: str | None
    running: int
    desired: int
    task_id: str | None = None  # the task `task_error` is about (full ID)
    update_state: str | None = None  # the engine's UpdateStatus.State of this deploy's update
    # Filled by apply/logtail.py for a service that did not converge: the newest lines of the
    # failing task's log (None: not read), the task they are from, and why the log could not be read.
    log_tail: tuple[str, ...] | None = None
    log_task_id: str | None = None
    log_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.state == CONVERGED

    def to_json(self) -> dict[str, object]:
        # `name`/`converged` as in ps and services (docs/json-output.md); `state` says how it ended.
        return {"name": self.name, "converged": self.ok, "state": self.state, "message": self.message,
                "task_error": self.task_error, "running": self.running, "desired": self.desired,
                "task_id": self.task_id, "update_state": self.update_state,
                "log_tail": list(self.log_tail) if self.log_tail is not None else None,
                "log_task_id": self.log_task_id, "log_error": self.log_error}


@dataclass
class ServiceProgress:
    """What a poll saw for one service; `final` is set once its outcome is decided."""

    name: str
    mode: str = "replicated"
    running: int = 0
    desired: int = 0
    update_state: str | None = None
    task_error: str | None = None
    task_id: str | None = None  # the task `task_error` is about
    message: str = ""
    final: str | None = None  # an OUTCOME_STATES value once decided
    completed: int = 0  # tasks that ended successfully (jobs, one-shot replicas)

    @property
    def counts(self) -> str:
        return f"{self.running}/{self.desired}"

    def outcome(self) -> ServiceOutcome:
        return ServiceOutcome(self.name, self.final or TIMEOUT, self.message, self.task_error,
                              self.running, self.desired, task_id=self.task_id,
                              update_state=self.update_state)


# --- pure helpers ------------------------------------------------------------------------------


def _task_time(task: Task) -> float:
    return epoch((task.get("Status") or {}).get("Timestamp")) or epoch(task.get("CreatedAt")) or 0.0


def _created(task: Task) -> tuple[float, int]:
    return (epoch(task.get("CreatedAt")) or 0.0, (task.get("Version") or {}).get("Index", 0))


def _exit_code(task: Task) -> int | None:
    return ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ExitCode")


def _task_error(task: Task, exits_fail: bool = False) -> str | None:
    """The task's error; with `exits_fail`, a task that ended `complete` counts as one.

    Under `restart_policy.condition: any` a long-running task that exits is a failure to the
    rollout, even with code 0: that is how a never-passing healthcheck shows on the lab's
    engine (the unhealthy container is stopped, exits 0, the task ends `complete`).
    """
    status = task.get("Status") or {}
    err = status.get("Err")
    if err:  # the engine's "task: non-zero exit (1)": the line already names the task
        return str(err).removeprefix("task: ")
    state = status.get("State")
    if exits_fail and state == "complete":
        return f"task exited (code {_exit_code(task)}) before the rollout converged"
    message = status.get("Message")
    if state in ("pending", "rejected", "failed") and message not in (
        None, "", "pending task scheduling", "started"
    ):
        return message
    return None


def describe_task_error(task: Task, exits_fail: bool = False) -> str | None:
    """`task abc123def456 (slot 2, failed): non-zero exit (1)` style text, or None."""
    err = _task_error(task, exits_fail)
    if not err:
        return None
    where = f"slot {task['Slot']}" if task.get("Slot") else f"node {str(task.get('NodeID', ''))[:12]}"
    return f"task {str(task.get('ID', ''))[:12]} ({where}, {task_state(task)}): {err}"


def newest_task_problem(tasks: Sequence[Task], since: float | None = None,
                        exits_fail: bool = False) -> tuple[str, str] | None:
    """(error text, task ID) of the newest error among tasks (a pending task's scheduler reason included)."""
    best: tuple[float, str, str] | None = None
    for t in tasks:
        text = describe_task_error(t, exits_fail)
        if not text:
            continue
        when = _task_time(t)
        if since is not None and when < since and task_state(t) not in ("pending",):
            continue
        if best is None or when >= best[0]:
            best = (when, text, str(t.get("ID", "")))
    return (best[1], best[2]) if best else None


def current_update_status(service: Service, since: float | None) -> UpdateStatus | None:
    """The service's UpdateStatus if it belongs to this deploy (started at or after `since`)."""
    status = service.get("UpdateStatus")
    if not status or not status.get("State"):
        return None
    if since is not None:
        started = epoch(status.get("StartedAt"))
        if started is None or started < since:
            return None
    return UpdateStatus(**status)


@dataclass
class _Slot:
    tasks: list[Task] = field(default_factory=list)

    def newest(self) -> Task:
        return max(self.tasks, key=_created)


def _group(tasks: Sequence[Task], by_node: bool) -> dict[str | int | None, _Slot]:
    """The tasks of each slot (replicated) or node (global)."""
    slots: dict[str | int | None, _Slot] = {}
    for t in tasks:
        key = t.get("NodeID") if by_node else t.get("Slot")
        slots.setdefault(key, _Slot()).tasks.append(t)
    return slots


def is_failure(task: Task, restart_condition: str | None) -> bool:
    """Failed or rejected (swarm/states.py: FAILED_STATES); or, when the policy restarts any exit,
    ended at all. An `orphaned` task (its node was lost) is not a failure of the spec."""
    state = task_state(task)
    return state in FAILED_STATES or (restart_condition == "any" and state == "complete")


def _failing_reason(slot: _Slot, *, since: float | None, now: float, max_failures: int,
                    restart_condition: str) -> str | None:
    """Why this slot will not converge on its own, or None while it still may."""
    failures = [t for t in slot.tasks if is_failure(t, restart_condition)
                and (since is None or _task_time(t) >= since)]
    if max_failures and len(failures) >= max_failures:
        return f"{len(failures)} tasks failed since the deploy began"
    newest = slot.newest()
    if is_failure(newest, restart_condition) and newest.get("DesiredState") in ("shutdown", "remove"):
        if since is None or _task_time(newest) >= since:
            if restart_condition == "none" or now - _task_time(newest) >= REPLACE_GRACE:
                return "its newest task failed and restart_policy does not restart it"
    return None


def stability_window(service: Service) -> float:
    """Seconds a new task must have run before it counts when no swarm update monitors it.

    The swarm's updater watches each replaced task for `UpdateConfig.Monitor` (default 5 s)
    before it reports `completed`; created services and scale-ups get no such watch, so the
    same window is applied here, measured from the task's own `running` timestamp (a task
    running for longer counts at once: no sleep is added after convergence).
    """
    monitor = ((service.get("Spec") or {}).get("UpdateConfig") or {}).get("Monitor")
    return monitor / 1e9 if monitor else DEFAULT_MONITOR


def evaluate(service: Service, tasks: Sequence[Task], nodes: Sequence[ObservedNode] | None, *,
             since: float | None, now: float, max_failures: int = DEFAULT_MAX_FAILURES) -> ServiceProgress:
    """One service's progress from its current-spec tasks; `final` set when it is decided.

    `tasks` are the service's up-to-date tasks (the `_up-to-date` filter); `nodes` the node
    list, or None when unknown (global services then count the nodes their tasks are on).
    Times are epoch seconds on the engine's clock.
    """
    spec = service.get("Spec") or {}
    name = spec.get("Name") or service.get("ID", "?")
    mode = service_mode(spec)
    prog = ServiceProgress(name=name, mode=mode)
    down = {n.id for n in nodes or [] if n.down}
    live = [t for t in tasks if t.get("NodeID") not in down or not t.get("NodeID")]
    restart = (spec.get("TaskTemplate") or {}).get("RestartPolicy") or {}
    condition = restart.get("Condition") or "any"

    status = current_update_status(service, since)
    prog.update_state = status.get("State") if status else None
    exits_fail = condition == "any" and not is_job(mode)
    problem = newest_task_problem(live, since, exits_fail)
    if problem:
        prog.task_error, prog.task_id = problem
    if prog.task_error and exits_fail and "exited (code" in prog.task_error and _has_healthcheck(spec):
        prog.task_error += " (its healthcheck may never pass)"
    # Tasks the swarm's updater did not monitor must have run for the window themselves. Neither
    # can the updater's `completed` be trusted once a task of this deploy failed or exited: with
    # `failure_action: continue` it completes anyway, and a container that exits 0 when the swarm
    # stops it as unhealthy is reported `running` for a moment (the engine's health wait returns
    # on any exit 0), so the replacements are watched for the window too.
    trusted = prog.update_state == "completed" and not prog.task_error
    window = 0.0 if trusted else stability_window(service)

    def stable(task: Task) -> bool:
        return now - _task_time(task) >= window

    # --- counts -------------------------------------------------------------------------
    slots = _group(live, is_global(mode))
    # a global service's nodes: the eligible ones, or (no node list) those its tasks are on
    targets = set([n.id for n in eligible_nodes(spec, nodes)] if nodes is not None else
                  [str(k) for k in slots if k]) if is_global(mode) else set()
    prog.desired = tasks_wanted(spec, len(targets)) or 0
    unstable = 0
    if is_job(mode):
        done = [t for t in current_iteration(service, live) if task_state(t) == "complete"]
        prog.completed = (len({t.get("NodeID") for t in done} & targets) if is_global(mode)
                          else len(done))
        prog.running = sum(1 for t in live if task_state(t) == "running")
        counts_ok = prog.completed >= prog.desired
    elif is_global(mode):
        running = [t for t in live if is_running(t) and t.get("NodeID") in targets]
        prog.running = len({t.get("NodeID") for t in running})
        stable_nodes = {t.get("NodeID") for t in running if stable(t)}
        unstable = prog.running - len(stable_nodes)
        counts_ok = len(stable_nodes) == prog.desired
    else:
        running = [t for t in live if is_running(t)]
        running_slots = {t.get("Slot") for t in running}
        stable_slots = {t.get("Slot") for t in running if stable(t)}
        done_slots: set[str | int | None] = set()
        if condition in ("none", "on-failure"):
            for key, slot in slots.items():
                if key not in running_slots and task_state(slot.newest()) == "complete":
                    done_slots.add(key)
        prog.running = len(running_slots)
        prog.completed = len(done_slots)
        unstable = prog.running - len(stable_slots)
        still_running = sum(1 for t in live if task_state(t) == "running")
        counts_ok = (len(stable_slots) + prog.completed == prog.desired) and still_running <= prog.desired

    # --- decisions ----------------------------------------------------------------------
    state = prog.update_state
    message = (status or {}).get("Message") or ""
    if state == "paused":
        prog.final, prog.message = PAUSED, f"update paused: {message}".rstrip(": ")
        return prog
    if state == "rollback_paused":
        prog.final, prog.message = PAUSED, f"rollback paused: {message}".rstrip(": ")
        return prog
    if state == "rollback_completed":
        prog.final, prog.message = ROLLED_BACK, "the swarm rolled the update back (failure_action: rollback)"
        return prog
    swarm_busy = state in ("updating", "rollback_started")
    if not swarm_busy:
        for slot in slots.values():
            reason = _failing_reason(slot, since=since, now=now, max_failures=max_failures,
                                     restart_condition=condition)
            if reason:
                prog.final = FAILED
                prog.message = f"tasks keep failing ({reason})"
                return prog
    if counts_ok and not swarm_busy:
        prog.final = CONVERGED
        prog.message = _converged_message(prog)
        return prog
    prog.message = _waiting_message(prog, state, message)
    if unstable and not swarm_busy:
        # "new" only for tasks this deploy started: an old task whose status the agent re-reported
        # (its timestamp moved) is watched the same way, but nothing about it changed.
        new = sum(1 for t in live if is_running(t) and not stable(t) and since is not None
                  and _created(t)[0] >= since)
        if new:
            prog.message += f" ({new} new, watching {'it' if new == 1 else 'them'} for {window:g}s)"
        else:
            prog.message += f" (watching {unstable} task{'s' if unstable != 1 else ''} for {window:g}s)"
    return prog


def _has_healthcheck(spec: ServiceSpec) -> bool:
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    test = (container.get("Healthcheck") or {}).get("Test") or []
    return bool(test) and test[0] != "NONE"


def _converged_message(prog: ServiceProgress) -> str:
    if is_job(prog.mode):
        return f"job complete ({prog.completed}/{prog.desired})"
    if prog.desired == 0:
        return "no eligible node" if is_global(prog.mode) else "scaled to 0"
    extra = f", {prog.completed} completed" if prog.completed else ""
    return f"{prog.running}/{prog.desired} running{extra}"


def _waiting_message(prog: ServiceProgress, state: str | None, message: str) -> str:
    if state == "rollback_started":
        return f"rolling back: {message}".rstrip(": ")
    if is_job(prog.mode):
        return f"{prog.completed}/{prog.desired} completed"
    what = f"{prog.running}/{prog.desired} running"
    if state == "updating":
        return f"updating, {what}"
    return what


# --- the verdict ------------------------------------------------------------------------------


def exit_code_for(outcomes: Sequence[ServiceOutcome]) -> int:
    """One exit code for a rollout: interrupted > failed/paused > rolled back > timed out > ok."""
    states = {o.state for o in outcomes}
    if INTERRUPTED in states:
        return EXIT_INTERRUPTED
    if states & {FAILED, PAUSED}:
        return EXIT_DEPLOY_FAILED
    if ROLLED_BACK in states:
        return EXIT_ROLLED_BACK
    if TIMEOUT in states:
        return EXIT_TIMEOUT
    return EXIT_OK

