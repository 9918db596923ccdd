"""swarm/modes.py: one service mode and one tasks-wanted rule."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.swarm.modes import SERVICE_MODES, is_global, is_job, service_mode, tasks_wanted


@pytest.mark.parametrize(("mode", "name", "wanted"), [
    (None, "replicated", 1),
    ({"Replicated": {}}, "replicated", 1),
    ({"Replicated": {"Replicas": None}}, "replicated", 1),
    ({"Replicated": {"Replicas": 0}}, "replicated", 0),
    ({"Replicated": {"Replicas": 3}}, "replicated", 3),
    ({"Global": {}}, "global", None),
    ({"ReplicatedJob": {}}, "replicated-job", 1),
    ({"ReplicatedJob": {"MaxConcurrent": 2}}, "replicated-job", 2),  # TotalCompletions defaults to it
    ({"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 5}}, "replicated-job", 5),
    ({"GlobalJob": {}}, "global-job", None),
])
def test_service_mode_and_tasks_wanted(mode: Any, name: str, wanted: int | None) -> None:
    spec = {"Mode": mode} if mode is not None else {}
    assert (service_mode(spec), tasks_wanted(spec)) == (name, wanted)


def test_global_modes_want_one_task_per_eligible_node() -> None:
    assert tasks_wanted({"Mode": {"Global": {}}}, 3) == 3
    assert tasks_wanted({"Mode": {"GlobalJob": {}}}, 0) == 0
    assert tasks_wanted({"Mode": {"Replicated": {"Replicas": 2}}}, 5) == 2  # eligible nodes do not matter


def test_mode_predicates_cover_every_mode() -> None:
    assert [m for m in SERVICE_MODES if is_job(m)] == ["replicated-job", "global-job"]
    assert [m for m in SERVICE_MODES if is_global(m)] == ["global", "global-job"]


def test_validate_and_convert_share_the_mode_names() -> None:
    from stackctl.validate import meaning

    assert meaning.DEPLOY_MODES is SERVICE_MODES
