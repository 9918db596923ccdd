"""Faults with three managers, on a named lab of this module's own (never the shared one):

- the raft leader's dockerd killed while stackctl creates services through a follower: the
  deploy completes on the new leader or ends with a clear error naming what it did; a rerun
  converges and `diff` then finds nothing;
- the leader's dockerd killed while stackctl waits for the services it wrote: through a
  follower the wait carries on on the new leader; through the leader itself stackctl ends at
  once, exit 1, naming the lost engine, what was written and what is not known; a rerun
  through a live manager converges (killed managers are brought back before each case);
- the lab registry killed while stackctl creates services that pull from it: a clean end naming
  what was done; once the registry is back, a rerun converges;
- quorum lost (two managers of three gone): a clear error, no traceback, nothing claimed as done.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackctl.lab import host, lifecycle, registry
from stackctl.lab.layout import LabLayout, LabNode
from tests.integration.named_lab import (
    REPO,
    exports,
    own_lab,
    run_docker,
    run_stackctl,
)
from tests.integration.test_faults import (
    Deploy,
    assert_all_reported,
    assert_clean_exit,
    converges,
    stack_objects,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def trio() -> Iterator[LabLayout]:
    """A lab of our own: 3 managers, 1 worker (no ssh)."""
    yield from own_lab("f", "--managers", "3", "--workers", "1", "--no-ssh")


def _env(node: LabNode) -> dict[str, str]:
    return {"DOCKER_HOST": node.host}


def _managers(trio: LabLayout, via: LabNode) -> dict[str, dict[str, Any]]:
    """hostname -> ManagerStatus as the swarm reports it through `via`."""
    out = run_docker("node", "inspect", *[n.name for n in trio.managers], env=_env(via))
    if out.returncode != 0:
        return {}
    return {n["Description"]["Hostname"]: n.get("ManagerStatus") or {} for n in json.loads(out.stdout)}


def _alive(trio: LabLayout) -> list[LabNode]:
    return [n for n in trio.managers if run_docker("version", env=_env(n), timeout=10).returncode == 0]


def _kill(node: LabNode) -> None:
    pid = host.read_pid(node.pidfile)
    assert pid and "dockerd" in host.cmdline(pid)
    os.kill(pid, signal.SIGKILL)


def _leader(trio: LabLayout) -> tuple[LabNode, LabNode]:
    """(the leader, a live follower), once the swarm has a leader again."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for via in _alive(trio):
            statuses = _managers(trio, via)
            leaders = [h for h, s in statuses.items() if s.get("Leader")]
            if leaders:
                leader = trio.node(leaders[0])
                followers = [n for n in _alive(trio) if n.name != leader.name]
                if followers:
                    return leader, followers[0]
        time.sleep(1)
    raise AssertionError("no leader within 60s")


STACK = """\
version: "3.8"
services:
""" + "".join(f"  s{i:02d}: {{image: busybox:latest, deploy: {{replicas: {1 if i < 2 else 0},"
              f" placement: {{constraints: [node.role == worker]}}}}}}\n" for i in range(12))


def test_leader_killed_while_creating(trio: LabLayout, tmp_path: Path) -> None:
    leader, follower = _leader(trio)
    env = _env(follower)
    stack = f"fk{uuid.uuid4().hex[:6]}"
    path = tmp_path / "stack.yml"
    path.write_text(STACK)
    run = Deploy(["deploy", stack, "-c", str(path), "--timeout", "90s"], {**host.tool_env(), **env}, tmp_path)
    run.wait_for("Creating service", timeout=60)
    _kill(leader)
    code = run.finish(timeout=150)
    out = run.output
    assert_clean_exit(code, out, {0, 1, 3})
    new_leader, _ = _leader(trio)
    assert new_leader.name != leader.name
    assert_all_reported({**host.tool_env(), **env}, stack, out)
    rerun = converges(lambda *a, env=None, timeout=300: run_stackctl(*a, env=env, timeout=timeout),
                      env, stack, str(path))
    print(f"leader {leader.name} killed while creating: deploy exit {code}\n{out[-2000:]}\n"
          f"rerun:\n{rerun[-800:]}")


def _revive(trio: LabLayout) -> None:
    """Every manager's dockerd answering again (a test before may have killed one), and a leader."""
    for node in trio.managers:
        if run_docker("version", env=_env(node), timeout=10).returncode != 0:
            lifecycle.start_dockerd(node, offline=not trio.registry)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        statuses = _managers(trio, trio.managers[0])
        if len(statuses) == len(trio.managers) and all(
                s.get("Reachability") == "reachable" for s in statuses.values()) and any(
                s.get("Leader") for s in statuses.values()):
            return
        time.sleep(1)
    raise AssertionError(f"managers not all reachable again: {_managers(trio, trio.managers[0])}")


# Tasks that run at once, but that stackctl watches for `monitor` before it counts them: the deploy
# sits in its wait long enough for a leader to be killed and replaced.
SLOW_STACK = """\
version: "3.8"
services:
  slow:
    image: busybox:latest
    command: ["sleep", "3600"]
    deploy:
      replicas: 2
      placement: {constraints: [node.role == worker]}
      update_config: {monitor: 45s}
  other:
    image: busybox:latest
    command: ["sleep", "3600"]
    deploy:
      placement: {constraints: [node.role == worker]}
      update_config: {monitor: 45s}
"""


