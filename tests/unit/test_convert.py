"""convert: a normalised stack config → Engine API specs (pure; the lab oracle is in integration)."""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.convert import DesiredStack, convert_stack
from stackctl.convert.service import effective_capabilities
from stackctl.errors import ConvertError
from stackctl.units import parse_bytes, parse_cpus, parse_duration
from stackctl.validate.meaning import check_meaning
from tests.paths import CORPUS

CORPUS_CONFIGS = CORPUS / "expected_config"
GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "convert"
S = 1_000_000_000


def fake_read(path: str) -> bytes:
    return f"content of {os.path.basename(path)}".encode()


def convert(config: dict[str, Any], stack: str = "st", **kwargs: Any) -> DesiredStack:
    kwargs.setdefault("read_file", fake_read)
    kwargs.setdefault("environ", {})
    return convert_stack(config, stack, **kwargs)


def one_service(svc: dict[str, Any], **top: Any) -> dict[str, Any]:
    """The spec of service `web` in a stack made of `svc` plus top-level sections."""
    return convert({"version": "3.13", "services": {"web": svc}, **top}).services["st_web"]


def errors_of(config: dict[str, Any]) -> list[str]:
    with pytest.raises(ConvertError) as info:
        convert(config)
    return [d.format() for d in info.value.diagnostics if d.severity == "error"]


def container(spec: dict[str, Any]) -> dict[str, Any]:
    return spec["TaskTemplate"]["ContainerSpec"]


# --- value formats ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("10s", 10 * S),
        ("1m30s", 90 * S),
        ("1.5s", 1_500_000_000),
        ("2h", 7200 * S),
        ("100ms", 100_000_000),
        ("1us", 1000),
        ("-1s", -S),
        ("1h0m0s", 3600 * S),
    ],
)
def test_parse_duration_follows_go(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["10", "1d", "", "s", "1x"])
def test_parse_duration_rejects_what_go_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("52428800", 52428800),
        ("50M", 52428800),
        ("1.5g", 1610612736),
        ("10MB", 10 << 20),
        ("512 kib", 512 << 10),
        ("100b", 100),
        (4096, 4096),
    ],
)
def test_parse_bytes_is_base_1024(text: Any, size: int) -> None:
    assert parse_bytes(text) == size


def test_parse_bytes_errors() -> None:
    with pytest.raises(ValueError, match="invalid suffix"):
        parse_bytes("10x")
    with pytest.raises(ValueError, match="invalid size"):
        parse_bytes("lots")


def test_parse_cpus() -> None:
    assert parse_cpus("0.5") == 500_000_000
    assert parse_cpus("2") == 2 * S
    assert parse_cpus("0.000000001") == 1
    with pytest.raises(ValueError, match="too precise"):
        parse_cpus("0.0000000001")


# --- service: names, labels, container basics --------------------------------------------------------


def test_names_and_labels() -> None:
    spec = one_service(
        {"image": "nginx", "labels": {"a": "1", "empty": ""}, "deploy": {"labels": {"d": "x"}}}
    )
    assert spec["Name"] == "st_web"
    assert spec["Labels"] == {"d": "x", "com.docker.stack.namespace": "st", "com.docker.stack.image": "nginx"}
    assert container(spec)["Image"] == "nginx:latest"
    assert container(spec)["Labels"] == {"a": "1", "empty": "", "com.docker.stack.namespace": "st"}


def test_stack_labels_win_over_user_labels() -> None:
    spec = one_service({"image": "x", "deploy": {"labels": {"com.docker.stack.namespace": "evil"}}})
    assert spec["Labels"]["com.docker.stack.namespace"] == "st"


