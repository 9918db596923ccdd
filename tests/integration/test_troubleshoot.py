"""ps / ls / services / rm / logs on the lab, against stacks deployed by the reference.

One module-wide stack has a healthy service, one whose tasks are rejected (bind source missing)
and one that cannot be scheduled (constraint no node satisfies).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

STACK_PREFIX = "ts"
BIND_SOURCE = "/nonexistent/stackctl-ts"
BIND_ERR = f'invalid mount config for type "bind": bind source path does not exist: {BIND_SOURCE}'
SCHED_ERR = "no suitable node (scheduling constraints not satisfied on 3 nodes)"

TROUBLED_STACK = f"""
version: "3.8"
services:
  healthy:
    image: busybox:latest
    command: ["sh", "-c", "echo hello-from-healthy; exec sleep 3600"]
    stop_grace_period: 1s
  badmount:
    image: busybox:latest
    stop_grace_period: 1s
    volumes:
      - type: bind
        source: {BIND_SOURCE}
        target: /data
  nowhere:
    image: busybox:latest
    deploy:
      placement:
        constraints: ["node.labels.nope == yes"]
"""


def docker(*args: str, env: dict[str, str], input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], env=env, input=input, capture_output=True, text=True,
                          timeout=120)


def deploy_reference(stack: str, text: str, env: dict[str, str], tmp: Path) -> None:
    path = tmp / f"{stack}.yml"
    path.write_text(text)
    out = docker("stack", "deploy", "-c", str(path), stack, env=env)
    assert out.returncode == 0, out.stderr


def remove_reference(stack: str, env: dict[str, str]) -> None:
    docker("stack", "rm", stack, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        label = f"label=com.docker.stack.namespace={stack}"
        listed = [docker(kind, "ls", "-q", "--filter", label, env=env) for kind in ("service", "network")]
        if all(out.returncode == 0 and not out.stdout.strip() for out in listed):
            return
        time.sleep(1)


@pytest.fixture(scope="module")
def troubled(lab_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The three-service stack, deployed with `docker stack deploy`, once its tasks show each state."""
    import docker as docker_sdk

    stack = f"{STACK_PREFIX}{uuid.uuid4().hex[:8]}"
    deploy_reference(stack, TROUBLED_STACK, lab_env, tmp_path_factory.mktemp("ts"))
    client = docker_sdk.DockerClient(base_url=lab_env["DOCKER_HOST"], version="auto", timeout=60)
    try:
        deadline = time.monotonic() + 90
        while True:
            tasks = client.api.tasks(filters={"label": f"com.docker.stack.namespace={stack}"})
            states = {t["Status"]["State"] for t in tasks}
            rejected = sum(1 for t in tasks if t["Status"]["State"] == "rejected")
            if {"running", "pending"} <= states and rejected >= 2:
                break
            assert time.monotonic() < deadline, f"stack never reached the expected states: {states}"
            time.sleep(1)
        yield stack
    finally:
        client.close()
        remove_reference(stack, lab_env)


def ps_json(run_stackctl: Any, lab_env: dict[str, str], stack: str, *args: str) -> dict[str, Any]:
    out = run_stackctl("ps", stack, "--format", "json", *args, env=lab_env)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_ps_shows_each_state_and_the_full_error(troubled: str, run_stackctl: Any,
                                                 lab_env: dict[str, str]) -> None:
    out = run_stackctl("ps", troubled, "--no-trunc", env=lab_env)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"{troubled}_healthy.1" in text and "Running" in text
    assert "Rejected" in text and f'"{BIND_ERR}"' in text
    assert "Pending" in text and f'"{SCHED_ERR}"' in text
    assert f" \\_ {troubled}_badmount.1" in text  # failed predecessors grouped under their slot
    assert "3 services: 1 converged, 2 not converged" in out.stderr  # stdout: the table only
    # failing services come first; the healthy one last
    lines = [ln for ln in text.splitlines() if ln.strip().endswith("ago") or "ago " in ln]
    assert f"{troubled}_healthy.1" in lines[-1]
    # node IDs are resolved to hostnames
    assert any(node in text for node in ("mgr-1", "wrk-1", "wrk-2"))


def test_ps_default_shows_full_error_in_summary(troubled: str, run_stackctl: Any,
                                                 lab_env: dict[str, str]) -> None:
    out = run_stackctl("ps", troubled, env=lab_env)
    assert out.returncode == 0, out.stderr
    summary = out.stderr
    assert BIND_ERR in summary and SCHED_ERR in summary
    assert "type…" not in out.stdout  # never cut mid-word as the reference does


