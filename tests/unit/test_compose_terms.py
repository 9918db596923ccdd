"""Engine field changes said in compose keys and the file's units."""

from __future__ import annotations

import pytest

from stackctl.plan.compose_terms import compose_changes, compose_field, list_field


def one(engine_path, old, new, service=None):
    changes = compose_changes(engine_path, old, new, service)
    return [(c.compose_path, "(none)" if c.old is None else c.old, "(none)" if c.new is None else c.new)
            for c in changes]


@pytest.mark.parametrize(("engine_path", "old", "new", "expected"), [
    ("UpdateConfig.Delay", 2_000_000_000, 5_000_000_000, ("deploy.update_config.delay", "2s", "5s")),
    ("RollbackConfig.Monitor", None, 90_000_000_000, ("deploy.rollback_config.monitor", "(none)", "1m30s")),
    ("TaskTemplate.ContainerSpec.Args", ["sleep", "86400"], ["sleep", "99999"],
     ("command", "[sleep, 86400]", "[sleep, 99999]")),
    ("TaskTemplate.ContainerSpec.Init", None, False, ("init", "(none)", "false")),
    ("TaskTemplate.ContainerSpec.Image", "lab/busybox:1", "lab/busybox:2",
     ("image", "lab/busybox:1", "lab/busybox:2")),
    ("Mode.Replicated.Replicas", 1, 3, ("deploy.replicas", "1", "3")),
    ("TaskTemplate.Resources.Limits.NanoCPUs", 500_000_000, 1_250_000_000,
     ("deploy.resources.limits.cpus", "0.5", "1.25")),
    ("TaskTemplate.ContainerSpec.Healthcheck.StartInterval", None, 2_000_000_000,
     ("healthcheck.start_interval", "(none)", "2s")),
])
def test_scalar_fields_use_compose_keys_and_units(engine_path, old, new, expected):
    assert one(engine_path, old, new) == [expected]


def test_memory_uses_the_files_suffix():
    service = {"deploy": {"resources": {"limits": {"memory": "64M"}}}}
    assert one("TaskTemplate.Resources.Limits.MemoryBytes", 32 << 20, 64 << 20, service) == [
        ("deploy.resources.limits.memory", "32M", "64M")]
    lower = {"deploy": {"resources": {"limits": {"memory": "1gb"}}}}
    assert one("TaskTemplate.Resources.Limits.MemoryBytes", None, 1 << 30, lower) == [
        ("deploy.resources.limits.memory", "(none)", "1gb")]


def test_a_block_added_whole_is_shown_by_its_leaves():
    service = {"deploy": {"resources": {"limits": {"memory": "64M"}}}}
    assert one("TaskTemplate.Resources", None, {"Limits": {"MemoryBytes": 64 << 20}}, service) == [
        ("deploy.resources.limits.memory", "(none)", "64M")]


def test_environment_is_diffed_by_variable():
    assert one("TaskTemplate.ContainerSpec.Env", ["LEVEL=info", "A=1"], ["A=1", "LEVEL=debug", "B"]) == [
        ("environment.B", "(none)", "(no value)"), ("environment.LEVEL", "info", "debug")]


def test_constraints_are_diffed_by_element():
    assert one("TaskTemplate.Placement.Constraints", ["node.role==worker", "node.labels.a==b"],
               ["node.labels.a==b", "node.role==manager"]) == [
        ("deploy.placement.constraints", "node.role==worker", "(none)"),
        ("deploy.placement.constraints", "(none)", "node.role==manager")]


def test_labels_are_diffed_by_key():
    assert one("Labels", {"a": "1"}, {"a": "2", "b": ""}) == [
        ("deploy.labels.a", "1", "2"), ("deploy.labels.b", "(none)", '""')]


def test_a_field_no_file_sets_keeps_its_engine_path():
    assert one("TaskTemplate.ForceUpdate", 1, 2) == [(None, "1", "2")]


def test_longest_prefix_wins():
    assert compose_field("Mode.Replicated.Replicas")[0] == "deploy.replicas"
    assert compose_field("Mode")[0] == "deploy.mode"
    assert compose_field("TaskTemplate.ContainerSpec.Mounts[2].ReadOnly")[0] == "volumes"


def test_ports_mounts_and_secret_references_read_as_the_short_syntax():
    port = {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"}
    assert one("EndpointSpec.Ports", [port], [{**port, "PublishedPort": 8081}]) == [
        ("ports", "8080:80/tcp", "(none)"), ("ports", "(none)", "8081:80/tcp")]
    mount = {"Type": "volume", "Source": "st_data", "Target": "/data"}
    assert one("TaskTemplate.ContainerSpec.Mounts", [], [{**mount, "ReadOnly": True}]) == [
        ("volumes", "(none)", "st_data:/data:ro")]
    ref = {"SecretName": "st_pw-1a2b3c4d", "File": {"Name": "pw", "UID": "0", "GID": "0", "Mode": 292}}
    assert one("TaskTemplate.ContainerSpec.Secrets", [], [ref]) == [
        ("secrets", "(none)", "st_pw-1a2b3c4d as pw")]


def test_a_change_inside_an_element_names_the_whole_list():
    assert list_field("EndpointSpec.Ports[0].PublishedPort") == "EndpointSpec.Ports"
    assert list_field("TaskTemplate.ContainerSpec.Secrets[1]") == "TaskTemplate.ContainerSpec.Secrets"
    assert list_field("UpdateConfig.Delay") is None


def test_labels_with_dots_are_quoted():
    (change,) = compose_changes("Labels", {}, {"com.example.team": "a"})
    assert change.compose_path == 'deploy.labels["com.example.team"]'
    assert change.key_path == ("deploy", "labels", "com.example.team")


def test_the_files_own_text_is_shown_when_it_means_the_value():
    service = {"deploy": {"update_config": {"delay": "90s"}, "resources": {"limits": {"cpus": "0.50"}}}}
    assert one("UpdateConfig.Delay", 2_000_000_000, 90_000_000_000, service) == [
        ("deploy.update_config.delay", "2s", "90s")]
    assert one("TaskTemplate.Resources.Limits.NanoCPUs", None, 500_000_000, service) == [
        ("deploy.resources.limits.cpus", "(none)", "0.50")]


def test_network_attachments_read_as_names_and_aliases():
    default = {"Target": "st_default", "Aliases": ["api"]}
    back = {"Target": "st_back", "Aliases": ["api", "db"]}
    assert one("TaskTemplate.Networks", [default], [default, back]) == [
        ("networks", "(none)", "st_back (aliases: api, db)")]
