"""plan/fields.field_changes walks the JSON itself (no deepdiff): the paths plans show stay the same."""

from __future__ import annotations

import pytest

from stackctl.engine import require_manager
from stackctl.errors import EngineError
from stackctl.plan.fields import field_changes
from tests.unit.fake_engine import FakeEngine


def paths(old: object, new: object) -> list[str]:
    return [c.path for c in field_changes(old, new)]


def test_keys_added_removed_and_changed_are_reported_at_their_own_path() -> None:
    old = {"TaskTemplate": {"ContainerSpec": {"Image": "a", "User": "x", "Dir": "/", "Init": True}}}
    new = {"TaskTemplate": {"ContainerSpec": {"Image": "b", "User": "x", "Dir": "/", "Hostname": "h"}}}
    assert paths(old, new) == ["TaskTemplate.ContainerSpec.Hostname", "TaskTemplate.ContainerSpec.Image",
                               "TaskTemplate.ContainerSpec.Init"]


def test_a_mapping_sharing_under_a_third_of_its_keys_is_one_change() -> None:
    old = {"EndpointSpec": {"Mode": "dnsrr"}, "Name": "s"}
    new = {"EndpointSpec": {"Ports": [{"TargetPort": 80}]}, "Name": "s"}
    changes = field_changes(old, new)
    assert [(c.path, c.old, c.new) for c in changes] == [
        ("EndpointSpec", {"Mode": "dnsrr"}, {"Ports": [{"TargetPort": 80}]})]


def test_lists_of_mappings_are_compared_index_by_index() -> None:
    old = {"Mounts": [{"Source": "a", "Target": "/a", "Type": "volume"}]}
    new = {"Mounts": [{"Source": "b", "Target": "/a", "Type": "volume"}, {"Source": "c"}]}
    assert paths(old, new) == ["Mounts[0].Source", "Mounts[1]"]


def test_a_type_change_counts_even_where_python_says_equal() -> None:
    old = {"Placement": {"MaxReplicas": 1}, "Image": "a"}
    new = {"Placement": {"MaxReplicas": True}, "Image": "b"}
    assert paths(old, new) == ["Image", "Placement.MaxReplicas"]


def test_the_manager_check_trusts_the_connect_ping_once() -> None:
    fake = FakeEngine(manager=False)
    fake.swarm = "active/manager"  # type: ignore[attr-defined]
    assert require_manager(fake) == {"Swarm": {"ControlAvailable": True}}  # type: ignore[arg-type]
    assert fake.calls == []
    with pytest.raises(EngineError, match="not a swarm manager"):  # later checks ask the engine
        require_manager(fake)  # type: ignore[arg-type]