def test_command_entrypoint_and_simple_fields() -> None:
    spec = one_service(
        {
            "image": "busybox:latest",
            "entrypoint": "/bin/sh -c",
            "command": ["echo", "hi there"],
            "hostname": "h",
            "user": "1000",
            "working_dir": "/w",
            "tty": True,
            "stdin_open": True,
            "read_only": True,
            "init": False,
            "stop_signal": "SIGTERM",
            "stop_grace_period": "1m30s",
            "isolation": "process",
            "oom_score_adj": 100,
        }
    )
    c = container(spec)
    assert c["Command"] == ["/bin/sh", "-c"] and c["Args"] == ["echo", "hi there"]
    assert (c["Hostname"], c["User"], c["Dir"]) == ("h", "1000", "/w")
    assert c["TTY"] is c["OpenStdin"] is c["ReadOnly"] is True
    assert c["Init"] is False  # explicit false is kept: nil means "daemon default"
    assert c["StopGracePeriod"] == 90 * S and c["StopSignal"] == "SIGTERM"
    assert c["Isolation"] == "process" and c["OomScoreAdj"] == 100


def test_string_command_is_split_shell_style() -> None:
    assert container(one_service({"image": "x", "command": "sh -c 'echo a b'"}))["Args"] == [
        "sh",
        "-c",
        "echo a b",
    ]


def test_environment_sorted_and_bare_when_null() -> None:
    env = container(one_service({"image": "x", "environment": {"B": "2", "A": None, "C": "", "N": 5}}))["Env"]
    assert env == ["A", "B=2", "C=", "N=5"]


def test_healthcheck_conversion() -> None:
    hc = container(
        one_service(
            {
                "image": "x",
                "healthcheck": {
                    "test": "curl -f localhost",
                    "interval": "10s",
                    "timeout": "1s",
                    "retries": 3,
                    "start_period": "30s",
                    "start_interval": "2s",
                },
            }
        )
    )["Healthcheck"]
    assert hc == {
        "Test": ["CMD-SHELL", "curl -f localhost"],
        "Interval": 10 * S,
        "Timeout": S,
        "StartPeriod": 30 * S,
        "StartInterval": 2 * S,
        "Retries": 3,
    }
    disabled = container(one_service({"image": "x", "healthcheck": {"disable": True}}))["Healthcheck"]
    assert disabled == {"Test": ["NONE"]}


def test_healthcheck_test_and_disable_conflict() -> None:
    errs = errors_of(
        {"services": {"web": {"image": "x", "healthcheck": {"test": ["CMD", "true"], "disable": True}}}}
    )
    assert errs == ["services.web.healthcheck: test and disable can't be set at the same time"]


def test_hosts_and_dns() -> None:
    spec = one_service(
        {
            "image": "x",
            "extra_hosts": ["a:1.2.3.4", "v6:::1", "b=5.6.7.8", "c:[::2]"],
            "dns": "8.8.8.8",
            "dns_search": ["example.com"],
        }
    )
    assert container(spec)["Hosts"] == ["1.2.3.4 a", "::1 v6", "5.6.7.8 b", "::2 c"]
    assert container(spec)["DNSConfig"] == {"Nameservers": ["8.8.8.8"], "Search": ["example.com"]}
    assert container(one_service({"image": "x", "extra_hosts": {"z": "1.1.1.1", "a": "2.2.2.2"}}))[
        "Hosts"
    ] == ["2.2.2.2 a", "1.1.1.1 z"]


def test_unparseable_dns_server_is_dropped_with_a_warning() -> None:
    desired = convert({"services": {"web": {"image": "x", "dns": ["nameserver.example", "1.1.1.1"]}}})
    assert container(desired.services["st_web"])["DNSConfig"] == {"Nameservers": ["1.1.1.1"]}
    assert [w.path for w in desired.warnings] == ["services.web.dns"]


@pytest.mark.parametrize(
    ("add", "drop", "eff_add", "eff_drop"),
    [
        (["net_admin", "CAP_SYS_TIME"], ["mknod"], ["CAP_NET_ADMIN", "CAP_SYS_TIME"], ["CAP_MKNOD"]),
        (["ALL", "NET_ADMIN"], ["NET_ADMIN", "SYS_ADMIN"], ["ALL"], ["CAP_NET_ADMIN", "CAP_SYS_ADMIN"]),
        (["NET_ADMIN"], ["net_admin", "MKNOD"], ["CAP_NET_ADMIN"], ["CAP_MKNOD"]),
        (["RESET"], ["ALL", "MKNOD"], [], ["ALL"]),
        ([" chown ", "CHOWN"], [], ["CAP_CHOWN"], []),
    ],
)
def test_effective_capabilities(
    add: list[str], drop: list[str], eff_add: list[str], eff_drop: list[str]
) -> None:
    assert effective_capabilities(add, drop) == (eff_add, eff_drop)


