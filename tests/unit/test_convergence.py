"""Convergence rules of stackctl.apply.convergence on Engine-API-shaped dicts (no engine)."""

from __future__ import annotations

import io
from typing import Any

import pytest

from stackctl.apply.convergence import (
    CONVERGED,
    FAILED,
    INTERRUPTED,
    PAUSED,
    ROLLED_BACK,
    TIMEOUT,
    ServiceOutcome,
    ServiceProgress,
    evaluate,
    exit_code_for,
)
from stackctl.errors import (
    EXIT_DEPLOY_FAILED,
    EXIT_INTERRUPTED,
    EXIT_ROLLED_BACK,
    EXIT_TIMEOUT,
)
from stackctl.swarm.nodes import eligible_nodes, node_from_inspect
from stackctl.swarm.times import epoch as parse_time

T0 = 1_800_000_000.0  # "now" of the tests, epoch seconds
SINCE = T0 - 60


def ts(t: float) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def service(name: str = "ro_web", *, replicas: int | None = 2, mode: str = "replicated",
            update: tuple[str, float, str] | None = None, condition: str = "any",
            monitor: int | None = 2_000_000_000, constraints: list[str] | None = None,
            healthcheck: bool = False, job: dict[str, Any] | None = None) -> dict[str, Any]:
    mode_spec: dict[str, Any] = {"Replicated": {"Replicas": replicas}}
    if mode == "global":
        mode_spec = {"Global": {}}
    elif mode == "replicated-job":
        mode_spec = {"ReplicatedJob": job or {"MaxConcurrent": 1, "TotalCompletions": 2}}
    elif mode == "global-job":
        mode_spec = {"GlobalJob": {}}
    cs: dict[str, Any] = {"Image": "busybox:latest"}
    if healthcheck:
        cs["Healthcheck"] = {"Test": ["CMD", "false"]}
    svc: dict[str, Any] = {
        "ID": "svc" + name.replace("_", "").ljust(22, "x")[:22],
        "Version": {"Index": 42},
        "Spec": {
            "Name": name,
            "TaskTemplate": {"ContainerSpec": cs, "RestartPolicy": {"Condition": condition},
                             "Placement": {"Constraints": constraints} if constraints else {}},
            "Mode": mode_spec,
        },
    }
    if monitor:
        svc["Spec"]["UpdateConfig"] = {"Parallelism": 1, "FailureAction": "rollback", "Monitor": monitor}
    if update:
        state, started, message = update
        svc["UpdateStatus"] = {"State": state, "StartedAt": ts(started), "Message": message}
    if mode.endswith("job"):
        svc["JobStatus"] = {"JobIteration": {"Index": 7}, "LastExecution": ts(T0 - 30)}
    return svc


_counter = [0]


def task(state: str, *, slot: int | None = 1, node: str = "n1", at: float = T0 - 30, desired: str = "running",
         err: str | None = None, created: float | None = None, exit_code: int | None = None,
         iteration: int | None = None) -> dict[str, Any]:
    _counter[0] += 1
    status: dict[str, Any] = {"Timestamp": ts(at), "State": state, "Message": state}
    if err:
        status["Err"] = err
    if exit_code is not None:
        status["ContainerStatus"] = {"ContainerID": "c", "PID": 0, "ExitCode": exit_code}
    t: dict[str, Any] = {
        "ID": f"task{_counter[0]:021d}",
        "Version": {"Index": 100 + _counter[0]},
        "CreatedAt": ts(created if created is not None else at - 1),
        "ServiceID": "x",
        "NodeID": node,
        "Status": status,
        "DesiredState": desired,
    }
    if slot is not None:
        t["Slot"] = slot
    if iteration is not None:
        t["JobIteration"] = {"Index": iteration}
    return t


def node(node_id: str, *, state: str = "ready", availability: str = "active", role: str = "worker",
         labels: dict[str, str] | None = None, hostname: str | None = None) -> dict[str, Any]:
    return {
        "ID": node_id,
        "Spec": {"Role": role, "Availability": availability, "Labels": labels or {}},
        "Description": {"Hostname": hostname or node_id, "Engine": {"Labels": {}},
                        "Platform": {"OS": "linux", "Architecture": "x86_64"}},
        "Status": {"State": state},
    }


