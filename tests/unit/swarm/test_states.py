"""swarm/states.py: the one set of task states (Engine API 1.41)."""

from __future__ import annotations

from stackctl.swarm.states import (
    ENDED_STATES,
    FAILED_STATES,
    PROBLEM_STATES,
    TASK_STATES,
    ended_cleanly,
    is_running,
)


def test_every_ended_state_is_an_engine_state() -> None:
    assert ENDED_STATES <= set(TASK_STATES) and PROBLEM_STATES <= ENDED_STATES
    assert TASK_STATES[TASK_STATES.index("running") + 1:] == tuple(
        s for s in TASK_STATES if s in ENDED_STATES)


def test_orphaned_is_a_problem_for_ps_but_not_a_failure_of_the_spec() -> None:
    assert "orphaned" in PROBLEM_STATES and "orphaned" not in FAILED_STATES
    assert not ended_cleanly("orphaned") and ended_cleanly("shutdown")
    assert not ended_cleanly("complete", "boom")


def test_running_means_running_and_still_wanted() -> None:
    assert is_running({"Status": {"State": "running"}, "DesiredState": "running"})
    assert not is_running({"Status": {"State": "running"}, "DesiredState": "shutdown"})