def test_sysctls_and_ulimits() -> None:
    c = container(
        one_service(
            {
                "image": "x",
                "sysctls": ["net.core.somaxconn=1024"],
                "ulimits": {"nproc": 100, "nofile": {"soft": 1, "hard": 2}},
            }
        )
    )
    assert c["Sysctls"] == {"net.core.somaxconn": "1024"}
    assert c["Ulimits"] == [
        {"Name": "nofile", "Soft": 1, "Hard": 2},
        {"Name": "nproc", "Soft": 100, "Hard": 100},
    ]


# --- secrets and configs references -----------------------------------------------------------------


SECRETS = {
    "s1": {"file": "/x/s1.txt"},
    "s2": {"name": "custom_name", "file": "/x/s2.txt"},
    "ext": {"external": True, "name": "outside"},
    "legacy": {"external": {"name": "old_style"}},
}


def test_secret_references_defaults_and_sorting() -> None:
    spec = one_service(
        {
            "image": "x",
            "secrets": [
                "s1",
                {"source": "s2", "target": "t2", "uid": "10", "gid": "20", "mode": 0o400},
                "ext",
                "legacy",
            ],
        },
        secrets=SECRETS,
    )
    assert container(spec)["Secrets"] == [
        {
            "File": {"Name": "t2", "UID": "10", "GID": "20", "Mode": 0o400},
            "SecretID": "",
            "SecretName": "custom_name",
        },
        {
            "File": {"Name": "legacy", "UID": "0", "GID": "0", "Mode": 0o444},
            "SecretID": "",
            "SecretName": "old_style",
        },
        {
            "File": {"Name": "ext", "UID": "0", "GID": "0", "Mode": 0o444},
            "SecretID": "",
            "SecretName": "outside",
        },
        {
            "File": {"Name": "s1", "UID": "0", "GID": "0", "Mode": 0o444},
            "SecretID": "",
            "SecretName": "st_s1",
        },
    ]


def test_config_reference_target_defaults_to_key() -> None:
    spec = one_service(
        {"image": "x", "configs": [{"source": "c1"}, {"source": "c2", "target": "/etc/c2"}]},
        configs={"c1": {"file": "/x/c1"}, "c2": {"file": "/x/c2"}},
    )
    assert [(r["File"]["Name"], r["ConfigName"], r["ConfigID"]) for r in container(spec)["Configs"]] == [
        ("c1", "st_c1", ""),
        ("/etc/c2", "st_c2", ""),
    ]


@pytest.mark.parametrize(("service", "kind"), [
    ({"secrets": ["nope"]}, "secret"), ({"configs": [{"source": "nope"}]}, "config"),
    ({"networks": ["nope"]}, "network"),
    ({"volumes": [{"type": "volume", "source": "nope", "target": "/m"}]}, "volume"),
    ({"volumes": [{"type": "cluster", "source": "nope", "target": "/m"}]}, "volume"),
    ({"credential_spec": {"config": "nope"}}, "config"),
])
def test_undefined_references_are_validates_to_report(service: dict[str, Any], kind: str) -> None:
    """Convert trusts validate (validate/meaning.py: `undefined secret "nope"`...) and asserts."""
    config = {"services": {"web": {"image": "x", **service}}}
    with pytest.raises(AssertionError, match="validate/meaning.py checks references"):
        convert(config)
    found = check_meaning(config, [], ".")
    assert [d.message for d in found if d.severity == "error"] == [f'undefined {kind} "nope"']


def test_duplicate_targets_are_validates_to_report() -> None:
    config = {"services": {"web": {"image": "x", "secrets": ["s1", {"source": "s2", "target": "s1"}]}},
              "secrets": {"s1": {"file": "/x/s1"}, "s2": {"file": "/x/s2"}}}
    with pytest.raises(AssertionError, match="validate/meaning.py checks references"):
        convert(config)
    found = check_meaning(config, [], "/")
    assert 'duplicate secret target "s1"' in [d.message for d in found]


