"""Wait for a rollout to finish and tell the truth about how it ended.

The swarm executes `update_config` / `rollback_config` itself; this module only watches
(`UpdateStatus`, tasks, nodes) every `poll` seconds and decides, per service, whether it
converged, failed, paused, was rolled back or ran out of time. All services are watched at
once: one `services` call and one `tasks` call per poll, nodes every few seconds.

Rules (docs/exit-codes.md repeats them for users):
- Only tasks of the service's *current* spec count: the engine's `_up-to-date` task filter
  (the swarm's own "task is dirty" test, the one the docker CLI's waiter uses).
- A healthcheck needs no extra work: the swarm keeps a task `starting` until it is healthy,
  so `running` already means healthy.
- Replicated: `replicas` slots each with a running task (a task that completed under
  `restart_policy.condition: none|on-failure` counts: the swarm will not restart it, so a
  one-shot service does not hang the wait). `replicas: 0`: no task running.
  Global: one running task per eligible node (ready, active, placement constraints met).
  Jobs: the current iteration's completions reached.
- An update the swarm is running (`UpdateStatus` started during this deploy) must end
  `completed`; the swarm's own `monitor` window has then passed for every batch, so no extra
  verify sleep is added. `paused` / `rollback_paused` → paused, `rollback_completed` →
  rolled back. A status older than the deploy belongs to an earlier update and is ignored.
- "Keeps failing": a slot (or node) whose current-spec tasks failed `max_failures` times
  (default 3) since the deploy started, or whose newest task failed and was not replaced
  within `REPLACE_GRACE` seconds (restart_policy `condition: none` or `max_attempts` reached).
  While the swarm runs an update it decides itself (pause / rollback / continue).
- A task stuck `pending` shows the scheduler's reason; at the timeout that is the message.
- A manager that answers 5xx (a swarm electing a new leader) is asked again for up to
  `UNAVAILABLE_GRACE` seconds, never past the timeout; an engine that is gone ends the wait at
  once (EngineError): stackctl never switches to another manager by itself.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from stackctl.convert.normalize_spec import service_mode
from stackctl.errors import (
    EXIT_DEPLOY_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    EXIT_TIMEOUT,
    EngineError,
)
from stackctl.inspect_tasks import parse_time as parse_engine_time
from stackctl.observe import node_from_inspect
from stackctl.placement import node_matches

if TYPE_CHECKING:
    from stackctl.engine import Engine

CONVERGED = "converged"
FAILED = "failed"
PAUSED = "paused"
ROLLED_BACK = "rolled_back"
TIMEOUT = "timeout"
INTERRUPTED = "interrupted"
OUTCOME_STATES = (CONVERGED, FAILED, PAUSED, ROLLED_BACK, TIMEOUT, INTERRUPTED)

FAILED_TASK_STATES = frozenset({"failed", "rejected"})
ENDED_TASK_STATES = frozenset({"complete", "shutdown", "failed", "rejected", "remove", "orphaned"})
DEFAULT_MAX_FAILURES = 3
DEFAULT_MONITOR = 5.0  # the swarm's default UpdateConfig.Monitor, seconds
REPLACE_GRACE = 3.0  # seconds a failed task may stay without a successor before "not restarted"
NODE_REFRESH = 5.0  # seconds between node list calls
SINCE_MARGIN = 2.0  # default `since`: this long before the wait began
# Seconds the wait keeps asking a manager that answers 5xx (a swarm without a leader until it elects
# one: a few seconds after the leader's dockerd died) before it gives up; never past --timeout.
UNAVAILABLE_GRACE = 60.0

_TASK_IN_MESSAGE = re.compile(r"\btask ([0-9a-z]{25})\b")
_ID_RE = re.compile(r"^[0-9a-z]{25}$")


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

    def to_json(self) -> dict[str, Any]:
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


def parse_time(value: str | None) -> float | None:
    """Engine timestamp as epoch seconds; None for Go's zero time."""
    moment = parse_engine_time(value)
    return moment.timestamp() if moment else None


def _task_time(task: Mapping[str, Any]) -> float:
    return parse_time((task.get("Status") or {}).get("Timestamp")) or parse_time(task.get("CreatedAt")) or 0.0


def _created(task: Mapping[str, Any]) -> tuple[float, int]:
    return (parse_time(task.get("CreatedAt")) or 0.0, (task.get("Version") or {}).get("Index", 0))


