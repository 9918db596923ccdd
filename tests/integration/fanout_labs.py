"""Several named labs side by side as the swarms of an environment with `targets:` (docs/fan-out.md):
for tests/integration/test_fanout.py and test_agent_fanout.py. Each module brings up the labs it names
that are not up (one manager, no worker, no registry, no sshd) and takes down only those it brought up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from stackctl.lab.layout import LabLayout, read_state

REPO = Path(__file__).resolve().parents[2]
OTHER_IMAGE = "dockersamples/atsea_db:latest"  # an idle busybox under another name (lab/images.py)

# one busybox task whose healthcheck passes while HEALTHY is yes
APP = """\
version: "3.8"
services:
  web:
    image: ${IMAGE:-busybox:latest}
    environment:
      REGION: ${REGION:-none}
      HEALTHY: ${HEALTHY:-yes}
    healthcheck:
      test: ["CMD", "sh", "-c", "test \\"$$HEALTHY\\" = yes"]
      interval: 1s
      timeout: 1s
      retries: 1
    deploy:
      replicas: 1
      update_config: {parallelism: 1, monitor: 2s, failure_action: pause}
      restart_policy: {delay: 1s}
"""


def project_text(swarms: dict[str, LabLayout], stack: str, *, wave1: str, on_failure: str = "rollback_wave",
                 variables: str = "") -> str:
    """stackctl.yml of the environment prod: canary (its wave: `wave1`) → eu, us two at once."""
    import textwrap

    hosts = {t: swarms[t].manager.host for t in ("canary", "eu", "us")}
    top = f"variables: {variables}\n" if variables else ""
    return textwrap.dedent(f"""\
        version: "1"
        stack: {stack}
        files: [app.yml]
        """) + top + textwrap.dedent(f"""\
        environments:
          prod:
            targets:
              - {{name: canary, host: "{hosts['canary']}", labels: {{tier: canary}}}}
              - {{name: eu, host: "{hosts['eu']}", labels: {{tier: main}}, variables: {{REGION: eu}}}}
              - {{name: us, host: "{hosts['us']}", labels: {{tier: main}}, variables: {{REGION: us}}}}
            rollout:
              waves:
                - {{targets: [canary], {wave1}}}
                - {{labels: {{tier: main}}, max_parallel: 2}}
              on_failure: {on_failure}
        """)


def stackctl(*args: str, env: dict[str, str] | None = None, timeout: float = 300
             ) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "stackctl", *args], capture_output=True, text=True,
                          timeout=timeout, env=full, cwd=str(REPO))


def docker(host: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["DOCKER_HOST"] = host
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=env)


def answers(host: str) -> bool:
    try:
        out = docker(host, "info", "--format", "{{.Swarm.ControlAvailable}}", timeout=20)
    except subprocess.TimeoutExpired:
        return False
    return out.stdout.strip() == "true"


def lab_names(variable: str, prefix: str, count: int) -> list[str]:
    """$variable's comma-separated lab names, else `count` names unique to this run."""
    import uuid

    run = uuid.uuid4().hex[:5]
    default = ",".join(f"{prefix}{run}{chr(ord('a') + i)}" for i in range(count))
    return [n.strip() for n in (os.environ.get(variable) or default).split(",") if n.strip()]


def bring_up(targets: Sequence[str], labs: Sequence[str]) -> Iterator[dict[str, LabLayout]]:
    """target name -> the lab that is its swarm (brought up here when it is not up; taken down after)."""
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if os.geteuid() != 0:
        if in_ci:
            pytest.fail("CI=true and the fan-out labs need root", pytrace=False)
        pytest.skip("bringing up labs needs root")
    assert len(labs) == len(targets), f"{len(targets)} labs are needed, got {', '.join(labs)}"
    started: list[str] = []
    layouts: dict[str, LabLayout] = {}
    try:
        for target, name in zip(targets, labs, strict=True):
            layout = read_state(name)
            if layout is None or not answers(layout.manager.host):
                up = stackctl("lab", "up", "--name", name, "--workers", "0", "--no-registry", "--no-ssh",
                              timeout=400)
                assert up.returncode == 0, up.stdout + up.stderr
                started.append(name)
                layout = read_state(name)
            assert layout is not None
            layouts[target] = layout
        yield layouts
    finally:
        for name in started:
            down = stackctl("lab", "down", "--name", name, timeout=300)
            assert down.returncode == 0, down.stderr


def swarms_fixture(targets: Sequence[str], labs: Sequence[str]) -> Any:
    """A module's `swarms` fixture: target name -> its lab (`swarms = swarms_fixture(TARGETS, LABS)`)."""

    @pytest.fixture(scope="module")
    def swarms() -> Iterator[dict[str, LabLayout]]:
        yield from bring_up(targets, labs)

    return swarms


def stack_fixture(prefix: str) -> Any:
    """A module's `stack` fixture: a fresh stack name, removed from every swarm afterwards."""

    @pytest.fixture
    def stack(swarms: dict[str, LabLayout]) -> Iterator[str]:
        import uuid

        name = f"{prefix}{uuid.uuid4().hex[:8]}"
        yield name
        remove_stack(swarms, name)

    return stack


def remove_stack(swarms: dict[str, LabLayout], name: str) -> None:
    """The stack and its history gone from every swarm that answers (bounded wait for its networks)."""
    for layout in swarms.values():
        host = layout.manager.host
        if not answers(host):
            continue
        docker(host, "stack", "rm", name)
        ids = docker(host, "config", "ls", "-q", "--filter", f"label=com.docker.stackctl.history={name}")
        if ids.stdout.split():
            docker(host, "config", "rm", *ids.stdout.split())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        left = [lab for lab in swarms.values() if answers(lab.manager.host) and docker(
            lab.manager.host, "network", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={name}"
        ).stdout.strip()]
        if not left:
            break
        time.sleep(1)