def test_credential_spec_config_adds_a_runtime_config_reference() -> None:
    spec = one_service(
        {"image": "x", "credential_spec": {"config": "cred"}}, configs={"cred": {"file": "/x/c"}}
    )
    assert container(spec)["Privileges"] == {"CredentialSpec": {"Config": "st_cred"}}
    assert container(spec)["Configs"] == [{"Runtime": {}, "ConfigID": "", "ConfigName": "st_cred"}]
    errs = errors_of({"services": {"web": {"image": "x", "credential_spec": {"file": "a", "registry": "b"}}}})
    assert errs == [
        'services.web.credential_spec: invalid credential spec: cannot specify both "File" and "Registry"'
    ]


# --- mounts --------------------------------------------------------------------------------------------


def test_mounts_of_every_type() -> None:
    volumes = {
        "data": {"driver": "local", "driver_opts": {"type": "tmpfs", "o": 1}, "labels": {"v": "1"}},
        "named": {"name": "exact"},
        "ext": {"external": True, "name": "outside"},
    }
    mounts = container(
        one_service(
            {
                "image": "x",
                "volumes": [
                    {"type": "volume", "source": "data", "target": "/d", "volume": {"nocopy": True}},
                    {"type": "volume", "source": "named", "target": "/n", "read_only": True},
                    {"type": "volume", "source": "ext", "target": "/e"},
                    {"type": "volume", "target": "/anon"},
                    {
                        "type": "bind",
                        "source": "/host",
                        "target": "/h",
                        "bind": {"propagation": "rslave"},
                        "consistency": "cached",
                    },
                    {"type": "tmpfs", "target": "/t", "tmpfs": {"size": 1024}},
                    {"type": "cluster", "source": "group:g", "target": "/c"},
                    {
                        "type": "npipe",
                        "source": r"\\.\pipe\docker_engine",
                        "target": r"\\.\pipe\docker_engine",
                    },
                ],
            },
            volumes=volumes,
        )
    )["Mounts"]
    assert mounts == [
        {
            "Type": "volume",
            "Target": "/d",
            "Source": "st_data",
            "VolumeOptions": {
                "NoCopy": True,
                "Labels": {"v": "1", "com.docker.stack.namespace": "st"},
                "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs", "o": "1"}},
            },
        },
        {
            "Type": "volume",
            "Target": "/n",
            "Source": "exact",
            "ReadOnly": True,
            "VolumeOptions": {"Labels": {"com.docker.stack.namespace": "st"}},
        },
        {"Type": "volume", "Target": "/e", "Source": "outside"},
        {"Type": "volume", "Target": "/anon"},
        {
            "Type": "bind",
            "Target": "/h",
            "Source": "/host",
            "Consistency": "cached",
            "BindOptions": {"Propagation": "rslave"},
        },
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": 1024}},
        {"Type": "cluster", "Target": "/c", "Source": "group:g"},
        {"Type": "npipe", "Target": r"\\.\pipe\docker_engine", "Source": r"\\.\pipe\docker_engine"},
    ]


def test_mount_errors() -> None:
    errs = errors_of(
        {
            "services": {
                "web": {
                    "image": "x",
                    "volumes": [
                        {"type": "tmpfs", "source": "x", "target": "/t"},
                        {"type": "bind", "target": "/b"},
                        {"type": "volume", "target": "/v", "bind": {"propagation": "shared"}},
                        {"type": "weird", "target": "/w"},
                    ],
                }
            }
        }
    )
    assert errs == [
        "services.web.volumes[0].source: invalid tmpfs source, source must be empty",
        'services.web.volumes[1]: invalid mount config for type "bind": field Source must not be empty',
        "services.web.volumes[2].bind: bind options are incompatible with type volume",
        "services.web.volumes[3].type: volume type must be volume, bind, tmpfs, npipe, cluster or image",
    ]


# --- task template -----------------------------------------------------------------------------------