def _state(task: Mapping[str, Any]) -> str:
    return str((task.get("Status") or {}).get("State", ""))


def _exit_code(task: Mapping[str, Any]) -> Any:
    return ((task.get("Status") or {}).get("ContainerStatus") or {}).get("ExitCode")


def _task_error(task: Mapping[str, Any], exits_fail: bool = False) -> str | None:
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
    if state in ("pending", "rejected", "failed") and status.get("Message") not in (
        None, "", "pending task scheduling", "started"
    ):
        return status.get("Message")
    return None


def describe_task_error(task: Mapping[str, Any], exits_fail: bool = False) -> str | None:
    """`task abc123def456 (slot 2, failed): non-zero exit (1)` style text, or None."""
    err = _task_error(task, exits_fail)
    if not err:
        return None
    where = f"slot {task['Slot']}" if task.get("Slot") else f"node {str(task.get('NodeID', ''))[:12]}"
    return f"task {str(task.get('ID', ''))[:12]} ({where}, {_state(task)}): {err}"


def newest_task_problem(tasks: Sequence[Mapping[str, Any]], since: float | None = None,
                        exits_fail: bool = False) -> tuple[str, str] | None:
    """(error text, task ID) of the newest error among tasks (a pending task's scheduler reason included)."""
    best: tuple[float, str, str] | None = None
    for t in tasks:
        text = describe_task_error(t, exits_fail)
        if not text:
            continue
        when = _task_time(t)
        if since is not None and when < since and _state(t) not in ("pending",):
            continue
        if best is None or when >= best[0]:
            best = (when, text, str(t.get("ID", "")))
    return (best[1], best[2]) if best else None


def newest_task_error(tasks: Sequence[Mapping[str, Any]], since: float | None = None,
                      exits_fail: bool = False) -> str | None:
    """The newest error among tasks (a pending task's scheduler reason included)."""
    found = newest_task_problem(tasks, since, exits_fail)
    return found[0] if found else None


def eligible_nodes(service: Mapping[str, Any], nodes: Sequence[Mapping[str, Any]]) -> list[str]:
    """IDs of the nodes a global service should run on: ready, active, constraints met."""
    placement = ((service.get("Spec") or {}).get("TaskTemplate") or {}).get("Placement") or {}
    constraints = placement.get("Constraints") or []
    out = []
    for n in nodes:
        if (n.get("Status") or {}).get("State") != "ready":
            continue
        if (n.get("Spec") or {}).get("Availability", "active") != "active":
            continue
        if node_matches(node_from_inspect(dict(n)), constraints):
            out.append(n["ID"])
    return out


def down_nodes(nodes: Sequence[Mapping[str, Any]]) -> set[str]:
    return {n["ID"] for n in nodes if (n.get("Status") or {}).get("State") == "down"}


def down_node_names(nodes: Sequence[Mapping[str, Any]]) -> list[str]:
    """Hostnames of the nodes the manager sees as down, sorted."""
    return sorted(((n.get("Description") or {}).get("Hostname") or n.get("ID", "?"))
                  for n in nodes if (n.get("Status") or {}).get("State") == "down")


def current_update_status(service: Mapping[str, Any], since: float | None) -> dict[str, Any] | None:
    """The service's UpdateStatus if it belongs to this deploy (started at or after `since`)."""
    status = service.get("UpdateStatus")
    if not status or not status.get("State"):
        return None
    if since is not None:
        started = parse_time(status.get("StartedAt"))
        if started is None or started < since:
            return None
    return dict(status)


@dataclass
class _Slot:
    tasks: list[Mapping[str, Any]] = field(default_factory=list)

    def newest(self) -> Mapping[str, Any]:
        return max(self.tasks, key=_created)


def _group(tasks: Sequence[Mapping[str, Any]], by_node: bool) -> dict[Any, _Slot]:
    slots: dict[Any, _Slot] = {}
    for t in tasks:
        key = t.get("NodeID") if by_node else t.get("Slot")
        slots.setdefault(key, _Slot()).tasks.append(t)
    return slots


def _is_failure(task: Mapping[str, Any], restart_condition: str | None) -> bool:
    """Failed or rejected; or, when the policy restarts any exit, ended at all."""
    state = _state(task)
    return state in FAILED_TASK_STATES or (restart_condition == "any" and state == "complete")