@pytest.mark.parametrize("via", ["follower", "leader"])
def test_leader_killed_during_the_wait(trio: LabLayout, tmp_path: Path, via: str) -> None:
    """The services are written and stackctl waits for them when the leader's dockerd dies.

    Through a follower, the swarm elects a new leader and the deploy carries on there (or ends
    with a clear error); through the leader itself, stackctl has lost its engine: exit 1 with a
    message naming that engine and what the deploy had written, within --timeout.
    """
    _revive(trio)
    leader, follower = _leader(trio)
    through = follower if via == "follower" else leader
    env = {**host.tool_env(), **_env(through)}
    stack = f"fw{uuid.uuid4().hex[:6]}"
    path = tmp_path / "stack.yml"
    path.write_text(SLOW_STACK)
    run = Deploy(["deploy", stack, "-c", str(path), "--timeout", "120s"], env, tmp_path)
    run.wait_for("watching", timeout=90)  # the tasks run: stackctl is in its wait
    _kill(leader)
    killed = time.monotonic()
    code = run.finish(timeout=180)
    took = time.monotonic() - killed
    out = run.output
    assert_clean_exit(code, out, {0, 1})
    new_leader, live = _leader(trio)
    assert new_leader.name != leader.name
    live_env = {**host.tool_env(), **_env(live)}
    assert_all_reported(live_env, stack, out)
    if code != 0:  # what was written, what is not known, named after the error
        done = next((line for line in out.splitlines() if line.startswith("done: ")), "")
        assert f"service {stack}_slow" in done and f"service {stack}_other" in done, out
        assert "not known: whether the services converged" in out, out
    if via == "leader":
        assert code == 1, out
        assert f"cannot watch the rollout: the Docker engine at {through.host}" in out, out
        assert took < 30, f"{took:.0f}s to notice the engine was gone:\n{out}"
    rerun = converges(lambda *a, env=None, timeout=300: run_stackctl(*a, env=env, timeout=timeout),
                      _env(live), stack, str(path))
    print(f"leader {leader.name} killed during the wait (via {via}): deploy exit {code} "
          f"{took:.0f}s after the kill\n{out[-2000:]}\nrerun:\n{rerun[-800:]}")


def _all_running(env: dict[str, str], stack: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = run_docker("service", "ls", "--filter", f"label=com.docker.stack.namespace={stack}",
                          "--format", "{{.Replicas}}", env=env).stdout.split()
        if rows and all(r.split("/")[0] == r.split("/")[1].split()[0] for r in rows):
            return True
        time.sleep(2)
    return False


def test_registry_killed_while_creating(trio: LabLayout, tmp_path: Path) -> None:
    _, manager = _leader(trio)
    lab = exports(trio.name)
    env = {**host.tool_env(), "DOCKER_HOST": manager.host, "DOCKER_CONFIG": str(tmp_path / "docker-config")}
    subprocess.run(["docker", "login", lab["STACKCTL_LAB_REGISTRY"], "-u", "lab", "--password-stdin"],
                   input=lab["STACKCTL_LAB_REGISTRY_PASSWORD"], check=True, capture_output=True, text=True,
                   timeout=60, env=env)
    image = f"{lab['STACKCTL_LAB_REGISTRY']}/dockersamples/atsea_app:latest"  # not yet on the worker
    path = tmp_path / "stack.yml"
    path.write_text(STACK.replace("busybox:latest", image))
    stack = f"fr{uuid.uuid4().hex[:6]}"
    args = ["deploy", stack, "-c", str(path), "--with-registry-auth", "--timeout", "60s"]
    run = Deploy(args, env, tmp_path)
    run.wait_for("Creating service", timeout=60)
    files = registry.RegistryFiles.of(trio.place)
    pid = host.read_pid(files.pidfile)
    assert pid and str(files.config) in host.cmdline(pid)
    os.kill(pid, signal.SIGKILL)
    try:
        code = run.finish(timeout=150)
        out = run.output
        assert_clean_exit(code, out, {0, 1, 3, 5})
        assert_all_reported(env, stack, out)
        registry.serve(trio)
        rerun = subprocess.run([sys.executable, "-m", "stackctl", *args], capture_output=True, text=True,
                               timeout=300, env=env, cwd=str(REPO))
        assert_clean_exit(rerun.returncode, rerun.stdout + rerun.stderr, {0})
        # "Up to date" is about the specs: the tasks the dead registry failed are retried by swarm.
        assert _all_running(env, stack, timeout=90), run_docker("service", "ls", env=env).stdout
        print(f"registry killed while creating: deploy exit {code}\n{out[-1500:]}\n"
              f"rerun:\n{rerun.stdout[-600:]}")
    finally:
        if not registry.answers(trio.registry_address, files.ca_crt):
            registry.serve(trio)
        run_stackctl("rm", stack, env=env)
        assert not stack_objects(env, stack) - {f"{stack}_default"}


def test_quorum_lost_is_a_clear_error(trio: LabLayout, tmp_path: Path) -> None:
    alive = _alive(trio)
    for node in alive[1:]:
        _kill(node)
    last = alive[0]
    path = tmp_path / "stack.yml"
    path.write_text(STACK)
    stack = f"fq{uuid.uuid4().hex[:6]}"
    out = run_stackctl("deploy", stack, "-c", str(path), "--timeout", "30s", env=_env(last), timeout=120)
    text = out.stdout + out.stderr
    assert_clean_exit(out.returncode, text, {1})
    # The engine says "does not have a leader" once raft noticed, "deadline exceeded" until then.
    assert any(word in text.lower() for word in ("leader", "quorum", "deadline exceeded")), text
    assert len(text.strip().splitlines()) <= 3, text
    assert "Creating service" not in text and "converged" not in text, text