def test_resources_and_placement() -> None:
    spec = one_service(
        {
            "image": "x",
            "deploy": {
                "resources": {
                    "limits": {"cpus": "0.5", "memory": "50M", "pids": 100},
                    "reservations": {
                        "cpus": "0.25",
                        "memory": "20971520",
                        "generic_resources": [{"discrete_resource_spec": {"kind": "gpu", "value": 2}}],
                    },
                },
                "placement": {
                    "constraints": ["node.role == worker", "a == b"],
                    "preferences": [{"spread": "node.labels.az"}],
                    "max_replicas_per_node": 2,
                },
            },
        }
    )
    task = spec["TaskTemplate"]
    assert task["Resources"] == {
        "Limits": {"NanoCPUs": 500_000_000, "MemoryBytes": 52428800, "Pids": 100},
        "Reservations": {
            "NanoCPUs": 250_000_000,
            "MemoryBytes": 20971520,
            "GenericResources": [{"DiscreteResourceSpec": {"Kind": "gpu", "Value": 2}}],
        },
    }
    assert task["Placement"] == {
        "Constraints": ["node.role == worker", "a == b"],
        "Preferences": [{"Spread": {"SpreadDescriptor": "node.labels.az"}}],
        "MaxReplicas": 2,
    }


def test_resources_and_placement_always_present() -> None:
    task = one_service({"image": "x"})["TaskTemplate"]
    assert task["Resources"] == {} and task["Placement"] == {}


def test_cpus_too_precise_is_an_error() -> None:
    errs = errors_of(
        {"services": {"web": {"image": "x", "deploy": {"resources": {"limits": {"cpus": "0.0000000001"}}}}}}
    )
    assert errs == [
        'services.web.deploy.resources.limits.cpus: invalid cpus value "0.0000000001": '
        "value is too precise (at most 9 decimals)"
    ]


def test_restart_policy_from_deploy() -> None:
    policy = one_service(
        {
            "image": "x",
            "deploy": {
                "restart_policy": {
                    "condition": "on-failure",
                    "delay": "0s",
                    "max_attempts": 0,
                    "window": "2m0s",
                }
            },
        }
    )["TaskTemplate"]["RestartPolicy"]
    assert policy == {"Condition": "on-failure", "Delay": 0, "MaxAttempts": 0, "Window": 120 * S}


@pytest.mark.parametrize(
    ("restart", "policy"),
    [
        ("no", None),
        ("always", {"Condition": "any"}),
        ("unless-stopped", {"Condition": "any"}),
        ("on-failure", {"Condition": "on-failure"}),
        ("on-failure:3", {"Condition": "on-failure", "MaxAttempts": 3}),
    ],
)
def test_restart_policy_from_service_restart(restart: str, policy: dict[str, Any] | None) -> None:
    assert one_service({"image": "x", "restart": restart})["TaskTemplate"].get("RestartPolicy") == policy


def test_deploy_restart_policy_wins_over_restart() -> None:
    spec = one_service(
        {"image": "x", "restart": "always", "deploy": {"restart_policy": {"condition": "none"}}}
    )
    assert spec["TaskTemplate"]["RestartPolicy"] == {"Condition": "none"}


def test_invalid_restart() -> None:
    errs = errors_of({"services": {"web": {"image": "x", "restart": "sometimes"}}})
    assert errs == [
        "services.web.restart: invalid restart policy: unknown policy 'sometimes' "
        "(must be one of 'no', 'always', 'on-failure', or 'unless-stopped')"
    ]


def test_logging() -> None:
    task = one_service(
        {"image": "x", "logging": {"driver": "syslog", "options": {"syslog-address": "udp://1"}}}
    )
    assert task["TaskTemplate"]["LogDriver"] == {"Name": "syslog", "Options": {"syslog-address": "udp://1"}}


# --- networks -------------------------------------------------------------------------------------