def _failing_reason(slot: _Slot, *, since: float | None, now: float, max_failures: int,
                    restart_condition: str) -> str | None:
    """Why this slot will not converge on its own, or None while it still may."""
    failures = [t for t in slot.tasks if _is_failure(t, restart_condition)
                and (since is None or _task_time(t) >= since)]
    if max_failures and len(failures) >= max_failures:
        return f"{len(failures)} tasks failed since the deploy began"
    newest = slot.newest()
    if _is_failure(newest, restart_condition) and newest.get("DesiredState") in ("shutdown", "remove"):
        if since is None or _task_time(newest) >= since:
            if restart_condition == "none" or now - _task_time(newest) >= REPLACE_GRACE:
                return "its newest task failed and restart_policy does not restart it"
    return None


def stability_window(service: Mapping[str, Any]) -> float:
    """Seconds a new task must have run before it counts when no swarm update monitors it.

    The swarm's updater watches each replaced task for `UpdateConfig.Monitor` (default 5 s)
    before it reports `completed`; created services and scale-ups get no such watch, so the
    same window is applied here, measured from the task's own `running` timestamp (a task
    running for longer counts at once: no sleep is added after convergence).
    """
    monitor = ((service.get("Spec") or {}).get("UpdateConfig") or {}).get("Monitor")
    return monitor / 1e9 if monitor else DEFAULT_MONITOR


def _running(task: Mapping[str, Any]) -> bool:
    return _state(task) == "running" and task.get("DesiredState") == "running"


def evaluate(service: Mapping[str, Any], tasks: Sequence[Mapping[str, Any]],
             nodes: Sequence[Mapping[str, Any]] | None, *, since: float | None, now: float,
             max_failures: int = DEFAULT_MAX_FAILURES) -> ServiceProgress:
    """One service's progress from its current-spec tasks; `final` set when it is decided.

    `tasks` are the service's up-to-date tasks (the `_up-to-date` filter); `nodes` the node
    list, or None when unknown (global services then count the nodes their tasks are on).
    Times are epoch seconds on the engine's clock.
    """
    spec = service.get("Spec") or {}
    name = spec.get("Name") or service.get("ID", "?")
    mode = service_mode(spec)
    prog = ServiceProgress(name=name, mode=mode)
    down = down_nodes(nodes or [])
    live = [t for t in tasks if t.get("NodeID") not in down or not t.get("NodeID")]
    restart = ((spec.get("TaskTemplate") or {}).get("RestartPolicy") or {})
    condition = restart.get("Condition") or "any"

    status = current_update_status(service, since)
    prog.update_state = status.get("State") if status else None
    is_job = mode in ("replicated-job", "global-job")
    exits_fail = condition == "any" and not is_job
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

    def stable(task: Mapping[str, Any]) -> bool:
        return now - _task_time(task) >= window

    # --- counts -------------------------------------------------------------------------
    by_node = mode in ("global", "global-job")
    slots = _group(live, by_node)
    unstable = 0
    if is_job:
        iteration = ((service.get("JobStatus") or {}).get("JobIteration") or {}).get("Index")
        done = [t for t in live if _state(t) == "complete"
                and (iteration is None or (t.get("JobIteration") or {}).get("Index") == iteration)]
        if mode == "replicated-job":
            job_mode = (spec.get("Mode") or {}).get("ReplicatedJob") or {}
            prog.desired = int(job_mode.get("TotalCompletions") or job_mode.get("MaxConcurrent") or 1)
            prog.completed = len(done)
        else:
            targets: list[Any] | set[Any] = (eligible_nodes(service, nodes) if nodes is not None
                                             else list(slots))
            prog.desired = len(targets)
            prog.completed = len({t.get("NodeID") for t in done} & set(targets))
        prog.running = sum(1 for t in live if _state(t) == "running")
        counts_ok = prog.completed >= prog.desired
    elif mode == "global":
        targets = set(eligible_nodes(service, nodes) if nodes is not None else list(slots))
        prog.desired = len(targets)
        running = [t for t in live if _running(t) and t.get("NodeID") in targets]
        prog.running = len({t.get("NodeID") for t in running})
        stable_nodes = {t.get("NodeID") for t in running if stable(t)}
        unstable = prog.running - len(stable_nodes)
        counts_ok = len(stable_nodes) == prog.desired
    else:
        replicas = ((spec.get("Mode") or {}).get("Replicated") or {}).get("Replicas", 1)
        prog.desired = int(replicas if replicas is not None else 1)
        running = [t for t in live if _running(t)]
        running_slots = {t.get("Slot") for t in running}
        stable_slots = {t.get("Slot") for t in running if stable(t)}
        done_slots: set[Any] = set()
        if condition in ("none", "on-failure"):
            for key, slot in slots.items():
                if key not in running_slots and _state(slot.newest()) == "complete":
                    done_slots.add(key)
        prog.running = len(running_slots)
        prog.completed = len(done_slots)
        unstable = prog.running - len(stable_slots)
        still_running = sum(1 for t in live if _state(t) == "running")
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
        new = sum(1 for t in live if _running(t) and not stable(t) and since is not None
                  and _created(t)[0] >= since)
        if new:
            prog.message += f" ({new} new, watching {'it' if new == 1 else 'them'} for {window:g}s)"
        else:
            prog.message += f" (watching {unstable} task{'s' if unstable != 1 else ''} for {window:g}s)"
    return prog