def test_ps_filter_desired_state_running_narrows(troubled: str, run_stackctl: Any,
                                                  lab_env: dict[str, str]) -> None:
    everything = ps_json(run_stackctl, lab_env, troubled)
    running = ps_json(run_stackctl, lab_env, troubled, "--filter", "desired-state=running")
    assert running["tasks"] and len(running["tasks"]) < len(everything["tasks"])
    assert {t["desired_state"] for t in running["tasks"]} == {"running"}
    assert not any(t["is_history"] for t in running["tasks"])
    # the convergence summary still judges the whole stack
    assert running["summary"] == everything["summary"]

    out = run_stackctl("ps", troubled, "-f", "desired-state=running", env=lab_env)
    assert "Shutdown" not in out.stdout


def test_ps_json_holds_the_same_facts(troubled: str, run_stackctl: Any, lab_env: dict[str, str],
                                      docker_client: Any) -> None:
    def engine_ids() -> set[str]:
        label = f"com.docker.stack.namespace={troubled}"
        return {t["ID"] for t in docker_client.api.tasks(filters={"label": label})}

    # badmount keeps making rejected tasks and the swarm drops the oldest: the engine's lists taken
    # before and after `ps` hold every task ps can have seen
    before = engine_ids()
    doc = ps_json(run_stackctl, lab_env, troubled)
    assert doc["schema"] == "stackctl.ps/v1" and doc["stack"] == troubled
    assert doc["summary"] == {"services": 3, "converged": 1, "not_converged": 2}
    services = {s["name"]: s for s in doc["services"]}
    assert services[f"{troubled}_healthy"]["converged"] is True
    assert services[f"{troubled}_badmount"]["problem"] == BIND_ERR
    assert services[f"{troubled}_nowhere"]["problem"] == SCHED_ERR
    by_service: dict[str, list[dict[str, Any]]] = {}
    for t in doc["tasks"]:
        by_service.setdefault(t["service"], []).append(t)
    healthy = by_service[f"{troubled}_healthy"][0]
    assert healthy["state"] == "running" and healthy["node"] in ("mgr-1", "wrk-1", "wrk-2")
    assert healthy["current_state"].startswith("Running ")
    bad = by_service[f"{troubled}_badmount"]
    assert any(t["state"] == "rejected" and t["error"] == BIND_ERR for t in bad)
    pending = by_service[f"{troubled}_nowhere"][0]
    assert pending["state"] == "pending" and pending["node"] is None and pending["error"] == SCHED_ERR
    assert {t["id"] for t in doc["tasks"]} <= before | engine_ids()


def test_ps_quiet_prints_task_ids(troubled: str, run_stackctl: Any, lab_env: dict[str, str]) -> None:
    # badmount's rejected tasks come and go: the same answer from two calls in a row within 3 tries
    for _ in range(3):
        out = run_stackctl("ps", troubled, "-q", "--no-trunc", env=lab_env)
        ids = out.stdout.split()
        doc = ps_json(run_stackctl, lab_env, troubled)
        if ids == [t["id"] for t in doc["tasks"]]:
            break
    assert ids == [t["id"] for t in doc["tasks"]]


def test_services(troubled: str, run_stackctl: Any, lab_env: dict[str, str]) -> None:
    out = run_stackctl("services", troubled, "--format", "json", env=lab_env)
    assert out.returncode == 0, out.stderr
    replicas = {s["name"]: s["replicas"] for s in json.loads(out.stdout)["services"]}
    assert replicas == {f"{troubled}_badmount": "0/1", f"{troubled}_healthy": "1/1",
                        f"{troubled}_nowhere": "0/1"}
    text = run_stackctl("services", troubled, env=lab_env).stdout
    assert text.splitlines()[0].split() == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE"]  # no ports: no PORTS
    text = run_stackctl("services", troubled, "-o", "wide", env=lab_env).stdout
    assert text.splitlines()[0].split() == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]


def test_logs_show_a_line_written_by_a_task(troubled: str, run_stackctl: Any,
                                            lab_env: dict[str, str]) -> None:
    for args in ((troubled, "healthy"), (troubled,)):
        out = run_stackctl("logs", *args, "--tail", "5", env=lab_env)
        assert out.returncode == 0, out.stderr
        line = next(ln for ln in out.stdout.splitlines() if "hello-from-healthy" in ln)
        prefix, _, message = line.partition("| ")
        assert message == "hello-from-healthy"
        assert prefix.startswith(f"{troubled}_healthy.1.") and "@" in prefix