def test_service_networks_targets_aliases_and_sorting() -> None:
    spec = one_service(
        {
            "image": "x",
            "networks": {
                "zeta": None,
                "alpha": {"aliases": ["a1"], "driver_opts": {"o": 1}},
                "outside": None,
                "hostnet": None,
            },
        },
        networks={
            "zeta": {},
            "alpha": {"name": "custom-alpha"},
            "outside": {"external": True, "name": "ext-net"},
            "hostnet": {"external": True, "name": "host"},
        },
    )
    assert spec["TaskTemplate"]["Networks"] == [
        {"Target": "custom-alpha", "Aliases": ["a1", "web"], "DriverOpts": {"o": "1"}},
        {"Target": "ext-net", "Aliases": ["web"]},
        {"Target": "host"},
        {"Target": "st_zeta", "Aliases": ["web"]},
    ]


def test_default_network_when_none_given() -> None:
    desired = convert(
        {
            "services": {"web": {"image": "x"}, "db": {"image": "y", "networks": ["back"]}},
            "networks": {"back": {}, "unused": {"driver": "overlay"}},
        }
    )
    assert desired.services["st_web"]["TaskTemplate"]["Networks"] == [
        {"Target": "st_default", "Aliases": ["web"]}
    ]
    assert sorted(desired.networks) == ["st_back", "st_default"]  # unused networks are not created


def test_network_create_bodies() -> None:
    desired = convert(
        {
            "services": {"web": {"image": "x", "networks": ["a", "b", "ext", "default"]}},
            "networks": {
                "a": {
                    "driver_opts": {"encrypted": "", "com.docker.network.driver.mtu": 1400},
                    "attachable": True,
                    "internal": True,
                    "labels": ["k=v"],
                    "ipam": {
                        "driver": "default",
                        "config": [{"subnet": "10.1.0.0/24", "gateway": "10.1.0.1"}],
                    },
                },
                "b": {"name": "exact-b", "driver": "weave"},
                "ext": {"external": True, "name": "shared"},
                "default": {"external": {"name": "legacy-shared"}},
            },
        }
    )
    assert desired.networks == {
        "st_a": {
            "Name": "st_a",
            "Driver": "overlay",
            "Labels": {"k": "v", "com.docker.stack.namespace": "st"},
            "Options": {"encrypted": "", "com.docker.network.driver.mtu": "1400"},
            "Internal": True,
            "Attachable": True,
            "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}]},
        },
        "exact-b": {"Name": "exact-b", "Driver": "weave", "Labels": {"com.docker.stack.namespace": "st"}},
    }
    assert sorted(desired.external_networks) == ["legacy-shared", "shared"]


# --- mode, update config, endpoint ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deploy", "mode"),
    [
        ({}, {"Replicated": {}}),
        ({"replicas": 0}, {"Replicated": {"Replicas": 0}}),
        ({"mode": "replicated", "replicas": 3}, {"Replicated": {"Replicas": 3}}),
        ({"mode": "global"}, {"Global": {}}),
        ({"mode": "global-job"}, {"GlobalJob": {}}),
        (
            {"mode": "replicated-job", "replicas": 2},
            {"ReplicatedJob": {"MaxConcurrent": 2, "TotalCompletions": 2}},
        ),
        ({"mode": "replicated-job"}, {"ReplicatedJob": {}}),
    ],
)
def test_modes(deploy: dict[str, Any], mode: dict[str, Any]) -> None:
    assert one_service({"image": "x", "deploy": deploy})["Mode"] == mode


def test_mode_errors() -> None:
    assert errors_of({"services": {"web": {"image": "x", "deploy": {"mode": "global", "replicas": 2}}}}) == [
        "services.web.deploy.replicas: replicas can only be used with replicated or replicated-job mode"
    ]
    assert errors_of({"services": {"web": {"image": "x", "deploy": {"mode": "daemonset"}}}}) == [
        "services.web.deploy.mode: unknown mode: daemonset "
        "(use replicated, global, replicated-job or global-job)"
    ]


def test_update_and_rollback_config() -> None:
    spec = one_service(
        {
            "image": "x",
            "deploy": {
                "update_config": {
                    "delay": "10s",
                    "failure_action": "rollback",
                    "monitor": "1m0s",
                    "max_failure_ratio": 0.3,
                    "order": "start-first",
                },
                "rollback_config": {"parallelism": 0},
            },
        }
    )
    assert spec["UpdateConfig"] == {
        "Parallelism": 1,
        "Delay": 10 * S,
        "FailureAction": "rollback",
        "Monitor": 60 * S,
        "MaxFailureRatio": 0.3,
        "Order": "start-first",
    }
    assert spec["RollbackConfig"] == {"Parallelism": 0}
    assert "UpdateConfig" not in one_service({"image": "x"})


