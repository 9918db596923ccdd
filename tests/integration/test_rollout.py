"""Rollouts on the lab: waiting, truthful exit codes, whole-stack undo, history and rollback.

Every test uses a real failing workload (a command that exits non-zero, a healthcheck that
never passes, tasks the scheduler cannot place). Stacks are prefixed `ro` and removed after,
with their history configs. Monitors and delays are short so the swarm decides quickly.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.errors import EXIT_DEPLOY_FAILED, EXIT_OK, EXIT_ROLLED_BACK, EXIT_TIMEOUT

pytestmark = pytest.mark.integration
STACK_PREFIX = "ro"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def stack(engine: Any, stack_name: str, docker_client: Any) -> Any:
    yield stack_name
    from stackctl.history import remove_history

    remove_history(engine, stack_name)


def write_stack(path: Path, services: dict[str, Any], version: str = "3.8") -> str:
    path.write_text(yaml.safe_dump({"version": version, "services": services}, sort_keys=False))
    return str(path)


def busybox(*, command: list[str] | None = None, replicas: int = 1, action: str = "rollback",
            env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    svc: dict[str, Any] = {
        "image": "busybox:latest",
        "deploy": {
            "replicas": replicas,
            "update_config": {"parallelism": 1, "monitor": "2s", "failure_action": action},
            "rollback_config": {"parallelism": 0, "monitor": "1s"},
            "restart_policy": {"delay": "1s"},
        },
    }
    if command:
        svc["command"] = command
    if env:
        svc["environment"] = env
    svc.update(extra)
    return svc


def deploy(run_stackctl: Any, lab_env: dict[str, str], stack: str, file: str, *extra: str,
           timeout: str = "90s") -> subprocess.CompletedProcess[str]:
    return run_stackctl("deploy", stack, "-c", file, "--resolve-image", "never", "--timeout", timeout, *extra,
                        env=lab_env)


def spec_of(client: Any, name: str) -> dict[str, Any]:
    return client.api.inspect_service(name)["Spec"]


def current_running(client: Any, name: str) -> int:
    tasks = client.api.tasks(filters={"service": [name], "_up-to-date": "true", "desired-state": "running"})
    return sum(1 for t in tasks if t["Status"]["State"] == "running")


def out(cp: subprocess.CompletedProcess[str]) -> str:
    return cp.stdout + cp.stderr


def test_bad_update_with_failure_action_rollback_exits_4(stack: str, tmp_path: Path, run_stackctl: Any,
                                                         lab_env: dict[str, str], docker_client: Any) -> None:
    good = write_stack(tmp_path / "good.yml", {"web": busybox(replicas=2)})
    cp = deploy(run_stackctl, lab_env, stack, good)
    assert cp.returncode == EXIT_OK, out(cp)
    before = spec_of(docker_client, f"{stack}_web")
    bad = write_stack(tmp_path / "bad.yml", {"web": busybox(replicas=2, command=["sh", "-c", "exit 1"])})
    cp = deploy(run_stackctl, lab_env, stack, bad)
    assert cp.returncode == EXIT_ROLLED_BACK, out(cp)
    assert "rolled back" in cp.stderr and f"{stack}_web" in cp.stderr
    assert "non-zero exit (1)" in cp.stderr  # the task error that caused it
    after = spec_of(docker_client, f"{stack}_web")
    args = before["TaskTemplate"]["ContainerSpec"].get("Args")
    assert after["TaskTemplate"]["ContainerSpec"].get("Args") == args


def test_bad_update_with_failure_action_pause_exits_3(stack: str, tmp_path: Path, run_stackctl: Any,
                                                      lab_env: dict[str, str], docker_client: Any) -> None:
    good = write_stack(tmp_path / "good.yml", {"web": busybox(action="pause")})
    assert deploy(run_stackctl, lab_env, stack, good).returncode == EXIT_OK
    bad = write_stack(tmp_path / "bad.yml", {"web": busybox(action="pause", command=["sh", "-c", "exit 3"])})
    cp = deploy(run_stackctl, lab_env, stack, bad)
    assert cp.returncode == EXIT_DEPLOY_FAILED, out(cp)
    assert "paused" in cp.stderr and f"{stack}_web" in cp.stderr
    assert docker_client.api.inspect_service(f"{stack}_web")["UpdateStatus"]["State"] == "paused"


def test_good_update_exits_0_only_when_new_tasks_run(stack: str, tmp_path: Path, run_stackctl: Any,
                                                     lab_env: dict[str, str], docker_client: Any) -> None:
    v1 = write_stack(tmp_path / "v1.yml", {"web": busybox(replicas=2, env={"V": "1"})})
    assert deploy(run_stackctl, lab_env, stack, v1).returncode == EXIT_OK
    v2 = write_stack(tmp_path / "v2.yml", {"web": busybox(replicas=2, env={"V": "2"})})
    started = time.monotonic()
    cp = deploy(run_stackctl, lab_env, stack, v2)
    elapsed = time.monotonic() - started
    assert cp.returncode == EXIT_OK, out(cp)
    svc = docker_client.api.inspect_service(f"{stack}_web")
    assert svc["UpdateStatus"]["State"] == "completed"
    assert current_running(docker_client, f"{stack}_web") == 2
    assert elapsed < 60


def test_rollback_on_failure_restores_all_three_services(stack: str, tmp_path: Path, run_stackctl: Any,
                                                         lab_env: dict[str, str], docker_client: Any) -> None:
    names = ("a", "b", "c")
    v1 = write_stack(tmp_path / "v1.yml", {n: busybox(env={"V": "1"}, action="continue") for n in names})
    assert deploy(run_stackctl, lab_env, stack, v1).returncode == EXIT_OK
    before = {n: spec_of(docker_client, f"{stack}_{n}") for n in names}
    services = {n: busybox(env={"V": "2"}, action="continue") for n in names}
    services["b"]["healthcheck"] = {"test": ["CMD", "false"], "interval": "1s", "retries": 1, "timeout": "1s"}
    v2 = write_stack(tmp_path / "v2.yml", services)
    cp = deploy(run_stackctl, lab_env, stack, v2, "--rollback-on-failure", timeout="60s")
    assert cp.returncode == EXIT_ROLLED_BACK, out(cp)
    assert f"{stack}_b" in cp.stderr and "restored" in cp.stderr
    for n in names:
        after = spec_of(docker_client, f"{stack}_{n}")
        assert after["TaskTemplate"]["ContainerSpec"].get("Env") == ["V=1"], n
        assert after["TaskTemplate"]["ContainerSpec"].get("Healthcheck") == \
            before[n]["TaskTemplate"]["ContainerSpec"].get("Healthcheck"), n


def test_healthcheck_that_never_passes_fails_the_deploy(stack: str, tmp_path: Path, run_stackctl: Any,
                                                        lab_env: dict[str, str]) -> None:
    svc = busybox(healthcheck={"test": ["CMD", "false"], "interval": "1s", "retries": 1, "timeout": "1s"})
    cp = deploy(run_stackctl, lab_env, stack, write_stack(tmp_path / "s.yml", {"web": svc}, version="3.8"))
    assert cp.returncode == EXIT_DEPLOY_FAILED, out(cp)
    assert "keep failing" in cp.stderr and "healthcheck" in cp.stderr


def test_unschedulable_service_times_out_with_the_schedulers_reason(
        stack: str, tmp_path: Path, run_stackctl: Any, lab_env: dict[str, str]) -> None:
    svc = busybox()
    svc["deploy"]["resources"] = {"reservations": {"memory": "4000G"}}
    started = time.monotonic()
    cp = deploy(run_stackctl, lab_env, stack, write_stack(tmp_path / "s.yml", {"web": svc}), timeout="6s")
    assert cp.returncode == EXIT_TIMEOUT, out(cp)
    assert "timed out" in cp.stderr and "no suitable node (insufficient resources" in cp.stderr
    assert time.monotonic() - started < 30


def test_constraint_no_node_satisfies_times_out_with_the_reason(engine: Any, docker_client: Any,
                                                                stack: str) -> None:
    """The planner refuses such a file before writing; a service made by hand shows the wait's side."""
    from docker.types import ContainerSpec, Placement, TaskTemplate

    from stackctl.apply.convergence import TIMEOUT, exit_code_for
    from stackctl.apply.wait import wait_for_services

    name = f"{stack}_pinned"
    docker_client.api.create_service(
        TaskTemplate(ContainerSpec("busybox:latest"),
                     placement=Placement(constraints=["node.labels.nope==1"])),
        name=name, labels={"com.docker.stack.namespace": stack})
    outcomes = wait_for_services(engine, [name], timeout=4)
    assert outcomes[0].state == TIMEOUT and exit_code_for(outcomes) == EXIT_TIMEOUT
    assert "scheduling constraints not satisfied" in (outcomes[0].task_error or "")


