"""stackctl.yml environments on the lab: the AtSea example deployed as dev and prod, and promote.

Stacks are named ev<random><env> and removed afterwards; published ports are moved to a
random high range through the shell (which wins over the project's variables), so these
tests never collide with another AtSea on the lab.
"""

from __future__ import annotations

import random
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackctl.history import remove_history
from tests.paths import LAB_HOST, node_host

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "atsea-envs"
DEMO_KEY = EXAMPLE / "DEMO-age-key.txt"  # the example's demo age key (public on purpose)

STACK_PREFIX = "ev"


def _remove(names: list[str], lab_env: dict[str, str], engine: Any) -> None:
    import time

    for name in names:
        subprocess.run(["docker", "stack", "rm", name], env=lab_env, capture_output=True, timeout=60)
    deadline = time.monotonic() + 90
    label = "label=com.docker.stack.namespace="
    while time.monotonic() < deadline:
        left = [n for n in names if subprocess.run(
            ["docker", "network", "ls", "-q", "--filter", label + n], env=lab_env, capture_output=True,
            text=True).stdout.strip()]
        if not left:
            break
        time.sleep(1)
    for name in names:
        remove_history(engine, name)


@pytest.fixture
def stacks(lab_env: dict[str, str], engine: Any) -> Iterator[dict[str, str]]:
    base = f"{STACK_PREFIX}{uuid.uuid4().hex[:6]}"
    names = {"dev": base + "dev", "prod": base + "prod"}
    yield names
    _remove(list(names.values()), lab_env, engine)


def _project(tmp_path: Path, names: dict[str, str]) -> Path:
    """The example's stackctl.yml with this test's stack names (files from the example)."""
    text = textwrap.dedent(f"""\
        version: "1"
        stack: {names['prod']}
        files: [{EXAMPLE / 'atsea.yml'}]
        environments:
          dev:
            stack: {names['dev']}
            files: [{EXAMPLE / 'dev.yml'}]
            env_files: [{EXAMPLE / 'dev.env'}]
            host: {LAB_HOST}
          prod:
            files: [{EXAMPLE / 'prod.yml'}]
            variables: {{HTTP_PORT: 80, HTTPS_PORT: 443, VISUALIZER_PORT: 8001}}
            host: {LAB_HOST}
        """)
    path = tmp_path / "stackctl.yml"
    path.write_text(text)
    return path


def _ports() -> dict[str, str]:
    first = random.randrange(20000, 29000, 3)
    return {"HTTP_PORT": str(first), "HTTPS_PORT": str(first + 1), "VISUALIZER_PORT": str(first + 2)}


def _running_image_ids(docker_client: Any, stack: str) -> dict[str, set[str]]:
    """Per service: image IDs of its running containers, read on the nodes (as promote does)."""
    import docker

    nodes = {n["ID"]: n["Description"]["Hostname"] for n in docker_client.api.nodes()}
    out: dict[str, set[str]] = {}
    for service in docker_client.api.services(filters={"label": f"com.docker.stack.namespace={stack}"}):
        name = service["Spec"]["Name"][len(stack) + 1:]
        for task in docker_client.api.tasks(filters={"service": service["ID"], "desired-state": "running"}):
            if task["Status"]["State"] != "running":
                continue
            node = docker.DockerClient(base_url=node_host(nodes[task["NodeID"]]))
            try:
                cid = task["Status"]["ContainerStatus"]["ContainerID"]
                out.setdefault(name, set()).add(node.api.inspect_container(cid)["Image"])
            finally:
                node.close()
    return out