def test_endpoint_spec_ports_sorted_by_published() -> None:
    spec = one_service(
        {
            "image": "x",
            "deploy": {"endpoint_mode": "DNSRR"},
            "ports": [
                {"target": 80, "published": 8080, "protocol": "tcp", "mode": "ingress"},
                {"target": 53, "published": 53, "protocol": "udp", "mode": "host"},
                {"target": 9000, "protocol": "tcp", "mode": "ingress"},
            ],
        }
    )
    assert spec["EndpointSpec"] == {
        "Mode": "dnsrr",
        "Ports": [
            {"Protocol": "tcp", "TargetPort": 9000, "PublishMode": "ingress"},
            {"Protocol": "udp", "TargetPort": 53, "PublishedPort": 53, "PublishMode": "host"},
            {"Protocol": "tcp", "TargetPort": 80, "PublishedPort": 8080, "PublishMode": "ingress"},
        ],
    }


# --- top-level secrets, configs, volumes ------------------------------------------------------------------


def test_secret_and_config_specs() -> None:
    desired = convert(
        {
            "services": {"web": {"image": "x"}},
            "secrets": {
                **SECRETS,
                "fromenv": {"environment": "TOKEN"},
                "vault": {"driver": "vault", "driver_opts": {"a": 1}},
                "tpl": {"file": "/x/tpl", "template_driver": "golang"},
            },
            "configs": {
                "c1": {"file": "/x/c1", "labels": {"l": "1"}},
                "cext": {"external": True, "name": "cext"},
            },
        },
        environ={"TOKEN": "s3cret"},
    )
    ns = {"com.docker.stack.namespace": "st"}
    assert desired.secrets == {
        "st_s1": {"Name": "st_s1", "Labels": ns, "Data": base64.b64encode(b"content of s1.txt").decode()},
        "custom_name": {
            "Name": "custom_name",
            "Labels": ns,
            "Data": base64.b64encode(b"content of s2.txt").decode(),
        },
        "st_fromenv": {"Name": "st_fromenv", "Labels": ns, "Data": base64.b64encode(b"s3cret").decode()},
        "st_vault": {"Name": "st_vault", "Labels": ns, "Driver": {"Name": "vault", "Options": {"a": "1"}}},
        "st_tpl": {
            "Name": "st_tpl",
            "Labels": ns,
            "Data": base64.b64encode(b"content of tpl").decode(),
            "Templating": {"Name": "golang"},
        },
    }
    assert sorted(desired.external_secrets) == ["old_style", "outside"]
    assert desired.configs == {
        "st_c1": {
            "Name": "st_c1",
            "Labels": {"l": "1", **ns},
            "Data": base64.b64encode(b"content of c1").decode(),
        }
    }
    assert desired.external_configs == ["cext"]


def test_secret_file_problems_are_diagnostics(tmp_path: Path) -> None:
    with pytest.raises(ConvertError) as info:
        convert_stack(
            {
                "services": {},
                "secrets": {
                    "a": {"file": str(tmp_path / "missing")},
                    "b": {"file": str(tmp_path)},
                    "c": {"environment": "UNSET_VAR"},
                },
            },
            "st",
            environ={},
        )
    messages = [d.message for d in info.value.diagnostics]
    assert messages == [
        f"secret a: file {tmp_path / 'missing'} does not exist",
        f"secret b: {tmp_path} is a directory, not a file",
        "secret c: environment variable UNSET_VAR is not set",
    ]


def test_real_file_is_read(tmp_path: Path) -> None:
    (tmp_path / "s").write_bytes(b"\x00binary")
    desired = convert_stack({"services": {}, "secrets": {"s": {"file": str(tmp_path / "s")}}}, "st")
    assert base64.b64decode(desired.secrets["st_s"]["Data"]) == b"\x00binary"