def _has_healthcheck(spec: Mapping[str, Any]) -> bool:
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    test = (container.get("Healthcheck") or {}).get("Test") or []
    return bool(test) and test[0] != "NONE"


def _converged_message(prog: ServiceProgress) -> str:
    if prog.mode in ("replicated-job", "global-job"):
        return f"job complete ({prog.completed}/{prog.desired})"
    if prog.desired == 0:
        return "no eligible node" if prog.mode == "global" else "scaled to 0"
    extra = f", {prog.completed} completed" if prog.completed else ""
    return f"{prog.running}/{prog.desired} running{extra}"


def _waiting_message(prog: ServiceProgress, state: str | None, message: str) -> str:
    if state == "rollback_started":
        return f"rolling back: {message}".rstrip(": ")
    if prog.mode in ("replicated-job", "global-job"):
        return f"{prog.completed}/{prog.desired} completed"
    what = f"{prog.running}/{prog.desired} running"
    if state == "updating":
        return f"updating, {what}"
    return what


# --- the waiter ------------------------------------------------------------------------------


def _server_skew(engine: Engine) -> float:
    """Engine clock minus local clock, so `since` and task timestamps compare (0 when unknown)."""
    try:
        before = time.time()
        info = engine.info()
        after = time.time()
        server = parse_time(info.get("SystemTime"))
    except Exception:  # noqa: BLE001 - a missing clock reading only weakens staleness checks
        return 0.0
    return 0.0 if server is None else server - (before + after) / 2


def _lookup_failed_task(engine: Engine, prog: ServiceProgress, service_id: str, messages: Sequence[str],
                        since: float) -> None:
    """After a pause or rollback, show the error of the task the swarm blamed.

    At `rollback_completed` the swarm has replaced the message naming the task, and the
    failed task is no longer of the current spec: use a message seen earlier, else the
    newest error among all of the service's tasks since the deploy began (one extra call).
    """
    for text in messages:
        m = _TASK_IN_MESSAGE.search(text or "")
        if not m:
            continue
        try:
            task = engine.inspect("task", m.group(1))
        except EngineError:  # the task may be gone; fall back to the list
            continue
        found = describe_task_error(task)
        if found:
            prog.task_error, prog.task_id = found, str(task.get("ID") or m.group(1))
            return
    try:
        tasks = engine.objects("task", {"service": [service_id]})
    except EngineError:  # the status message remains
        return
    failed = [t for t in tasks if _state(t) in FAILED_TASK_STATES or _state(t) == "complete"]
    problem = newest_task_problem(failed, since, exits_fail=True)
    if problem:
        prog.task_error, prog.task_id = problem