def ev(svc: dict[str, Any], tasks: list[dict[str, Any]], nodes: list[dict[str, Any]] | None = None,
       **kw: Any) -> ServiceProgress:
    observed = None if nodes is None else [node_from_inspect(n) for n in nodes]  # as the wait converts them
    return evaluate(svc, tasks, observed, since=kw.pop("since", SINCE), now=kw.pop("now", T0), **kw)


# --- replicated ----------------------------------------------------------------------------


def test_replicated_converges_when_all_slots_run_stably() -> None:
    p = ev(service(), [task("running", slot=1), task("running", slot=2)])
    assert p.final == CONVERGED and (p.running, p.desired) == (2, 2)


def test_replicated_waits_while_a_slot_is_missing() -> None:
    p = ev(service(), [task("running", slot=1), task("starting", slot=2)])
    assert p.final is None and p.running == 1


def test_new_task_must_outlive_the_monitor_window_without_a_swarm_update() -> None:
    fresh = [task("running", slot=1, at=T0 - 0.5), task("running", slot=2)]
    p = ev(service(monitor=2_000_000_000), fresh)
    assert p.final is None and p.message == "2/2 running (1 new, watching it for 2s)"
    assert ev(service(monitor=2_000_000_000), fresh, now=T0 + 2).final == CONVERGED


def test_an_old_task_whose_status_moved_is_not_called_new() -> None:
    """Created before the deploy, its status re-reported just now: watched, but not "new"."""
    old = [task("running", slot=1, at=T0 - 0.5, created=SINCE - 600), task("running", slot=2)]
    p = ev(service(monitor=2_000_000_000), old)
    assert p.final is None and p.message == "2/2 running (watching 1 task for 2s)"


def test_completed_swarm_update_needs_no_extra_window() -> None:
    svc = service(update=("completed", T0 - 10, "update completed"))
    p = ev(svc, [task("running", slot=1, at=T0 - 0.1), task("running", slot=2, at=T0 - 0.1)])
    assert p.final == CONVERGED


def test_a_completed_update_after_a_task_exited_watches_the_replacement() -> None:
    """failure_action: continue completes the update although a task exited; a container that exits 0
    when the swarm stops it as unhealthy is reported `running` for a moment: not converged at once."""
    svc = service(replicas=1, healthcheck=True, update=("completed", T0 - 10, "update completed"))
    tasks = [task("complete", slot=1, at=T0 - 5, desired="shutdown", exit_code=0),
             task("running", slot=1, at=T0 - 0.5)]
    p = ev(svc, tasks)
    assert p.final is None and p.task_error is not None
    assert ev(svc, tasks, now=T0 + 2).final == CONVERGED  # it kept running for the monitor window (2 s)


def test_updating_is_never_converged_even_with_counts_met() -> None:
    svc = service(update=("updating", T0 - 10, "update in progress"))
    p = ev(svc, [task("running", slot=1), task("running", slot=2)])
    assert p.final is None and p.update_state == "updating"


def test_replicas_zero_converges_with_no_tasks() -> None:
    p = ev(service(replicas=0), [])
    assert p.final == CONVERGED and p.message == "scaled to 0"


def test_replicas_zero_waits_for_running_tasks_to_stop() -> None:
    p = ev(service(replicas=0), [task("running", slot=1, desired="shutdown")])
    assert p.final is None


def test_old_failures_before_the_deploy_do_not_count() -> None:
    tasks = [task("failed", slot=1, at=SINCE - 100, desired="shutdown", err="task: non-zero exit (1)")
             for _ in range(4)] + [task("running", slot=1), task("running", slot=2)]
    p = ev(service(), tasks)
    assert p.final == CONVERGED and p.task_error is None


def test_three_failures_in_a_slot_fail_the_service_with_the_newest_error() -> None:
    tasks = [task("failed", slot=1, at=T0 - 10 + i, desired="shutdown", err=f"task: non-zero exit ({i})")
             for i in range(3)] + [task("running", slot=2)]
    p = ev(service(), tasks)
    assert p.final == FAILED and "3 tasks failed" in p.message
    assert p.task_error is not None and p.task_error.endswith("non-zero exit (2)")