def _atsea_without_ports(tmp_path: Path, appserver_replicas: int) -> str:
    """The AtSea stack file with its published ports dropped (other tests may hold 80/443/8001)."""
    doc = yaml.safe_load((REPO / "examples/atsea/docker-stack.yml").read_text())
    for svc in doc["services"].values():
        svc.pop("ports", None)
        deploy_ = svc.setdefault("deploy", {})
        deploy_.setdefault("update_config", {}).update({"monitor": "1s", "delay": "0s"})
    doc["services"]["appserver"]["deploy"]["replicas"] = appserver_replicas
    path = tmp_path / f"atsea-{appserver_replicas}.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def test_history_and_rollback_of_atsea(stack: str, tmp_path: Path, run_stackctl: Any,
                                       lab_env: dict[str, str]) -> None:
    subprocess.run([str(REPO / "examples/atsea/create-secrets.sh")], env=lab_env, check=True,
                   capture_output=True, timeout=60)
    v1 = _atsea_without_ports(tmp_path, 2)
    v2 = _atsea_without_ports(tmp_path, 1)
    for f in (v1, v2):
        cp = deploy(run_stackctl, lab_env, stack, f, timeout="120s")
        assert cp.returncode == EXIT_OK, out(cp)
    cp = run_stackctl("history", stack, env=lab_env)
    assert cp.returncode == 0, out(cp)
    lines = [ln.split() for ln in cp.stdout.splitlines()[1:] if ln.strip()]
    assert [ln[0] for ln in lines] == ["1", "2"]
    assert "update appserver (deploy.replicas)" in cp.stdout and "deployed" in cp.stdout
    cp = run_stackctl("history", stack, "1", env=lab_env)
    assert "dockersamples/atsea_app" in cp.stdout, out(cp)  # the images are in the revision's details
    cp = run_stackctl("history", stack, "--format", "json", env=lab_env)
    import json

    revs = json.loads(cp.stdout)["revisions"]
    assert revs[0]["files"] == [v1] and revs[1]["files"] == [v2]
    cp = run_stackctl("rollback", stack, "--to", "1", "--timeout", "120s", env=lab_env)
    assert cp.returncode == EXIT_OK, out(cp)
    cp = run_stackctl("diff", stack, "-c", v1, env=lab_env)
    assert cp.returncode == 0, out(cp)
    cp = run_stackctl("history", stack, "--format", "json", env=lab_env)
    revs = json.loads(cp.stdout)["revisions"]
    assert [r["revision"] for r in revs] == [1, 2, 3] and revs[2]["note"] == "rollback to 1"
    assert revs[2]["status"] == "deployed" and revs[2]["description"].startswith("rollback to 1: update ")
    # rm takes the history with the stack (it would pile up otherwise)
    cp = run_stackctl("rm", stack, env=lab_env)
    assert cp.returncode == 0 and "Removing history of" in cp.stdout, out(cp)
    cp = run_stackctl("history", stack, "--format", "json", env=lab_env)
    assert cp.returncode == 1 and "nothing found in stack" in cp.stdout, out(cp)  # the JSON error document