def wait_for_services(
    engine: Engine,
    names: list[str],
    *,
    timeout: float,
    on_progress: Callable[[list[ServiceProgress]], None] | None = None,
    poll: float = 0.5,
    since: float | None = None,
    max_failures: int = DEFAULT_MAX_FAILURES,
) -> list[ServiceOutcome]:
    """Watch every named service (names or IDs) until each has an outcome; never raises on Ctrl-C.

    `timeout` <= 0 means no bound. `since` (local epoch seconds, default: shortly before this
    call) is when the deploy began changing the swarm: update statuses and task failures from
    before it belong to earlier deploys and are ignored. Ctrl-C (KeyboardInterrupt) marks the
    undecided services `interrupted` and returns. An engine that stops answering raises EngineError
    (see the module's rules); the caller says what the deploy had written.
    """
    started = time.monotonic()
    deadline = started + timeout if timeout and timeout > 0 else None
    if since is None:
        since = time.time() - SINCE_MARGIN
    skew = _server_skew(engine)
    server_since = since + skew
    order = list(dict.fromkeys(names))
    progress: dict[str, ServiceProgress] = {n: ServiceProgress(name=n, message="waiting") for n in order}
    ids: dict[str, str] = {}  # requested name -> service ID
    nodes: list[dict[str, Any]] | None = None
    nodes_at = -NODE_REFRESH
    seen_messages: dict[str, list[str]] = {}  # UpdateStatus messages of this deploy, in order

    def undecided() -> list[str]:
        return [n for n in order if progress[n].final is None]

    unavailable_since: float | None = None  # when the manager began answering 5xx, if it still does

    def fetch(kind: str, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """engine.objects, asked again while the swarm cannot answer (within the grace and --timeout)."""
        nonlocal unavailable_since
        while True:
            try:
                found = engine.objects(kind, filters)
            except EngineError as err:
                now = time.monotonic()
                unavailable_since = unavailable_since or now
                out_of_time = deadline is not None and now + poll >= deadline
                if not err.unavailable or now - unavailable_since >= UNAVAILABLE_GRACE or out_of_time:
                    raise
                if on_progress:
                    why = err.reason or err.message
                    on_progress([replace(progress[n], message=f"{progress[n].message} (the manager cannot "
                                         f"answer for now, asking again: {why})") for n in order])
                time.sleep(poll)
                continue
            unavailable_since = None
            return found

    try:
        while undecided():
            now_mono = time.monotonic()
            watch = undecided()
            # services: one call, by name the first time (a prefix filter: matched exactly
            # below), by ID afterwards
            unknown = [n for n in watch if n not in ids]
            known = [ids[n] for n in watch if n in ids]
            svcs: list[dict[str, Any]] = []
            if unknown:
                svcs += fetch("service", {"name": unknown})
                svcs += fetch("service", {"id": [n for n in unknown if _ID_RE.match(n)]}) \
                    if any(_ID_RE.match(n) for n in unknown) else []
            if known:
                svcs += fetch("service", {"id": known})
            by_key: dict[str, dict[str, Any]] = {}
            for s in svcs:
                by_key[s["ID"]] = s
                by_key[(s.get("Spec") or {}).get("Name", "")] = s
            found: dict[str, dict[str, Any]] = {}
            for n in watch:
                svc = by_key.get(ids.get(n, n)) or by_key.get(n)
                if svc is None:
                    if n in ids or now_mono - started > 5:
                        progress[n].final = FAILED
                        progress[n].message = "service not found (removed during the deploy?)"
                    continue
                ids[n] = svc["ID"]
                found[n] = svc
            if not found:
                time.sleep(poll)
                continue
            if now_mono - nodes_at >= NODE_REFRESH:
                nodes = fetch("node")
                nodes_at = now_mono
            # tasks: one call for every watched service, current spec only
            try:
                tasks = fetch("task", {"service": [s["ID"] for s in found.values()], "_up-to-date": "true"})
            except EngineError as err:
                if not err.not_found:
                    raise
                ids.clear()  # a service went away between the two calls; resolve again next poll
                time.sleep(poll)
                continue
            per_service: dict[str, list[dict[str, Any]]] = {}
            for t in tasks:
                per_service.setdefault(t.get("ServiceID", ""), []).append(t)
            server_now = time.time() + skew
            for n, svc in found.items():
                prog = evaluate(svc, per_service.get(svc["ID"], []), nodes, since=server_since,
                                now=server_now, max_failures=max_failures)
                prog.name = n
                msg = (svc.get("UpdateStatus") or {}).get("Message", "")
                if prog.update_state and msg and msg not in seen_messages.setdefault(n, []):
                    seen_messages[n].append(msg)
                if prog.final in (PAUSED, ROLLED_BACK):
                    _lookup_failed_task(engine, prog, svc["ID"], list(reversed(seen_messages[n])),
                                        server_since)
                    why = [m for m in seen_messages[n] if "due to" in m]
                    if prog.final == ROLLED_BACK and why:
                        prog.message += f": {why[-1]}"
                progress[n] = prog
            if deadline is not None and time.monotonic() >= deadline:
                lost = down_node_names(nodes or [])
                for n in undecided():
                    p = progress[n]
                    p.final = TIMEOUT
                    p.message = f"timed out after {_fmt_seconds(timeout)}: {p.message}"
                    if lost:  # the likeliest reason, and not visible in the service itself
                        verb = "are" if len(lost) > 1 else "is"
                        p.message += (f" (node{'s' if len(lost) > 1 else ''} {', '.join(lost)} {verb} down; "
                                      "the swarm moves their tasks to other nodes where it can)")
            if on_progress:
                on_progress([progress[n] for n in order])
            if undecided():
                time.sleep(max(0.0, poll - (time.monotonic() - now_mono)))
    except KeyboardInterrupt:
        for n in undecided():
            progress[n].final = INTERRUPTED
            progress[n].message = f"interrupted while {progress[n].message or 'waiting'}"
        if on_progress:
            on_progress([progress[n] for n in order])
    except EngineError as err:
        raise err.during("watch the rollout") from None
    return [progress[n].outcome() for n in order]


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


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


@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """While waiting, SIGTERM behaves like Ctrl-C (KeyboardInterrupt), so CI cancels are handled."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def bake_services(
    engine: Engine,
    stack_filter: Mapping[str, Any],
    *,
    duration: float,
    on_progress: Callable[[list[ServiceProgress]], None] | None = None,
    poll: float = 1.0,
    since: float | None = None,
) -> list[ServiceOutcome]:
    """Watch a converged stack for `duration` seconds: every service must keep running with no
    task failing or restarting (a fan-out wave's bake, docs/fan-out.md).

    The rules are the wait's (`evaluate`), with `since` the bake's start and one failure enough:
    a task of the current spec that fails, exits under `restart_policy: any` (a healthcheck that
    stops passing) or is rejected ends the bake `failed`; so does a swarm update that pauses or
    rolls back. A service not running as it should at the end of the bake (tasks still being
    replaced) fails it too. `stack_filter`: the engine filter of the stack's services.
    """
    started = time.monotonic()
    if since is None:
        since = time.time()
    skew = _server_skew(engine)
    server_since = since + skew
    final: dict[str, ServiceProgress] = {}
    last: dict[str, ServiceProgress] = {}
    try:
        while True:
            now_mono = time.monotonic()
            ending = now_mono - started >= duration
            services = engine.objects("service", stack_filter)
            nodes = engine.objects("node")
            ids = [s["ID"] for s in services]
            tasks = engine.objects("task", {"service": ids, "_up-to-date": "true"}) if ids else []
            per_service: dict[str, list[dict[str, Any]]] = {}
            for t in tasks:
                per_service.setdefault(t.get("ServiceID", ""), []).append(t)
            server_now = time.time() + skew
            for svc in services:
                name = (svc.get("Spec") or {}).get("Name", svc["ID"])
                if name in final:
                    continue
                prog = evaluate(svc, per_service.get(svc["ID"], []), nodes, since=server_since,
                                now=server_now, max_failures=1)
                if prog.final in (FAILED, PAUSED, ROLLED_BACK):
                    prog.message = f"during the bake: {prog.message}"
                    final[name] = prog
                elif ending and prog.final != CONVERGED:
                    prog.final = FAILED
                    prog.message = f"not running as it should at the end of the bake: {prog.message}"
                    final[name] = prog
                last[name] = prog
            if on_progress:
                on_progress(list(last.values()))
            if final or ending:
                break
            time.sleep(max(0.0, min(poll, duration - (time.monotonic() - started))))
    except KeyboardInterrupt:
        for name, prog in last.items():
            if name not in final:
                prog.final = INTERRUPTED
                prog.message = f"interrupted during the bake: {prog.message}"
    except EngineError as err:
        raise err.during("watch the bake") from None
    out = []
    for name, prog in last.items():
        chosen = final.get(name, prog)
        if chosen.final is None:  # the bake ended (or stopped at another service's failure) with it fine
            chosen.final = CONVERGED
        out.append(chosen.outcome())
    return out