def test_orphaned_tasks_are_not_failures_of_the_spec() -> None:
    """swarm/states.py: `orphaned` (the node was lost) counts for ps, not towards "keeps failing"."""
    tasks = [task("orphaned", slot=1, at=T0 - 10 + i, desired="shutdown") for i in range(3)]
    tasks += [task("running", slot=1, at=T0 - 30), task("running", slot=2)]
    p = ev(service(), tasks)
    assert p.final == CONVERGED and p.task_error is None
    p = ev(service(), [task("failed", slot=1, at=T0 - 10 + i, desired="shutdown", err="task: boom")
                       for i in range(3)] + tasks[3:])
    assert p.final == FAILED


def test_failed_task_not_replaced_is_a_failure_after_the_grace() -> None:
    tasks = [task("failed", slot=1, at=T0 - 5, desired="shutdown", err="task: non-zero exit (1)")]
    p = ev(service(replicas=1), tasks)
    assert p.final == FAILED and "does not restart it" in p.message
    # just failed: the restart supervisor may still create the replacement
    assert ev(service(replicas=1), tasks, now=T0 - 4).final is None


def test_restart_condition_none_fails_at_once() -> None:
    tasks = [task("failed", slot=1, at=T0 - 0.1, desired="shutdown", err="task: non-zero exit (1)")]
    assert ev(service(replicas=1, condition="none"), tasks).final == FAILED


def test_one_shot_task_completed_under_on_failure_counts_as_done() -> None:
    """docker/cli#5299: the reference waits forever for a task that exited 0."""
    tasks = [task("complete", slot=1, desired="shutdown", exit_code=0)]
    p = ev(service(replicas=1, condition="on-failure"), tasks)
    assert p.final == CONVERGED and p.completed == 1


def test_exits_under_restart_any_are_failures_and_hint_at_the_healthcheck() -> None:
    tasks = [task("complete", slot=1, at=T0 - 9 + i, desired="shutdown", exit_code=0) for i in range(3)]
    tasks.append(task("starting", slot=1, at=T0 - 1))
    p = ev(service(replicas=1, healthcheck=True), tasks)
    assert p.final == FAILED
    assert p.task_error is not None and "healthcheck may never pass" in p.task_error


def test_swarm_decides_while_it_runs_an_update() -> None:
    svc = service(update=("updating", T0 - 10, "update in progress"))
    tasks = [task("failed", slot=1, at=T0 - 5 + i, desired="shutdown", err="boom") for i in range(3)]
    assert ev(svc, tasks).final is None


def test_pending_task_shows_the_scheduler_reason() -> None:
    reason = "no suitable node (scheduling constraints not satisfied on 3 nodes)"
    tasks = [task("pending", slot=1, at=SINCE - 5, err=reason)]
    p = ev(service(replicas=1), tasks)
    assert p.final is None and p.task_error is not None and reason in p.task_error


def test_tasks_on_down_nodes_are_ignored() -> None:
    nodes = [node("n1"), node("n2", state="down")]
    tasks = [task("running", slot=1, node="n1"), task("running", slot=2, node="n2")]
    p = ev(service(), tasks, nodes)
    assert p.final is None and p.running == 1


# --- update status -----------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "final", "text"), [
    ("paused", PAUSED, "update paused"),
    ("rollback_paused", PAUSED, "rollback paused"),
    ("rollback_completed", ROLLED_BACK, "rolled the update back"),
])
def test_update_outcomes(state: str, final: str, text: str) -> None:
    svc = service(update=(state, T0 - 5, "update paused due to failure or early termination of task x"))
    p = ev(svc, [task("running", slot=1), task("running", slot=2)])
    assert p.final == final and text in p.message


def test_rollback_started_keeps_waiting() -> None:
    svc = service(update=("rollback_started", T0 - 5, "update rolled back due to failure"))
    p = ev(svc, [task("running", slot=1), task("running", slot=2)])
    assert p.final is None and p.message.startswith("rolling back")


def test_a_status_from_before_the_deploy_is_ignored() -> None:
    svc = service(update=("rollback_completed", SINCE - 300, "rollback completed"))
    p = ev(svc, [task("running", slot=1), task("running", slot=2)])
    assert p.final == CONVERGED and p.update_state is None


