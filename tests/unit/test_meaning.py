"""Meaning checks on the merged, normalised config (the `docker stack config` shape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackctl.load.source import SourceDoc
from stackctl.validate.meaning import check_meaning, constraint_problem


def check(config: dict[str, Any], working_dir: str = "/nonexistent", **kw: Any) -> list[str]:
    lines = {("services",): 2, ("services", "web"): 3}
    docs = [SourceDoc("stack.yml", config, lines, "3.13")]
    return [f"{d.severity}: {d.path}: {d.message}" for d in check_meaning(config, docs, working_dir, **kw)]


def stack(web: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    return {"version": "3.13", "services": {"web": {"image": "nginx:1.25", **(web or {})}}, **top}


def test_valid_stack_has_no_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "s.txt").write_text("x")
    config = stack({"networks": {"front": None, "default": None},
                    "secrets": [{"source": "s", "target": "a"}],
                    "volumes": [{"type": "volume", "source": "data", "target": "/d"},
                                {"type": "bind", "source": "/x", "target": "/x"}],
                    "ports": [{"mode": "ingress", "target": 80, "published": 8080, "protocol": "tcp"}],
                    "deploy": {"mode": "replicated", "replicas": 2,
                               "placement": {"constraints": ["node.role == manager", "node.labels.az!=b"],
                                             "preferences": [{"spread": "node.labels.az"}]},
                               "update_config": {"failure_action": "rollback", "order": "start-first",
                                                 "delay": "10s"},
                               "restart_policy": {"condition": "on-failure"},
                               "resources": {"limits": {"cpus": "0.5", "memory": "52428800"}}}},
                   networks={"front": {}}, volumes={"data": {}},
                   secrets={"s": {"file": str(tmp_path / "s.txt")}})
    assert check(config, str(tmp_path)) == []


def test_undefined_references() -> None:
    config = stack({"networks": {"back": None}, "secrets": [{"source": "pw"}], "configs": [{"source": "c"}],
                    "volumes": [{"type": "volume", "source": "data", "target": "/d"}]})
    assert check(config) == [
        'error: services.web.configs[0]: undefined config "c"',
        'error: services.web.networks.back: undefined network "back"',
        'error: services.web.secrets[0]: undefined secret "pw"',
        'error: services.web.volumes[0]: undefined volume "data"',
    ]


def test_image_required_and_parsed() -> None:
    assert check(stack({"image": None})) == ["error: services.web: no image specified"]
    assert check(stack({"image": "Nginx:latest"})) == [
        'error: services.web.image: invalid image reference "Nginx:latest": '
        "repository name must be lowercase"]


@pytest.mark.parametrize("constraint", ["node.role==manager", "node.role != worker", "node.hostname==a",
                                        "node.labels.pcidss == yes", "engine.labels.os==linux",
                                        "node.platform.os==linux", "node.platform.arch==x86_64",
                                        "node.id==x"])
def test_valid_constraints(constraint: str) -> None:
    assert constraint_problem(constraint) is None


@pytest.mark.parametrize("constraint", ["node.role=manager", "node.role==boss", "node=foo", "node.labels.==x",
                                        "node.rol==manager", "node.role>=manager", "node.role=="])
def test_invalid_constraints(constraint: str) -> None:
    assert constraint_problem(constraint)


def test_enums_and_replicas_with_global() -> None:
    config = stack({"deploy": {"mode": "global", "replicas": 2, "endpoint_mode": "dns",
                               "update_config": {"failure_action": "stop", "order": "first"},
                               "rollback_config": {"failure_action": "pause"},
                               "restart_policy": {"condition": "always"}}})
    assert check(config) == [
        "error: services.web.deploy.endpoint_mode: must be one of vip, dnsrr (got 'dns')",
        "error: services.web.deploy.replicas: replicas cannot be used with mode global",
        "error: services.web.deploy.restart_policy.condition: must be one of none, on-failure, any "
        "(got 'always')",
        "error: services.web.deploy.update_config.failure_action: must be one of pause, continue, rollback "
        "(got 'stop')",
        "error: services.web.deploy.update_config.order: must be one of stop-first, start-first "
        "(got 'first')",
    ]
    assert check(stack({"deploy": {"mode": "daemon"}})) == [
        "error: services.web.deploy.mode: must be one of replicated, global, replicated-job, global-job "
        "(got 'daemon')"]


def test_ports() -> None:
    config = stack({"ports": [{"target": 80, "published": 99999}, {"target": 0},
                              {"target": 53, "protocol": "icmp", "mode": "local"},
                              {"target": 81, "published": 8080}, {"target": 82, "published": 8080}]})
    assert check(config) == [
        "error: services.web.ports[0].published: published port must be in 1-65535 (got 99999)",
        "error: services.web.ports[1].target: target port must be in 1-65535 (got 0)",
        "error: services.web.ports[2].mode: must be one of ingress, host (got 'local')",
        "error: services.web.ports[2].protocol: must be one of tcp, udp, sctp (got 'icmp')",
        "error: services.web.ports[4]: port 8080/tcp is published twice",
    ]


def test_durations_sizes_cpus() -> None:
    config = stack({"stop_grace_period": "1d", "deploy": {"resources": {
        "limits": {"cpus": "lots", "memory": "1024"}, "reservations": {"cpus": "0.0000000001"}}}})
    assert check(config) == [
        "error: services.web.deploy.resources.limits.cpus: invalid cpus value \"lots\" "
        "(use e.g. \"0.5\" or \"2\")",
        "error: services.web.deploy.resources.limits.memory: memory limit 1024 bytes is below the engine's "
        "minimum of 4MiB",
        "error: services.web.deploy.resources.reservations.cpus: invalid cpus value \"0.0000000001\": "
        "value is too precise (at most 9 decimals)",
        "error: services.web.stop_grace_period: '1d' is not a valid duration",
    ]


def test_service_names() -> None:
    assert check({"services": {"-web": {"image": "x"}}}) == [
        'error: services.-web: invalid service name "-web"']
    long_name = "s" * 62
    assert check({"services": {long_name: {"image": "x"}}}) == [
        f'error: services.{long_name}: service name "{long_name}" is too long']
    assert check({"services": {"s" * 50: {"image": "x"}}}, stack="prod-stack-name") == [
        f'error: services.{"s" * 50}: service name "prod-stack-name_{"s" * 50}" is longer than 63 characters']


def test_secret_files(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    config = stack(secrets={"a": {"file": str(tmp_path / "missing.txt")},
                            "b": {"file": str(tmp_path / "dir")},
                            "c": {}, "d": {"external": True, "file": "x"}},
                   configs={"e": {"file": "rel.txt"}})
    assert check(config, str(tmp_path)) == [
        'error: configs.e.file: config file "rel.txt" does not exist',
        'error: secrets.a.file: secret file "missing.txt" does not exist',
        'error: secrets.b.file: secret file "dir" is a directory',
        'error: secrets.c: secret "c" has no content',
        'warning: secrets.d.file: "file" is ignored for external secret "d"',
    ]


def test_duplicate_targets() -> None:
    config = stack({"secrets": [{"source": "a", "target": "t"}, {"source": "b", "target": "t"}]},
                   secrets={"a": {"external": True}, "b": {"external": True}})
    assert check(config) == ['error: services.web.secrets[1]: duplicate secret target "t"']


def test_external_conflicts() -> None:
    config = stack(volumes={"v": {"external": True, "driver": "local"}},
                   networks={"n": {"external": True, "driver": "overlay"}})
    assert check(config) == [
        'warning: networks.n.driver: "driver" is ignored for external network "n"',
        'error: volumes.v.driver: conflicting parameters "external" and "driver" for volume "v"',
    ]


def test_ignored_keys_warn() -> None:
    config = stack({"build": ".", "depends_on": ["db"], "container_name": "x", "tmpfs": ["/t"],
                    "privileged": True, "restart": "always",
                    "networks": {"default": {"ipv4_address": "10.0.0.5"}}})
    config["services"]["db"] = {"image": "postgres:16"}  # a dependency that exists: no error
    assert check(config) == [
        'warning: services.web.build: "build" is ignored by swarm stacks',
        'warning: services.web.container_name: "container_name" is ignored by swarm stacks',
        'warning: services.web.networks.default.ipv4_address: "ipv4_address" is ignored by swarm services',
        'warning: services.web.privileged: "privileged" is ignored by swarm stacks',
        'warning: services.web.restart: "restart" is only a fallback for deploy.restart_policy',
        'warning: services.web.tmpfs: "tmpfs" is ignored by swarm stacks',
    ]


def test_located_in_the_right_file() -> None:
    base = SourceDoc("a.yml", {}, {("services", "web"): 3}, "3.13")
    override = SourceDoc("b.yml", {}, {("services", "web", "networks", "back"): 7}, "3.13")
    config = stack({"networks": {"back": None}})
    (d,) = check_meaning(config, [base, override], "/")
    assert (d.file, d.line, d.path) == ("b.yml", 7, "services.web.networks.back")
    assert d.hint == "declare it under the top-level networks:"


def test_secret_from_an_environment_variable(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    config = stack(secrets={"set": {"environment": "TOKEN"}, "unset": {"environment": "NOPE"},
                            "both": {"environment": "TOKEN", "file": str(tmp_path / "f.txt")},
                            "ext": {"external": True, "environment": "TOKEN"}})
    assert sorted(check(config, str(tmp_path), environ={"TOKEN": "s3cr3t-v4lue"})) == [
        'error: secrets.both.environment: secret "both" sets both file and environment',
        'error: secrets.unset.environment: secret "unset": environment variable NOPE is not set',
        'warning: secrets.ext.environment: "environment" is ignored for external secret "ext"',
    ]
    # without an environment (a check of the file alone), the variable is not looked up
    assert not any("not set" in line for line in check(config, str(tmp_path)))


def test_a_spread_over_no_node_attribute_warns_but_runs() -> None:
    """The engine accepts `spread: foo` and runs the task (a public kompose test file has it)."""
    config = stack({"deploy": {"placement": {"preferences": [{"spread": "foo"}]}}})
    assert check(config) == [
        "warning: services.web.deploy.placement.preferences[0].spread: "
        "spread over 'foo' has no effect: it names no node attribute"]


def test_a_reference_without_a_source_is_undefined() -> None:
    """Validate is the one check of references (convert asserts them): a long-syntax secret or config
    without `source:` names nothing (the reference says `undefined secret ""` half way through a deploy)."""
    for kind in ("secret", "config"):
        found = check(stack({f"{kind}s": [{"target": "x"}]}))
        assert found == [f'error: services.web.{kind}s[0]: undefined {kind} ""']


@pytest.mark.parametrize("value", [float("inf"), [1], {"s": 1}])
def test_a_duration_of_another_kind_is_reported(value: object) -> None:
    found = check(stack({"stop_grace_period": value}))
    assert found == [f"error: services.web.stop_grace_period: {value!r} is not a valid duration"]
