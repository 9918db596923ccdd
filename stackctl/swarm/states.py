"""Task states (Engine API 1.41, swarmkit's TaskState), the one set every reader uses.

A task moves new → allocated → pending → assigned → accepted → preparing → ready → starting →
running, and ends in one of ENDED_STATES, after which it never runs again:
- `complete`: its container exited 0 (a job's success, or a one-shot service);
- `shutdown`: the swarm stopped it (an update, a scale-down, `rm`);
- `failed`, `rejected`: the task itself went wrong (non-zero exit, bad mount, no such image...);
- `remove`: the service is being removed;
- `orphaned`: its node was down so long the swarm gave up on it (swarmkit's orphan timeout). The
  swarm had already replaced it elsewhere, so it says nothing about the service's spec.

So FAILED_STATES (the task failed: the rollout wait counts these towards "keeps failing") does not
hold `orphaned`; PROBLEM_STATES (what `ps` keeps visible as history) does.
"""

from __future__ import annotations

from stackctl.swarm.api import Task

TASK_STATES = ("new", "allocated", "pending", "assigned", "accepted", "preparing", "ready", "starting",
               "running", "complete", "shutdown", "failed", "rejected", "remove", "orphaned")
ENDED_STATES = frozenset({"complete", "shutdown", "failed", "rejected", "remove", "orphaned"})
FAILED_STATES = frozenset({"failed", "rejected"})
LOST_STATES = frozenset({"orphaned"})
PROBLEM_STATES = FAILED_STATES | LOST_STATES
# Desired states of a task the swarm still wants (the others: `shutdown`, `remove`).
WANTED_DESIRED_STATES = frozenset({"running", "ready", "accepted"})
UNWANTED_DESIRED_STATES = frozenset({"shutdown", "remove"})
# `ps --filter desired-state=` values, as the reference documents them.
DESIRED_STATE_FILTERS = ("running", "shutdown", "accepted", "ready")


def task_state(task: Task) -> str:
    """The task's current state ("" when the engine gave none)."""
    return str((task.get("Status") or {}).get("State", ""))


def is_running(task: Task) -> bool:
    """Running and still wanted running."""
    return task_state(task) == "running" and task.get("DesiredState") == "running"


def is_wanted(task: Task) -> bool:
    """The swarm still wants this task (its desired state is not shutdown/remove)."""
    return task.get("DesiredState") in WANTED_DESIRED_STATES


def ended_cleanly(state: str, error: str = "") -> bool:
    """Ended, not as a problem, with no error: history `ps` may leave out."""
    return state in ENDED_STATES and state not in PROBLEM_STATES and not error