# --- global and jobs ----------------------------------------------------------------------------


def test_global_counts_eligible_nodes_only() -> None:
    nodes = [node("m", role="manager"), node("w1", labels={"pcidss": "yes"}), node("w2"),
             node("w3", availability="drain")]
    svc = service(mode="global", constraints=["node.role==worker"])
    assert [n.id for n in eligible_nodes(svc["Spec"], [node_from_inspect(n) for n in nodes])] == ["w1", "w2"]
    p = ev(svc, [task("running", slot=None, node="w1")], nodes)
    assert p.final is None and (p.running, p.desired) == (1, 2)
    p = ev(svc, [task("running", slot=None, node="w1"), task("running", slot=None, node="w2")], nodes)
    assert p.final == CONVERGED


def test_global_with_no_eligible_node_is_converged() -> None:
    svc = service(mode="global", constraints=["node.labels.nope==1"])
    p = ev(svc, [], [node("w1")])
    assert p.final == CONVERGED and p.message == "no eligible node"


def test_replicated_job_counts_completions_of_the_current_iteration() -> None:
    svc = service(mode="replicated-job", job={"MaxConcurrent": 1, "TotalCompletions": 2},
                  condition="on-failure")
    old = task("complete", slot=1, desired="shutdown", iteration=6)
    p = ev(svc, [old, task("complete", slot=1, desired="shutdown", iteration=7)])
    assert p.final is None and p.completed == 1
    p = ev(svc, [task("complete", slot=1, desired="shutdown", iteration=7),
                 task("complete", slot=2, desired="shutdown", iteration=7)])
    assert p.final == CONVERGED and "job complete" in p.message


# --- exit codes, durations, rendering ------------------------------------------------------------


def outcome(state: str) -> ServiceOutcome:
    return ServiceOutcome("s", state, "", None, 0, 1)


@pytest.mark.parametrize(("states", "code"), [
    ([CONVERGED, CONVERGED], 0),
    ([CONVERGED, FAILED], EXIT_DEPLOY_FAILED),
    ([PAUSED], EXIT_DEPLOY_FAILED),
    ([ROLLED_BACK, CONVERGED], EXIT_ROLLED_BACK),
    ([TIMEOUT, ROLLED_BACK], EXIT_ROLLED_BACK),
    ([TIMEOUT, FAILED], EXIT_DEPLOY_FAILED),
    ([TIMEOUT], EXIT_TIMEOUT),
    ([INTERRUPTED, FAILED], EXIT_INTERRUPTED),
    ([], 0),
])
def test_exit_code_for(states: list[str], code: int) -> None:
    assert exit_code_for([outcome(s) for s in states]) == code


def test_parse_time_handles_nanoseconds_and_go_zero() -> None:
    assert parse_time("2026-11-25T16:48:42.940017961Z") == pytest.approx(1795625322.940018)
    assert parse_time("0001-01-01T00:00:00Z") is None


def test_plain_progress_prints_only_changes() -> None:
    from stackctl.render.progress import RolloutDisplay

    buf = io.StringIO()
    display = RolloutDisplay(buf, live=False)
    p = ServiceProgress("ro_web", running=0, desired=2, message="0/2 running")
    display([p])
    display([p])
    p2 = ServiceProgress("ro_web", running=2, desired=2, message="2/2 running", final=CONVERGED)
    display([p2])
    assert buf.getvalue().splitlines() == ["ro_web: 0/2 running", "ro_web: 2/2 running"]


def test_down_node_names_are_hostnames_sorted() -> None:
    from stackctl.swarm.api import as_nodes
    from stackctl.swarm.nodes import down_node_names, node_from_inspect

    nodes = [
        {"ID": "a", "Description": {"Hostname": "wrk-2"}, "Status": {"State": "down"}},
        {"ID": "b", "Description": {"Hostname": "mgr-1"}, "Status": {"State": "ready"}},
        {"ID": "c", "Description": {"Hostname": "wrk-1"}, "Status": {"State": "down"}},
        {"ID": "d", "Status": {"State": "down"}},
    ]
    assert down_node_names([node_from_inspect(n) for n in as_nodes(nodes)]) == ["d", "wrk-1", "wrk-2"]
