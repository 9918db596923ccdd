"""The lab itself, on the lab: nodes, labels, images, and the AtSea example deployed on it."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.paths import LAB_HOST, node_host

pytestmark = pytest.mark.integration

STACK_PREFIX = "labt"
REPO = Path(__file__).resolve().parents[2]
ATSEA = REPO / "examples" / "atsea"
EXPECTED_ROLES = {"mgr-1": "manager", "wrk-1": "worker", "wrk-2": "worker"}


def test_status_shows_three_ready_nodes_with_hostnames_and_roles(run_stackctl: Any,
                                                                  lab_env: dict[str, str]) -> None:
    out = run_stackctl("lab", "status", "--format", "json", env=lab_env)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["schema"] == "stackctl.lab-status/v1" and doc["ready"] is True
    assert doc["docker_host"] == LAB_HOST
    roles = {n["hostname"]: n["role"] for n in doc["nodes"]}
    assert roles == EXPECTED_ROLES
    assert {n["state"] for n in doc["nodes"]} == {"ready"}


def test_status_table_lists_every_node(run_stackctl: Any, lab_env: dict[str, str]) -> None:
    out = run_stackctl("lab", "status", env=lab_env)
    assert out.returncode == 0, out.stderr
    table = out.stdout.split("\n\n")[0]  # the node table; the registry and ssh lines follow it
    names = [line.split()[0] for line in table.splitlines()[1:] if line.strip()]
    assert names == ["mgr-1", "wrk-1", "wrk-2"]


def test_env_points_at_the_manager(run_stackctl: Any) -> None:
    out = run_stackctl("lab", "env")
    assert out.returncode == 0
    # The first line; a lab with a registry adds its STACKCTL_LAB_REGISTRY* exports after it.
    assert out.stdout.splitlines()[0] == f"export DOCKER_HOST={LAB_HOST}"


def test_swarm_nodes_and_pcidss_label(docker_client: Any) -> None:
    nodes = {n.attrs["Description"]["Hostname"]: n.attrs for n in docker_client.nodes.list()}
    assert {h: a["Spec"]["Role"] for h, a in nodes.items()} == EXPECTED_ROLES
    assert nodes["wrk-1"]["Spec"].get("Labels", {}).get("pcidss") == "yes"
    assert "pcidss" not in (nodes["wrk-2"]["Spec"].get("Labels") or {})
    assert all(a["Status"]["State"] == "ready" for a in nodes.values())


@pytest.mark.parametrize("node", sorted(EXPECTED_ROLES))
def test_every_node_has_the_lab_images(node: str) -> None:
    out = subprocess.run(["docker", "-H", node_host(node), "images",
                          "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    have = set(out.stdout.split())
    assert {"busybox:latest", "dockersamples/atsea_app:latest", "dockersamples/visualizer:stable",
            "dockersamples/atsea_db:latest", "dockersamples/atseasampleshopapp_reverse_proxy:latest",
            "dockersamples/atseasampleshopapp_payment_gateway:latest"} <= have


def _running_tasks(client: Any, stack: str) -> dict[str, list[dict[str, Any]]]:
    services = client.services.list(filters={"label": f"com.docker.stack.namespace={stack}"})
    out: dict[str, list[dict[str, Any]]] = {}
    for svc in services:
        short = svc.name[len(stack) + 1:]
        out[short] = [t for t in svc.tasks(filters={"desired-state": "running"})
                      if t["Status"]["State"] == "running"]
    return out


def test_atsea_deploys_and_every_service_runs_where_allowed(docker_client: Any, lab_env: dict[str, str],
                                                            stack_name: str) -> None:
    secrets = subprocess.run([str(ATSEA / "create-secrets.sh")], env=lab_env, capture_output=True,
                             text=True, timeout=120)
    assert secrets.returncode == 0, secrets.stderr
    # AtSea publishes fixed ingress ports: wait while another AtSea deployment on the lab holds them.
    deadline = time.monotonic() + 120
    while True:
        deploy = subprocess.run(["docker", "stack", "deploy", "--resolve-image", "never", "-c",
                                 str(ATSEA / "docker-stack.yml"),
                                 stack_name], env=lab_env, capture_output=True, text=True, timeout=120)
        if deploy.returncode == 0 or "already in use" not in deploy.stderr or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert deploy.returncode == 0, deploy.stderr

    want = {"reverse_proxy": 1, "database": 1, "appserver": 2, "visualizer": 1, "payment_gateway": 1}
    deadline = time.monotonic() + 90
    tasks: dict[str, list[dict[str, Any]]] = {}
    while time.monotonic() < deadline:
        tasks = _running_tasks(docker_client, stack_name)
        if all(len(tasks.get(svc, [])) >= n for svc, n in want.items()):
            break
        time.sleep(1)
    counts = {svc: len(ts) for svc, ts in tasks.items()}
    assert all(counts.get(svc, 0) >= n for svc, n in want.items()), f"running tasks: {counts}"

    hostname = {n.id: n.attrs["Description"]["Hostname"] for n in docker_client.nodes.list()}
    placed = {svc: {hostname[t["NodeID"]] for t in ts} for svc, ts in tasks.items()}
    assert placed["payment_gateway"] == {"wrk-1"}
    assert placed["visualizer"] == {"mgr-1"}
    for svc in ("database", "appserver"):
        assert placed[svc] <= {"wrk-1", "wrk-2"}, (svc, placed[svc])
