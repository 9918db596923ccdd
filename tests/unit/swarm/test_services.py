"""swarm/services.py: a service as ps/services summarise it, by the same mode and task rules as the wait."""

from __future__ import annotations

from typing import Any

from stackctl.swarm.api import as_nodes, as_services, as_tasks
from stackctl.swarm.services import service_statuses


def _task(ident: str, state: str, *, iteration: int | None = None, node: str = "n1") -> dict[str, Any]:
    t: dict[str, Any] = {"ID": ident, "ServiceID": "s1", "NodeID": node, "DesiredState": "shutdown",
                         "Status": {"State": state}}
    if iteration is not None:
        t["JobIteration"] = {"Index": iteration}
    return t


def test_a_job_counts_the_completions_of_its_current_run() -> None:
    svc = {"ID": "s1", "Spec": {"Name": "s_job", "Mode": {"ReplicatedJob": {"TotalCompletions": 2}}},
           "JobStatus": {"JobIteration": {"Index": 9}}}
    tasks = [_task("a", "complete", iteration=8), _task("b", "complete", iteration=8),
             _task("c", "complete", iteration=9)]
    [status] = service_statuses(as_services([svc]), as_tasks(tasks))
    assert (status.completed, status.desired, status.converged) == (1, 2, False)
    assert status.replicas == "0/2 (1/2 completed)"


def test_a_global_service_wants_one_task_per_eligible_node() -> None:
    svc = {"ID": "s1", "Spec": {"Name": "s_agent", "Mode": {"Global": {}},
                                "TaskTemplate": {"Placement": {"Constraints": ["node.role==worker"]}}}}
    nodes = [{"ID": n, "Spec": {"Role": role, "Availability": "active"}, "Status": {"State": state}}
             for n, role, state in (("m", "manager", "ready"), ("w1", "worker", "ready"),
                                    ("w2", "worker", "ready"), ("w3", "worker", "down"))]
    running = [{"ID": f"t{n}", "ServiceID": "s1", "NodeID": n, "DesiredState": "running",
                "Status": {"State": "running"}} for n in ("w1",)]
    [status] = service_statuses(as_services([svc]), as_tasks(running), as_nodes(nodes))
    assert (status.running, status.desired, status.converged) == (1, 2, False)
    [without_nodes] = service_statuses(as_services([svc]), as_tasks(running))
    assert (without_nodes.desired, without_nodes.converged) == (1, True)  # the tasks the swarm keeps wanted
