"""normalize_service_spec: same meaning compares equal, different meaning does not."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import yaml

from stackctl.convert import convert_stack
from stackctl.convert.normalize_spec import normalize_service_spec as normalize
from tests.paths import CORPUS

ATSEA = CORPUS / "expected_config" / "dockersamples__atsea-sample-shop-app__docker-stack.yml.yml"
S = 1_000_000_000

# Recorded from the lab (dockerd 20.10.24, API 1.41) after `docker stack deploy` of the AtSea file
# with `replicas: 0` on every service (stack `cvatsea`).
ENGINE_APPSERVER = json.loads("""
{"Name":"cvatsea_appserver","Labels":{"com.docker.stack.image":"dockersamples/atsea_app",
"com.docker.stack.namespace":"cvatsea"},"TaskTemplate":{"ContainerSpec":{"Image":"dockersamples/atsea_app:latest",
"Labels":{"com.docker.stack.namespace":"cvatsea"},"Privileges":{"CredentialSpec":null,"SELinuxContext":null,
"NoNewPrivileges":false},"StopGracePeriod":10000000000,"DNSConfig":{},"Secrets":[{"File":{"Name":"postgres_password",
"UID":"0","GID":"0","Mode":292},"SecretID":"hwsis0irnztr6l8sa6th7bstv","SecretName":"postgres_password"}],
"Isolation":"default"},"Resources":{},"RestartPolicy":{"Condition":"on-failure","Delay":5000000000,"MaxAttempts":3,
"Window":120000000000},"Placement":{"Constraints":["node.role == worker"]},
"Networks":[{"Target":"z8xgouks7za0o8rf6srhfpin5","Aliases":["appserver"]},{"Target":"icfvzik40wm1lwdbh4pj0shud","Aliases":["appserver"]},
{"Target":"hluutf1uook7rey8nsx46qo0h","Aliases":["appserver"]}],"ForceUpdate":0,"Runtime":"container"},
"Mode":{"Replicated":{"Replicas":0}},"UpdateConfig":{"Parallelism":2,"FailureAction":"rollback","Monitor":5000000000,
"MaxFailureRatio":0,"Order":"stop-first"},"RollbackConfig":{"Parallelism":1,"FailureAction":"pause",
"Monitor":5000000000,"MaxFailureRatio":0,"Order":"stop-first"},"EndpointSpec":{"Mode":"vip"}}
""")
ENGINE_REVERSE_PROXY = json.loads("""
{"Name":"cvatsea_reverse_proxy","Labels":{"com.docker.stack.image":"dockersamples/atseasampleshopapp_reverse_proxy",
"com.docker.stack.namespace":"cvatsea"},"TaskTemplate":{"ContainerSpec":{
"Image":"dockersamples/atseasampleshopapp_reverse_proxy:latest","Labels":{"com.docker.stack.namespace":"cvatsea"},
"Privileges":{"CredentialSpec":null,"SELinuxContext":null,"NoNewPrivileges":false},"StopGracePeriod":10000000000,
"DNSConfig":{},"Secrets":[{"File":{"Name":"revprox_cert","UID":"0","GID":"0","Mode":292},
"SecretID":"u4tfci9yw7be89ouennyowods","SecretName":"revprox_cert"},{"File":{"Name":"revprox_key","UID":"0","GID":"0",
"Mode":292},"SecretID":"ph4ezk8iepkg5pnxu4xbr829r","SecretName":"revprox_key"}],"Isolation":"default"},
"Resources":{},"RestartPolicy":{"Condition":"any","Delay":5000000000,"MaxAttempts":0},"Placement":{},
"Networks":[{"Target":"icfvzik40wm1lwdbh4pj0shud","Aliases":["reverse_proxy"]}],"ForceUpdate":0,
"Runtime":"container"},"Mode":{"Replicated":{"Replicas":0}},"UpdateConfig":{"Parallelism":1,"FailureAction":"pause",
"Monitor":5000000000,"MaxFailureRatio":0,"Order":"stop-first"},"RollbackConfig":{"Parallelism":1,
"FailureAction":"pause","Monitor":5000000000,"MaxFailureRatio":0,"Order":"stop-first"},"EndpointSpec":{"Mode":"vip",
"Ports":[{"Protocol":"tcp","TargetPort":80,"PublishedPort":80,"PublishMode":"ingress"},{"Protocol":"tcp",
"TargetPort":443,"PublishedPort":443,"PublishMode":"ingress"}]}}
""")
NETWORK_IDS = {
    "cvatsea_back-tier": "z8xgouks7za0o8rf6srhfpin5",
    "cvatsea_front-tier": "icfvzik40wm1lwdbh4pj0shud",
    "cvatsea_payment": "hluutf1uook7rey8nsx46qo0h",
}


@pytest.fixture(scope="module")
def atsea() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load(ATSEA.read_text())
    for svc in config["services"].values():
        svc.setdefault("deploy", {})["replicas"] = 0
    return convert_stack(config, "cvatsea", environ={}).services


@pytest.mark.parametrize(
    ("name", "engine"),
    [("cvatsea_appserver", ENGINE_APPSERVER), ("cvatsea_reverse_proxy", ENGINE_REVERSE_PROXY)],
)
def test_recorded_engine_spec_equals_ours(atsea: dict[str, Any], name: str, engine: dict[str, Any]) -> None:
    assert normalize(atsea[name], NETWORK_IDS) == normalize(engine, NETWORK_IDS)


def test_without_the_network_map_ids_differ(atsea: dict[str, Any]) -> None:
    assert normalize(atsea["cvatsea_appserver"]) != normalize(ENGINE_APPSERVER)


def test_idempotent(atsea: dict[str, Any]) -> None:
    once = normalize(ENGINE_APPSERVER, NETWORK_IDS)
    assert normalize(once, NETWORK_IDS) == once
    assert normalize(atsea["cvatsea_visualizer"]) == normalize(normalize(atsea["cvatsea_visualizer"]))


def test_input_is_not_modified() -> None:
    before = copy.deepcopy(ENGINE_APPSERVER)
    normalize(ENGINE_APPSERVER, NETWORK_IDS)
    assert ENGINE_APPSERVER == before


def base() -> dict[str, Any]:
    return {"Name": "s_web", "TaskTemplate": {"ContainerSpec": {"Image": "nginx"}}}


def with_(path: str, value: Any, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    spec = copy.deepcopy(spec or base())
    node = spec
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return spec


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("Mode", {"Replicated": {"Replicas": 1}}),
        ("Mode", {"Replicated": {}}),
        ("EndpointSpec", {"Mode": "vip"}),
        ("TaskTemplate.RestartPolicy", {"Condition": "any", "Delay": 5 * S, "MaxAttempts": 0}),
        ("TaskTemplate.RestartPolicy", {"Condition": ""}),
        (
            "UpdateConfig",
            {
                "Parallelism": 1,
                "FailureAction": "pause",
                "Monitor": 5 * S,
                "MaxFailureRatio": 0,
                "Order": "stop-first",
            },
        ),
        ("RollbackConfig", {"Parallelism": 1}),
        ("TaskTemplate.ContainerSpec.StopGracePeriod", 10 * S),
        ("TaskTemplate.ContainerSpec.Isolation", "default"),
        ("TaskTemplate.ContainerSpec.Image", "nginx:latest@sha256:" + "a" * 64),
        ("TaskTemplate.ContainerSpec.Image", "docker.io/library/nginx:latest"),
        ("TaskTemplate.ContainerSpec.Privileges", {"CredentialSpec": None, "SELinuxContext": None}),
        ("TaskTemplate.ContainerSpec.DNSConfig", {}),
        ("TaskTemplate.ContainerSpec.Labels", {}),
        ("TaskTemplate.ForceUpdate", 3),
        ("TaskTemplate.Runtime", "container"),
        ("TaskTemplate.Placement", {"Platforms": [{"Architecture": "amd64", "OS": "linux"}]}),
        ("TaskTemplate.Resources", {"Limits": {}, "Reservations": {}}),
        ("TaskTemplate.LogDriver", {"Name": ""}),
    ],
)
def test_engine_defaults_mean_unset(path: str, value: Any) -> None:
    assert normalize(with_(path, value)) == normalize(base())


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("Mode", {"Replicated": {"Replicas": 0}}),
        ("Mode", {"Global": {}}),
        ("Mode", {"ReplicatedJob": {}}),
        ("EndpointSpec", {"Mode": "dnsrr"}),
        ("TaskTemplate.RestartPolicy", {"Condition": "any", "Delay": 0}),
        ("UpdateConfig", {"Parallelism": 0}),
        ("UpdateConfig", {"Parallelism": 1, "Order": "start-first"}),
        ("TaskTemplate.ContainerSpec.StopGracePeriod", 0),
        ("TaskTemplate.ContainerSpec.Init", False),
        ("TaskTemplate.ContainerSpec.Image", "nginx:1.25"),
        ("TaskTemplate.ContainerSpec.Labels", {"empty": ""}),
        ("TaskTemplate.ContainerSpec.Env", ["A="]),
        ("TaskTemplate.ContainerSpec.ReadOnly", True),
        ("TaskTemplate.Placement", {"Constraints": ["node.role == worker"]}),
        ("TaskTemplate.Networks", [{"Target": "s_default"}]),
        ("Labels", {"com.docker.stack.namespace": "s"}),
    ],
)
def test_real_differences_stay(path: str, value: Any) -> None:
    assert normalize(with_(path, value)) != normalize(base())


def test_pids_limit_round_trip() -> None:
    ours = with_("TaskTemplate.Resources", {"Limits": {"Pids": 100}})
    engine = with_(
        "TaskTemplate.ContainerSpec.PidsLimit", 100, with_("TaskTemplate.Resources", {"Limits": {}})
    )
    assert normalize(ours) == normalize(engine)


def test_unordered_lists_are_sorted_but_ordered_ones_kept() -> None:
    a = with_(
        "EndpointSpec",
        {"Ports": [{"TargetPort": 2, "PublishedPort": 20}, {"TargetPort": 1, "PublishedPort": 10}]},
    )
    b = with_(
        "EndpointSpec",
        {"Ports": [{"TargetPort": 1, "PublishedPort": 10}, {"TargetPort": 2, "PublishedPort": 20}]},
    )
    assert normalize(a) == normalize(b)
    assert normalize(with_("TaskTemplate.ContainerSpec.Args", ["a", "b"])) != normalize(
        with_("TaskTemplate.ContainerSpec.Args", ["b", "a"])
    )


def test_secret_ids_are_ignored() -> None:
    ref = {"File": {"Name": "t", "UID": "0", "GID": "0", "Mode": 292}, "SecretName": "s"}
    a = with_("TaskTemplate.ContainerSpec.Secrets", [{**ref, "SecretID": ""}])
    b = with_("TaskTemplate.ContainerSpec.Secrets", [{**ref, "SecretID": "abc123"}])
    assert normalize(a) == normalize(b)


def test_fields_too_new_for_the_engine_are_dropped_with_api_version() -> None:
    spec = with_("TaskTemplate.ContainerSpec.Healthcheck", {"Test": ["CMD", "true"], "StartInterval": S})
    spec = with_("TaskTemplate.ContainerSpec.OomScoreAdj", 100, spec)
    engine = with_("TaskTemplate.ContainerSpec.Healthcheck", {"Test": ["CMD", "true"]})
    assert normalize(spec, api_version="1.41") == normalize(engine, api_version="1.41")
    assert normalize(spec, api_version="1.47") != normalize(engine, api_version="1.47")
    assert normalize(spec) != normalize(engine)


def _container(**fields: Any) -> dict[str, Any]:
    return {"Name": "s_web", "TaskTemplate": {"ContainerSpec": {"Image": "busybox", **fields}}}


def test_init_false_is_not_unset() -> None:
    """The engine stores `Init: false` apart from unset (checked on the lab: null vs false)."""
    assert normalize(_container(Init=False)) != normalize(_container())
    assert normalize(_container(Init=True)) != normalize(_container(Init=False))


def test_stackctl_labels_are_not_the_users() -> None:
    plain = {**_container(), "Labels": {"com.docker.stack.namespace": "s"}}
    stamped = {**_container(), "Labels": {"com.docker.stack.namespace": "s",
                                          "com.docker.stackctl.spec-digest": "sha256:x"}}
    assert normalize(plain) == normalize(stamped)


def test_start_interval_counts_only_from_api_1_44() -> None:
    with_start = _container(Healthcheck={"Test": ["CMD", "true"], "StartInterval": 2 * S})
    stored_by_1_41 = _container(Healthcheck={"Test": ["CMD", "true"]})
    assert normalize(with_start, api_version="1.41") == normalize(stored_by_1_41, api_version="1.41")
    assert normalize(with_start, api_version="1.44") != normalize(stored_by_1_41, api_version="1.44")


def test_prune_empty_keeps_user_maps() -> None:
    from stackctl.convert.normalize_spec import prune_empty

    assert prune_empty({"Name": "", "Options": {"a": ""}, "X": 0}) == {"Options": {"a": ""}}