def test_volumes_are_listed_for_later_checks() -> None:
    desired = convert(
        {
            "services": {},
            "volumes": {
                "data": {"driver": "local", "driver_opts": {"o": 1}, "labels": {"a": "b"}},
                "ext": {"external": True, "name": "outside"},
                "plain": None,
            },
        }
    )
    assert desired.volumes == {
        "st_data": {
            "Name": "st_data",
            "Key": "data",
            "External": False,
            "Driver": "local",
            "DriverOpts": {"o": "1"},
            "Labels": {"a": "b", "com.docker.stack.namespace": "st"},
        },
        "outside": {"Name": "outside", "Key": "ext", "External": True},
        "st_plain": {
            "Name": "st_plain",
            "Key": "plain",
            "External": False,
            "Labels": {"com.docker.stack.namespace": "st"},
        },
    }


def test_every_problem_is_reported_at_once_without_partial_result() -> None:
    with pytest.raises(ConvertError) as info:
        volumes = [{"type": "tmpfs", "source": "x", "target": "/t"}, {"type": "bind", "target": "/b"}]
        convert({"services": {"a": {"image": ""}, "b": {"image": "x", "volumes": volumes}}})
    assert [d.path for d in info.value.diagnostics] == [
        "services.a.image",
        "services.b.volumes[0].source",
        "services.b.volumes[1]",
    ]
    assert "3 problems" in str(info.value)


def test_service_key_helper() -> None:
    desired = convert({"services": {"web": {"image": "x"}}}, stack="my_stack")
    assert [desired.service_key(n) for n in desired.services] == ["web"]


# --- the corpus -------------------------------------------------------------------------------------------

# These stacks are invalid for `docker stack deploy` too: they reference undeclared objects, which
# validate reports (convert is never handed them).
CORPUS_UNDEFINED = {
    "docker__cli__cli__compose__loader__full-example.yml.with-support.yml": [
        'undefined network "other-other-network"',
        'undefined volume "datavolume"',
    ],
    "docker__cli@df6e38b__cli__compose__loader__full-example.yml.with-support.yml": [
        'undefined network "other-other-network"',
        'undefined volume "datavolume"',
    ],
    "neuroforgede__bookstack-docker-swarm__bookstack.yml.yml": ['undefined config "php_ini"'],
}
CORPUS_FILES = sorted(p.name for p in CORPUS_CONFIGS.glob("*.yml"))


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_corpus_config_converts(name: str) -> None:
    config = yaml.safe_load((CORPUS_CONFIGS / name).read_text())
    if name in CORPUS_UNDEFINED:
        found = check_meaning(config, [], ".")
        assert [d.message for d in found if d.message.startswith("undefined")] == CORPUS_UNDEFINED[name]
        return
    desired = convert(config)
    assert set(desired.services) == {f"st_{k}" for k in config["services"]}
    for spec in desired.services.values():
        json.dumps(spec)  # plain JSON data, ready to POST
        assert spec["TaskTemplate"]["ContainerSpec"]["Image"]


GOLDEN_STACKS = [
    "dockersamples__atsea-sample-shop-app__docker-stack.yml.yml",
    "dockersamples__example-voting-app__docker-stack.yml.yml",
    "BretFisher__dogvscat__stack-swarmprom.yml.yml",
    "vegasbrianc__prometheus__docker-traefik-stack.yml.with-support.yml",
    "docker__cli__e2e__stack__testdata__stack-with-named-resources.yml.yml",
    "neuroforgede__swarmsible-stacks__02_monitoring__monitoring.yml.yml",
]


@pytest.mark.parametrize("name", GOLDEN_STACKS)
def test_golden(name: str) -> None:
    config = yaml.safe_load((CORPUS_CONFIGS / name).read_text())
    desired = convert(config, stack="gold")
    data = dataclasses.asdict(desired)
    data["warnings"] = [w.format() for w in desired.warnings]
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    golden = GOLDEN / (name.removesuffix(".yml").removesuffix(".yml") + ".json")
    if os.environ.get("STACKCTL_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"missing {golden}; run with STACKCTL_UPDATE_GOLDEN=1"
    assert text == golden.read_text()
