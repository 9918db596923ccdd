"""swarm/nodes.py: the one node-eligibility rule, used by plan checks and the rollout wait."""

from __future__ import annotations

from typing import Any

from stackctl.swarm.nodes import ObservedNode, eligible, eligible_nodes, node_from_inspect


def node(name: str, *, state: str = "ready", availability: str = "active", role: str = "worker",
         arch: str = "x86_64", labels: dict[str, str] | None = None) -> ObservedNode:
    return ObservedNode(name, name, role, availability, state, "linux", arch, labels or {})


def spec(constraints: list[str] | None = None,
         platforms: list[dict[str, str]] | None = None) -> dict[str, Any]:
    placement: dict[str, Any] = {"Constraints": constraints or []}
    if platforms:
        placement["Platforms"] = platforms
    return {"TaskTemplate": {"Placement": placement}}


def test_eligible_is_ready_active_and_constraints_met() -> None:
    nodes = [node("m", role="manager"), node("w1"), node("w2", state="down"),
             node("w3", availability="drain"), node("w4", availability="pause")]
    assert [n.id for n in eligible_nodes(spec(["node.role==worker"]), nodes)] == ["w1"]
    assert [n.id for n in eligible_nodes(spec(), nodes)] == ["m", "w1"]


def test_platforms_limit_the_nodes_with_the_swarms_architecture_names() -> None:
    amd, arm = node("a"), node("b", arch="aarch64")
    assert eligible(amd, spec(platforms=[{"OS": "linux", "Architecture": "amd64"}]))
    assert not eligible(arm, spec(platforms=[{"OS": "linux", "Architecture": "amd64"}]))
    assert eligible(arm, spec(platforms=[{"OS": "linux", "Architecture": "arm64"}]))
    assert eligible(arm, spec(platforms=[{"OS": "linux"}]))


def test_node_from_inspect_reads_the_engine_body() -> None:
    n = node_from_inspect({"ID": "x", "Spec": {"Role": "manager", "Labels": {"a": "1"}},
                           "Description": {"Hostname": "mgr-1", "Platform": {"OS": "linux"}},
                           "Status": {"State": "ready", "Addr": "10.0.0.1"}})
    assert (n.hostname, n.role, n.availability, n.addr) == ("mgr-1", "manager", "active", "10.0.0.1")
    assert n.labels == {"a": "1"}
    assert n.schedulable


def test_plan_checks_and_the_wait_agree_on_a_down_node() -> None:
    """The plan used to count a down node (and every node when none was active) as able to take
    tasks, while the wait did not: now both use `eligible`. The only node that satisfies the
    placement being down is a warning (the tasks wait for it), not a blocking error; no node
    satisfying it at all is one."""
    from stackctl.plan.checks import check_placement
    from stackctl.plan.model import Plan

    nodes = [node("m", role="manager"), node("w1", state="down", labels={"zone": "east"})]
    svc = spec(["node.labels.zone==east"])
    plan = Plan(stack="s")
    check_placement("s_web", svc, nodes, plan)
    assert not plan.errors
    assert "will wait" in plan.warnings[0].message and "w1 (down, active)" in plan.warnings[0].message
    plan = Plan(stack="s")
    check_placement("s_web", spec(["node.labels.zone==west"]), nodes, plan)
    assert plan.errors and "node.labels.zone==west" in plan.errors[0].message
    raw = [{"ID": "w1", "Spec": {"Labels": {"zone": "east"}}, "Status": {"State": "down"}}]
    service: Any = {"Spec": {**svc, "Mode": {"Global": {}}}}
    assert eligible_nodes(service["Spec"], [node_from_inspect(n) for n in raw]) == []  # the wait's count


def test_plan_warns_when_no_node_is_ready_and_active() -> None:
    from stackctl.plan.checks import check_placement
    from stackctl.plan.model import Plan

    plan = Plan(stack="s")
    check_placement("s_web", spec(), [node("m", availability="drain"), node("w", state="down")], plan)
    assert not plan.errors and "will wait" in plan.warnings[0].message


def test_max_replicas_per_node_counts_the_nodes_that_are_down_as_a_warning() -> None:
    from stackctl.plan.checks import check_placement
    from stackctl.plan.model import Plan

    svc = spec()
    svc["TaskTemplate"]["Placement"]["MaxReplicas"] = 1
    svc["Mode"] = {"Replicated": {"Replicas": 2}}
    plan = Plan(stack="s")
    check_placement("s_web", svc, [node("a"), node("b", state="down")], plan)
    assert not plan.errors and "ready and active now" in plan.warnings[0].message
    plan = Plan(stack="s")
    check_placement("s_web", svc, [node("a")], plan)
    assert plan.errors and "max_replicas_per_node 1" in plan.errors[0].message