def _deploy_then_signal(lab_env: dict[str, str], stack: str, file: str, sig: int, *extra: str) -> Any:
    import os
    import sys

    env = {**os.environ, **lab_env}
    out_path = Path(file).with_suffix(f".{sig}.out")
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "stackctl", "deploy", stack, "-c", file,
                                 "--resolve-image", "never", "--timeout", "60s", *extra],
                                env=env, cwd=str(REPO), stdout=out, stderr=subprocess.PIPE, text=True)
    # signalled once the wait shows the service's progress (`STACK_web: ...`): the rollout is under way
    deadline = time.monotonic() + 60
    while f"{stack}_web: " not in out_path.read_text(errors="replace") and proc.poll() is None:
        assert time.monotonic() < deadline, f"no progress line after 60s:\n{out_path.read_text()}"
        time.sleep(0.1)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=60)
    return proc.returncode, stderr


def test_interrupt_leaves_the_swarm_or_undoes_with_the_flag(
        stack: str, tmp_path: Path, run_stackctl: Any, lab_env: dict[str, str], docker_client: Any) -> None:
    import signal

    ok = write_stack(tmp_path / "ok.yml", {"web": busybox(env={"V": "1"})})
    assert deploy(run_stackctl, lab_env, stack, ok).returncode == EXIT_OK
    stuck = busybox(env={"V": "2"})
    stuck["deploy"]["resources"] = {"reservations": {"memory": "4000G"}}
    stuck_file = write_stack(tmp_path / "stuck.yml", {"web": stuck})
    # SIGTERM with --rollback-on-failure: undone, exit 130
    code, stderr = _deploy_then_signal(lab_env, stack, stuck_file, signal.SIGTERM, "--rollback-on-failure")
    assert code == 130, stderr
    assert "restored" in stderr
    assert spec_of(docker_client, f"{stack}_web")["TaskTemplate"]["ContainerSpec"]["Env"] == ["V=1"]
    # Ctrl-C without the flag: the swarm keeps the new spec, exit 130, the message says so
    code, stderr = _deploy_then_signal(lab_env, stack, stuck_file, signal.SIGINT)
    assert code == 130, stderr
    assert "continues the rollout on its own" in stderr and f"service {stack}_web" in stderr
    assert spec_of(docker_client, f"{stack}_web")["TaskTemplate"]["ContainerSpec"]["Env"] == ["V=2"]
