"""placement.py: constraints parsed, matched and explained as the swarm's scheduler does."""

from __future__ import annotations

import pytest

from stackctl.observe import ObservedNode, node_from_inspect
from stackctl.placement import (
    Constraint,
    constraint_problem,
    describe_node,
    explain_mismatch,
    is_spread_key,
    node_matches,
    parse_constraint,
)

WORKER = ObservedNode("w1", "wrk-1", "worker", "active", "ready", "linux", "x86_64",
                      labels={"pcidss": "yes", "Zone": "East"}, engine_labels={"storage": "ssd"},
                      addr="10.0.0.12")
MANAGER = ObservedNode("m1", "mgr-1", "manager", "active", "ready", "linux", "x86_64", addr="10.0.0.11")


@pytest.mark.parametrize(("expr", "ok"), [
    ("node.labels.pcidss==yes", True),
    ("node.labels.pcidss == YES", True),  # values compare case-insensitively
    ("NODE.LABELS.pcidss==yes", True),  # so do attribute keys and the label prefix
    ("node.labels.PCIDSS==yes", False),  # a label's own name does not
    ("node.labels.Zone==east", True),
    ("node.labels.pcidss!=yes", False),
    ("node.labels.other==x", False),
    ("node.labels.other!=x", True),  # a missing label reads as ""
    ("engine.labels.storage==SSD", True),
    ("node.hostname==wrk-1", True),
    ("Node.Role==Worker", True),
    ("node.role==manager", False),
    ("node.platform.os==linux", True),
    ("node.platform.arch!=x86_64", False),
    ("node.id==w1", True),
    ("node.ip==10.0.0.12", True),
    ("node.ip==10.0.0.0/24", True),
    ("node.ip!=10.0.0.0/24", False),
    ("node.ip==10.1.0.0/16", False),
    ("node.ip==not-an-ip", False),
    ("something.unknown==1", False),  # the swarm matches no node for an unknown key
])
def test_node_matches_as_swarm_does(expr: str, ok: bool) -> None:
    assert node_matches(WORKER, [expr]) is ok


def test_all_constraints_must_hold_and_unparseable_ones_are_left_to_validate() -> None:
    assert node_matches(WORKER, ["node.role==worker", "node.labels.pcidss==yes"])
    assert not node_matches(WORKER, ["node.role==worker", "node.labels.pcidss==no"])
    assert node_matches(WORKER, ["node.role=worker"])


def test_parse_keeps_the_label_spelling() -> None:
    parsed = parse_constraint(" node.Labels.Zone  !=  east ")
    assert parsed == Constraint("node.Labels.Zone", "!=", "east")
    assert (parsed.attribute, parsed.label, str(parsed)) == ("node.labels.", "Zone", "node.Labels.Zone!=east")
    assert parse_constraint("node.role>=manager") is None


@pytest.mark.parametrize("expr", ["node.role==manager", "node.role != worker", "node.ip==10.0.0.0/8",
                                  "node.ip==2001:db8::2", "engine.labels.os==linux", "node.labels.a==b"])
def test_well_formed(expr: str) -> None:
    assert constraint_problem(expr) is None


@pytest.mark.parametrize(("expr", "words"), [
    ("node.role=manager", "invalid placement constraint"),
    ("node.role==", "has no value"),
    ("node.labels.==x", "names no label"),
    ("node.rol==manager", "unknown placement constraint key"),
    ("node.role==boss", "manager or worker"),
    ("node.ip==10.0.0.300", "IP address or CIDR"),
])
def test_problems(expr: str, words: str) -> None:
    problem = constraint_problem(expr)
    assert problem is not None and words in problem[0]


def test_unknown_key_hint_names_the_close_key() -> None:
    problem = constraint_problem("node.rol==manager")
    assert problem is not None and problem[1] == "did you mean 'node.role'?"


def test_spread_keys() -> None:
    assert is_spread_key("node.labels.zone") and is_spread_key("node.hostname")
    assert not is_spread_key("zone")


def test_explain_names_the_failing_constraints() -> None:
    nodes = [WORKER, MANAGER]
    assert explain_mismatch(["node.labels.gpu==yes", "node.role==worker"], nodes) == (
        "no node satisfies the placement constraint `node.labels.gpu==yes`")
    assert explain_mismatch(["node.role==manager", "node.labels.pcidss==yes"], nodes) == (
        "no node satisfies all the placement constraints `node.role==manager`, `node.labels.pcidss==yes`")
    assert describe_node(MANAGER) == "mgr-1 (manager, no labels)"


def test_engine_node_body_gives_the_address() -> None:
    raw = {"ID": "n1", "Spec": {"Role": "worker", "Availability": "active", "Labels": {"a": "b"}},
           "Description": {"Hostname": "wrk-9", "Platform": {"OS": "linux", "Architecture": "aarch64"}},
           "Status": {"State": "ready", "Addr": "192.168.1.5"}}
    node = node_from_inspect(raw)
    assert node_matches(node, ["node.ip==192.168.1.0/24", "node.labels.a==B", "node.platform.arch==aarch64"])
