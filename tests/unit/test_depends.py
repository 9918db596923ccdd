"""The dependency graph (stackctl/model/depends.py): edges, tiers, cycles."""

from __future__ import annotations

import pytest

from stackctl.model.depends import (
    COMPLETED,
    HEALTHY,
    STARTED,
    DependencyCycle,
    Edge,
    dependency_graph,
    edges_of,
    find_cycle,
)


def _config(**services: object) -> dict:
    return {"services": {name: ({"depends_on": deps} if deps is not None else {})
                         for name, deps in services.items()}}


def test_list_syntax_means_service_started() -> None:
    assert edges_of(_config(app=["db"], db=None)) == [Edge("app", "db", STARTED, True, False)]


def test_long_syntax_keeps_condition_required_restart() -> None:
    config = _config(app={"db": {"condition": HEALTHY, "required": True, "restart": True},
                          "cache": {"condition": STARTED, "required": False}}, db=None, cache=None)
    assert edges_of(config) == [Edge("app", "db", HEALTHY, True, True), Edge("app", "cache", STARTED, False)]


def test_tiers_in_topological_order_with_parallel_services_together() -> None:
    config = _config(app={"migrate": {"condition": COMPLETED}, "db": {"condition": HEALTHY}},
                     migrate=["db"], db=None, cache=None, web=["app", "cache"])
    graph = dependency_graph(config)
    assert graph.tiers == (("cache", "db"), ("migrate",), ("app",), ("web",))
    assert graph.order == ("cache", "db", "migrate", "app", "web")
    assert graph.tier_of("app") == 2
    conditions = {e.dependency: e.condition for e in graph.dependencies("app")}
    assert conditions == {"migrate": COMPLETED, "db": HEALTHY}
    assert [e.service for e in graph.dependents("db")] == ["app", "migrate"]


def test_no_dependencies_is_one_tier() -> None:
    assert dependency_graph(_config(b=None, a=None)).tiers == (("a", "b"),)
    assert dependency_graph({}).tiers == ()


def test_unknown_dependencies_are_left_out() -> None:
    graph = dependency_graph(_config(app={"ghost": {"required": False}}, db=None))
    assert graph.edges == ()
    assert graph.tiers == (("app", "db"),)


def test_cycle_is_reported_as_a_path() -> None:
    with pytest.raises(DependencyCycle) as caught:
        dependency_graph(_config(a=["b"], b=["c"], c=["a"], d=None))
    assert caught.value.cycle == ("a", "b", "c", "a")
    assert "a -> b -> c -> a" in str(caught.value)


def test_self_dependency_is_a_cycle() -> None:
    assert find_cycle(["a"], [Edge("a", "a")]) == ["a", "a"]


def test_find_cycle_none_for_a_dag() -> None:
    edges = [Edge("a", "b"), Edge("a", "c"), Edge("b", "c")]
    assert find_cycle(["a", "b", "c"], edges) is None


def test_long_chain_is_fast_and_ordered() -> None:
    config = _config(**{f"s{i}": [f"s{i - 1}"] if i else None for i in range(300)})
    graph = dependency_graph(config)
    assert len(graph.tiers) == 300 and graph.order[0] == "s0" and graph.order[-1] == "s299"