def _ensure_external_secrets(lab_env: dict[str, str]) -> None:
    result = subprocess.run([str(REPO / "examples" / "atsea" / "create-secrets.sh")], env=lab_env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_atsea_dev_and_prod_side_by_side(tmp_path: Path, stacks: dict[str, str], lab_env: dict[str, str],
                                         docker_client: Any, run_stackctl: Any) -> None:
    _ensure_external_secrets(lab_env)
    project = str(_project(tmp_path, stacks))
    dev_env = {**lab_env, **_ports(), "SOPS_AGE_KEY_FILE": str(DEMO_KEY)}  # dev's SOPS-encrypted password
    prod_env = {**lab_env, **_ports()}

    base = ["--project", project, "--resolve-image", "never", "--timeout", "3m"]
    dev = run_stackctl("deploy", "--env", "dev", *base, env=dev_env)
    assert dev.returncode == 0, dev.stdout + dev.stderr
    prod = run_stackctl("deploy", "--env", "prod", *base, env=prod_env)
    assert prod.returncode == 0, prod.stdout + prod.stderr
    same = run_stackctl("diff", "--env", "dev", "--project", project, env=dev_env)
    assert same.returncode == 0, same.stdout + same.stderr

    def spec(stack: str, service: str) -> dict[str, Any]:
        return docker_client.api.inspect_service(f"{stack}_{service}")["Spec"]

    dev_app, prod_app = spec(stacks["dev"], "appserver"), spec(stacks["prod"], "appserver")
    assert dev_app["Mode"]["Replicated"]["Replicas"] == 1
    assert prod_app["Mode"]["Replicated"]["Replicas"] == 2
    dev_pay = spec(stacks["dev"], "payment_gateway")["TaskTemplate"]["Placement"]["Constraints"]
    prod_pay = spec(stacks["prod"], "payment_gateway")["TaskTemplate"]["Placement"]["Constraints"]
    assert "node.labels.pcidss == yes" not in dev_pay
    assert "node.labels.pcidss == yes" in prod_pay
    # dev's password comes from its SOPS file (a secret of the stack), prod's is the book's external one
    dev_db = spec(stacks["dev"], "database")["TaskTemplate"]["ContainerSpec"]["Secrets"]
    prod_db = spec(stacks["prod"], "database")["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert [s["SecretName"] for s in dev_db] == [f"{stacks['dev']}_postgres_password"]
    assert [s["SecretName"] for s in prod_db] == ["postgres_password"]

    # promote: the pins are the image IDs dev's containers run (no registry on the lab); the lab
    # gives every node the same image IDs (as a registry would), so prod runs them on any node
    ids = _running_image_ids(docker_client, stacks["dev"])
    promoted = run_stackctl("promote", "--from", "dev", "--to", "prod", "--project", project,
                            "--timeout", "3m", env=prod_env)
    assert promoted.returncode == 0, promoted.stdout + promoted.stderr
    assert "Image pins (dev (" in promoted.stdout
    for service, found in ids.items():
        (image_id,) = found
        assert any(line.strip().startswith(service) and line.rstrip().endswith(")") and image_id in line
                   for line in promoted.stdout.splitlines()), (service, promoted.stdout)
    assert _running_image_ids(docker_client, stacks["prod"]) == ids


ONE_NODE = """\
version: "3.8"
services:
  web:
    image: busybox:latest
    deploy:
      replicas: ${REPLICAS:-1}
      placement:
        constraints: [node.role == manager]
"""


def test_promote_ships_the_running_image(tmp_path: Path, stacks: dict[str, str], lab_env: dict[str, str],
                                         docker_client: Any, run_stackctl: Any) -> None:
    """Prod ends up running dev's exact image (pinned by image ID: the lab has no registry)."""
    (tmp_path / "stack.yml").write_text(ONE_NODE)
    (tmp_path / "stackctl.yml").write_text(textwrap.dedent(f"""\
        stack: {stacks['prod']}
        files: [stack.yml]
        environments:
          dev: {{stack: {stacks['dev']}, host: "{LAB_HOST}"}}
          prod: {{variables: {{REPLICAS: 2}}, host: "{LAB_HOST}"}}
        """))
    project = str(tmp_path / "stackctl.yml")
    dev = run_stackctl("deploy", stacks["dev"], "-c", str(tmp_path / "stack.yml"), "--resolve-image", "never",
                       "--timeout", "2m", env=lab_env)
    assert dev.returncode == 0, dev.stdout + dev.stderr
    ((image_id,),) = _running_image_ids(docker_client, stacks["dev"]).values()

    result = run_stackctl("promote", "--from", "dev", "--to", "prod", "--project", project, "--timeout", "2m",
                          env=lab_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"web  busybox:latest -> {image_id}  (image ID on mgr-1)" in result.stdout
    prod = docker_client.api.inspect_service(f"{stacks['prod']}_web")["Spec"]
    assert prod["TaskTemplate"]["ContainerSpec"]["Image"] == image_id
    assert prod["Mode"]["Replicated"]["Replicas"] == 2
    assert _running_image_ids(docker_client, stacks["prod"]) == {"web": {image_id}}
    # promoting again changes nothing
    again = run_stackctl("promote", "--from", "dev", "--to", "prod", "--project", project, env=lab_env)
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr


def test_deploy_and_diff_take_the_environment(tmp_path: Path, stacks: dict[str, str], lab_env: dict[str, str],
                                              docker_client: Any, run_stackctl: Any) -> None:
    """`deploy --env dev` / `diff --env dev`: stack name, files, variables and swarm from stackctl.yml."""
    (tmp_path / "stack.yml").write_text(ONE_NODE)
    (tmp_path / "stackctl.yml").write_text(textwrap.dedent(f"""\
        stack: {stacks['prod']}
        files: [stack.yml]
        environments:
          dev: {{stack: {stacks['dev']}, variables: {{REPLICAS: 0}}, host: "{LAB_HOST}"}}
        """))
    project = ["--project", str(tmp_path / "stackctl.yml")]
    shell = {k: v for k, v in lab_env.items() if k not in ("DOCKER_HOST", "REPLICAS")}
    res = run_stackctl("deploy", "--env", "dev", *project, "--detach", "--resolve-image", "never", env=shell)
    assert res.returncode == 0, res.stdout + res.stderr
    spec = docker_client.api.inspect_service(f"{stacks['dev']}_web")["Spec"]
    assert spec["Mode"]["Replicated"]["Replicas"] == 0
    same = run_stackctl("diff", "--env", "dev", *project, env=shell)
    assert same.returncode == 0, same.stdout + same.stderr
    changed = run_stackctl("diff", "--env", "dev", *project, env={**shell, "REPLICAS": "1"})  # the shell wins
    assert changed.returncode == 2 and "deploy.replicas: 0 → 1" in changed.stdout, changed.stdout


def test_promote_refuses_what_was_not_tested(tmp_path: Path, stacks: dict[str, str], lab_env: dict[str, str],
                                             run_stackctl: Any) -> None:
    (tmp_path / "stack.yml").write_text(ONE_NODE)
    (tmp_path / "stackctl.yml").write_text(textwrap.dedent(f"""\
        stack: {stacks['prod']}
        files: [stack.yml]
        environments:
          dev: {{stack: {stacks['dev']}, host: "{LAB_HOST}"}}
          prod: {{host: "{LAB_HOST}"}}
        """))
    project = str(tmp_path / "stackctl.yml")
    result = run_stackctl("promote", "--from", "dev", "--to", "prod", "--project", project, env=lab_env)
    assert result.returncode == 1
    assert f"stack '{stacks['dev']}' has no services to promote from" in result.stderr
