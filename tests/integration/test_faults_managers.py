"""Faults with three managers, on a named lab of this module's own (never the shared one):

- the raft leader's dockerd killed while stackctl creates services through a follower, and while it
  waits for them to converge: the deploy completes on the new leader or ends with a clear error
  naming what it did; a rerun converges and `diff` then finds nothing (the killed daemon is started
  again after the waiting case, so that the swarm keeps three managers for the next tests);
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


# s00's task turns healthy ~12 s after it starts (so the deploy is still waiting when the leader dies);
# the others have no task.
WAITING = """\
version: "3.8"
services:
  s00:
    image: busybox:latest
    command: [sh, -c, "sleep 12; touch /tmp/ok; exec sleep 3600"]
    healthcheck: {test: [CMD, test, -f, /tmp/ok], interval: 1s, timeout: 1s, retries: 60}
    stop_grace_period: 1s
    deploy: {replicas: 1, placement: {constraints: [node.role == worker]}}
""" + "".join(f"  s{i:02d}: {{image: busybox:latest, deploy: {{replicas: 0}}}}\n" for i in range(1, 4))


def _restart(trio: LabLayout, node: LabNode) -> None:
    """A killed manager's dockerd started again; returns once every manager is reachable in raft
    again (the next test kills a leader and needs the other two)."""
    if node in _alive(trio):
        return
    node.pidfile.unlink(missing_ok=True)
    lifecycle.start_dockerd(node, offline=not trio.registry)
    deadline = time.monotonic() + 90
    statuses: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        statuses = _managers(trio, node)
        if len(statuses) == len(trio.managers) and all(
                s.get("Reachability") == "reachable" for s in statuses.values()):
            return
        time.sleep(1)
    raise AssertionError(f"managers not all reachable 90s after restarting {node.name}: {statuses}")


def _kill_the_leader_during(trio: LabLayout, tmp_path: Path, phase: str, stack_text: str,
                            needle: str, allowed: set[int]) -> LabNode:
    """Deploy through a follower, kill the leader's dockerd once `needle` (with {stack}) is printed;
    the deploy must end cleanly, name all it wrote, and a rerun converge. Returns the killed node."""
    leader, follower = _leader(trio)
    env = _env(follower)
    stack = f"f{phase[0]}{uuid.uuid4().hex[:6]}"
    path = tmp_path / "stack.yml"
    path.write_text(stack_text)
    run = Deploy(["deploy", stack, "-c", str(path), "--timeout", "90s"], {**host.tool_env(), **env}, tmp_path)
    try:
        run.wait_for(needle.format(stack=stack), timeout=60)
        _kill(leader)
        code = run.finish(timeout=150)
        out = run.output
        assert_clean_exit(code, out, allowed)
        new_leader, _ = _leader(trio)
        assert new_leader.name != leader.name
        assert_all_reported({**host.tool_env(), **env}, stack, out)
        rerun = converges(lambda *a, env=None, timeout=300: run_stackctl(*a, env=env, timeout=timeout),
                          env, stack, str(path))
        print(f"leader {leader.name} killed while {phase}: deploy exit {code}\n{out[-2000:]}\n"
              f"rerun:\n{rerun[-800:]}")
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
    return leader


def test_leader_killed_while_waiting(trio: LabLayout, tmp_path: Path) -> None:
    killed: LabNode | None = None
    try:
        # "{stack}_s00: " is the wait's first progress line
        killed = _kill_the_leader_during(trio, tmp_path, "waiting", WAITING, "{stack}_s00: ", {0, 1, 3, 5})
    finally:
        for node in [killed] if killed else trio.managers:
            _restart(trio, node)  # the next test kills a leader too: three managers again


def test_leader_killed_while_creating(trio: LabLayout, tmp_path: Path) -> None:
    _kill_the_leader_during(trio, tmp_path, "creating", STACK, "Creating service", {0, 1, 3})


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
