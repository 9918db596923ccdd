"""The lab's names and addresses: pure, no engine, no root."""

from __future__ import annotations

import pytest

from stackctl.errors import LabError
from stackctl.lab.layout import (
    DEFAULT_BRIDGE,
    DEFAULT_SUBNET,
    MANAGER_HOST,
    LabLayout,
    make_layout,
    parse_labels,
)


def test_default_layout_is_one_manager_two_workers() -> None:
    layout = make_layout(environ={})
    assert [n.name for n in layout.nodes] == ["mgr-1", "wrk-1", "wrk-2"]
    assert [n.role for n in layout.nodes] == ["manager", "worker", "worker"]
    assert layout.bridge == DEFAULT_BRIDGE and layout.subnet == DEFAULT_SUBNET
    assert layout.manager.host == MANAGER_HOST == "unix:///run/stackctl-lab/mgr-1/docker.sock"
    assert layout.labels == {"wrk-1": {"pcidss": "yes"}}


def test_node_folders_and_namespaces_are_per_node() -> None:
    layout = make_layout(environ={})
    wrk = layout.node("wrk-2")
    assert str(wrk.data_root) == "/var/lib/stackctl-lab/wrk-2"
    assert str(wrk.run_dir) == "/run/stackctl-lab/wrk-2"
    assert str(wrk.exec_root).startswith("/run/stackctl-lab/wrk-2/")
    assert str(wrk.containerd_socket).startswith("/run/stackctl-lab/wrk-2/")
    assert wrk.netns == "stackctl-wrk-2"
    assert len({n.ip for n in layout.nodes}) == 3
    assert len({n.veth for n in layout.nodes}) == 3
    assert all(len(n.veth) <= 15 for n in layout.nodes)


def test_addresses_are_inside_the_subnet_and_not_the_gateway() -> None:
    layout = make_layout(workers=5, subnet="192.168.77.0/24", environ={})
    assert layout.gateway == "192.168.77.1"
    assert all(n.ip.startswith("192.168.77.") and n.ip != layout.gateway for n in layout.nodes)
    assert len(layout.nodes) == 6


def test_flags_win_over_environment_over_defaults() -> None:
    env = {"STACKCTL_LAB_BRIDGE": "envbr0", "STACKCTL_LAB_SUBNET": "10.1.2.0/24"}
    assert make_layout(environ=env).bridge == "envbr0"
    assert make_layout(environ=env).subnet == "10.1.2.0/24"
    assert make_layout(bridge="flagbr0", subnet="10.9.9.0/24", environ=env).bridge == "flagbr0"
    assert make_layout(bridge="flagbr0", subnet="10.9.9.0/24", environ=env).subnet == "10.9.9.0/24"


@pytest.mark.parametrize("kwargs, fragment", [
    ({"bridge": "this-name-is-too-long"}, "invalid bridge name"),
    ({"bridge": "bad name"}, "invalid bridge name"),
    ({"subnet": "not-a-net"}, "invalid subnet"),
    ({"subnet": "10.0.0.0/28"}, "too small"),
    ({"workers": -1}, "invalid --workers"),
    ({"labels": ["wrk-9:a=b"]}, "no node 'wrk-9'"),
    ({"labels": ["wrk-1"]}, "NODE:KEY=VALUE"),
])
def test_bad_input_is_a_clear_lab_error(kwargs: dict, fragment: str) -> None:
    with pytest.raises(LabError) as err:
        make_layout(environ={}, **kwargs)
    assert fragment in str(err.value)


def test_extra_labels_merge_with_the_default_one() -> None:
    layout = make_layout(labels=["wrk-2:zone=b", "wrk-1:ssd=true", "mgr-1:x=1=2"], environ={})
    assert layout.labels == {"wrk-1": {"pcidss": "yes", "ssd": "true"}, "wrk-2": {"zone": "b"},
                             "mgr-1": {"x": "1=2"}}


def test_zero_workers_drops_the_default_worker_label() -> None:
    layout = make_layout(workers=0, environ={})
    assert [n.name for n in layout.nodes] == ["mgr-1"] and layout.labels == {}


def test_parse_labels_allows_empty_values() -> None:
    assert parse_labels(["mgr-1:k="], ["mgr-1"]) == {"mgr-1": {"k": ""}}


def test_state_round_trips_through_json() -> None:
    layout = make_layout(workers=3, labels=["wrk-3:a=b"], environ={})
    assert LabLayout.from_json(layout.to_json()) == layout
