"""The compose field registry (stackctl/model/compose.py): one table drives order, normalisation and words."""

from __future__ import annotations

from stackctl.load.normalize import _SERVICE_FIELDS
from stackctl.load.order import TOP, MapOf, Struct
from stackctl.model.compose import BY_PATH, FIELDS, compose_key, engine_field, split_path
from stackctl.plan.compose_terms import compose_field


def test_every_row_is_once_and_under_a_row() -> None:
    assert len(BY_PATH) == len(FIELDS)
    for row in FIELDS:
        parts = row.parts
        if len(parts) > 1:
            parent = ".".join(parts[:-1]).replace(".[]", "[]")
            assert parent in BY_PATH, row.path


def test_each_engine_path_has_one_compose_key() -> None:
    seen: dict[str, str] = {}
    for row in FIELDS:
        for path in row.engine:
            assert path not in seen, path
            seen[path] = row.path
            assert row.service_key is not None


def test_split_path() -> None:
    assert split_path("services.*.ports[].mode") == ("services", "*", "ports", "[]", "mode")


def test_the_order_comes_from_the_table() -> None:
    assert isinstance(TOP, Struct)
    assert TOP.keys == ("version", "name", "services", "networks", "volumes", "secrets", "configs")
    services = TOP.sub["services"]
    assert isinstance(services, MapOf) and isinstance(services.item, Struct)
    deploy = services.item.sub["deploy"]
    assert isinstance(deploy, Struct)
    assert deploy.keys[:3] == ("mode", "replicas", "labels")
    configs = TOP.sub["configs"]
    assert isinstance(configs, MapOf) and isinstance(configs.item, Struct)
    assert configs.item.keys == ("name", "file", "external", "labels", "template_driver")


def test_the_normaliser_keeps_the_table_keys() -> None:
    assert "dns_opt" not in _SERVICE_FIELDS  # named for the plan's words only
    assert "environment" not in _SERVICE_FIELDS  # its own code
    assert {"image", "deploy", "healthcheck", "ulimits"} <= set(_SERVICE_FIELDS)


def test_engine_path_to_compose_key_and_unit() -> None:
    found = engine_field("UpdateConfig.Delay")
    assert found is not None and found[0].unit == "duration" and found[1] == ""
    assert compose_key("Mode.Replicated.Replicas") == "deploy.replicas"
    assert compose_key("Mode") == "deploy.mode"
    assert compose_key("TaskTemplate.Resources") == "deploy.resources"  # a block: the key holding it
    assert compose_key("TaskTemplate.ForceUpdate") is None
    assert compose_key("TaskTemplate.ContainerSpec.PidsLimit") == "deploy.resources.limits.pids"
    field = compose_field("EndpointSpec.Ports[0].PublishedPort")
    assert field is not None and field[0] == "ports" and field[2] == "[0].PublishedPort"


def test_interpolation_casts_come_from_the_table() -> None:
    from stackctl.load.interpolate import _caster_for

    replicas = _caster_for(("services", "web", "deploy", "replicas"))
    assert replicas is not None and replicas("3") == 3
    external = _caster_for(("networks", "front", "external"))
    assert external is not None and external("yes") is True
    # as the reference: no cast for pids
    assert _caster_for(("services", "web", "deploy", "resources", "limits", "pids")) is None
    assert BY_PATH["services.*.ports[].published"].cast == "int"


def test_merge_rules_come_from_the_table() -> None:
    from stackctl.load.merge import merge_service

    base: dict[str, object] = {"command": ["a", "b"], "ports": [{"target": 80, "published": 8080}],
                               "labels": {"k": "v"}}
    over: dict[str, object] = {"command": ["c"], "labels": {"k": ""},
                               "ports": [{"target": 81, "published": 8080}, {"target": 90, "published": 70}]}
    merged = merge_service(base, over)
    assert merged["command"] == ["c"]  # replaced
    # merged by published, sorted by it
    assert merged["ports"] == [{"target": 90, "published": 70}, {"target": 81, "published": 8080}]
    assert merged["labels"] == {"k": "v"}  # a string map: an empty value does not clear
    assert BY_PATH["services.*.volumes"].merge == "by:target"