def test_logs_of_a_service_whose_tasks_wrote_nothing_say_so(troubled: str, run_stackctl: Any,
                                                               lab_env: dict[str, str]) -> None:
    out = run_stackctl("logs", troubled, "nowhere", env=lab_env)  # never scheduled: no line at all
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert f"no log lines: the tasks of {troubled}_nowhere wrote nothing" in out.stderr


def test_ps_filtered_by_name_counts_only_the_services_shown(troubled: str, run_stackctl: Any,
                                                            lab_env: dict[str, str]) -> None:
    out = run_stackctl("ps", troubled, "-f", "name=healthy", env=lab_env)
    assert out.returncode == 0, out.stderr
    assert f"{troubled}_healthy.1" in out.stdout and "badmount" not in out.stdout
    assert "1 service: 1 converged, 0 not converged" in out.stderr, out.stderr
    out = run_stackctl("ps", troubled, "-f", "name=badmount", env=lab_env)
    assert "1 service: 0 converged, 1 not converged" in out.stderr, out.stderr


@pytest.mark.parametrize("command", ["ps", "services", "logs", "rm"])
def test_missing_stack_is_exit_1(command: str, run_stackctl: Any, lab_env: dict[str, str]) -> None:
    missing = f"{STACK_PREFIX}nope{uuid.uuid4().hex[:6]}"
    out = run_stackctl(command, missing, env=lab_env)
    assert out.returncode == 1
    assert f"nothing found in stack: {missing}" in out.stderr
    assert "Traceback" not in out.stderr


def test_ls_lists_stacks_of_both_tools(troubled: str, run_stackctl: Any, lab_env: dict[str, str],
                                       stack_name: str, tmp_path: Path) -> None:
    small = 'version: "3.8"\nservices:\n  idle:\n    image: busybox:latest\n    deploy:\n      replicas: 0\n'
    path = tmp_path / "small.yml"
    path.write_text(small)
    deployed = run_stackctl("deploy", stack_name, "-c", str(path), "--detach", env=lab_env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    out = run_stackctl("ls", "--format", "json", env=lab_env)
    assert out.returncode == 0, out.stderr
    stacks = {s["name"]: s for s in json.loads(out.stdout)["stacks"]}
    assert stacks[troubled]["services"] == 3 and stacks[troubled]["networks"] == 1
    assert stacks[stack_name]["services"] == 1
    table = run_stackctl("ls", env=lab_env).stdout
    assert any(ln.split()[:2] == [troubled, "3"] for ln in table.splitlines())


def test_rm_then_immediate_deploy(stack_name: str, run_stackctl: Any, lab_env: dict[str, str],
                                  tmp_path: Path, docker_client: Any) -> None:
    ext_secret = f"{stack_name}_ext"
    docker("secret", "create", ext_secret, "-", env=lab_env, input="not-a-real-secret")
    text = f"""
version: "3.8"
services:
  app:
    image: busybox:latest
    stop_grace_period: 1s
    networks: [back]
    secrets: [ext, own]
    volumes: ["data:/data"]
networks:
  back: {{}}
secrets:
  ext:
    external: true
    name: {ext_secret}
  own:
    file: ./own.txt
volumes:
  data: {{}}
"""
    (tmp_path / "own.txt").write_text("x")
    try:
        deploy_reference(stack_name, text, lab_env, tmp_path)
        label = {"label": f"com.docker.stack.namespace={stack_name}"}
        deadline = time.monotonic() + 60
        while not any(t["Status"]["State"] == "running" for t in docker_client.api.tasks(filters=label)):
            assert time.monotonic() < deadline, "app never started"
            time.sleep(1)

        out = run_stackctl("rm", stack_name, env=lab_env)
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"Removing service {stack_name}_app" in out.stdout
        assert f"Removing secret {stack_name}_own" in out.stdout
        assert f"Removing network {stack_name}_back" in out.stdout
        assert f"Kept: external secret {ext_secret}, volume {stack_name}_data" in out.stdout
        assert not docker_client.api.networks(filters=label)

        # at once: the same stack again; the old network must not get in the way
        deploy_reference(stack_name, text, lab_env, tmp_path)
        deadline = time.monotonic() + 60
        while True:
            tasks = docker_client.api.tasks(filters=label)
            if any(t["Status"]["State"] == "running" for t in tasks):
                break
            errors = [t["Status"].get("Err") for t in tasks if t["Status"].get("Err")]
            assert time.monotonic() < deadline, f"redeployed app never started: {errors}"
            time.sleep(1)
    finally:
        remove_reference(stack_name, lab_env)
        docker("secret", "rm", ext_secret, env=lab_env)
