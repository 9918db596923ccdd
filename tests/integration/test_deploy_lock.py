"""The deploy lock covers the whole deploy, waiting included (issue 16): two deploys of one stack
started a second apart run one after the other, the second names the holder and plans again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.swarm.times import epoch as parse_time

pytestmark = pytest.mark.integration
STACK_PREFIX = "lk"
REPO = Path(__file__).resolve().parents[2]


def slow_stack(path: Path, level: str) -> str:
    """One service whose task becomes healthy (so: running) ~3 s after it starts."""
    svc = {
        "image": "busybox:latest",
        "command": ["sh", "-c", "sleep 3; touch /tmp/ok; exec sleep 3600"],
        "environment": {"LEVEL": level},
        "healthcheck": {"test": ["CMD", "test", "-f", "/tmp/ok"], "interval": "1s", "timeout": "1s",
                        "retries": 30},
        "stop_grace_period": "1s",
        "deploy": {"replicas": 1, "update_config": {"monitor": "1s", "order": "stop-first"},
                   "restart_policy": {"delay": "1s"}},
    }
    path.write_text(yaml.safe_dump({"version": "3.8", "services": {"web": svc}}, sort_keys=False))
    return str(path)


def _start(stack: str, file: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "stackctl", "deploy", stack, "-c", file, "--resolve-image",
                             "never", "--timeout", "90s"], env={**os.environ, **env}, cwd=str(REPO),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_second_deploy_waits_for_the_first_to_converge(tmp_path: Path, stack_name: str, run_stackctl: Any,
                                                       lab_env: dict[str, str], docker_client: Any) -> None:
    first_file = slow_stack(tmp_path / "one.yml", "one")
    second_file = slow_stack(tmp_path / "two.yml", "two")
    ended: dict[str, float] = {}
    first = _start(stack_name, first_file, lab_env)

    def reap() -> None:
        first.wait()
        ended["first"] = time.time()

    watcher = threading.Thread(target=reap)
    watcher.start()
    time.sleep(1.0)
    second = _start(stack_name, second_file, lab_env)
    out2, err2 = second.communicate(timeout=180)
    watcher.join(timeout=180)
    out1, err1 = first.communicate(timeout=10)
    both = f"--- first\n{out1}{err1}\n--- second\n{out2}{err2}"
    assert first.returncode == 0 and second.returncode == 0, both
    assert "1 service converged" in out1, both
    # the second names the holder (user@host pid N since ...) and says how long it will wait
    assert f"Waiting for the deploy lock of stack {stack_name}, held by " in err2, both
    assert f" pid {first.pid} since " in err2 and "waiting up to 10m" in err2, both
    assert f"Got the deploy lock of stack {stack_name} after " in err2, both
    # it planned again under the lock: an update of the service the first one created
    assert f"Updating service {stack_name}_web" in out2, both
    service = docker_client.api.inspect_service(f"{stack_name}_web")
    env = service["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert "LEVEL=two" in env, env  # the second's spec is what runs
    updated = parse_time(service["UpdatedAt"])
    created = parse_time(service["CreatedAt"])
    assert updated is not None and created is not None
    # the first converged (its task healthy ~3 s after creation) before the second wrote anything
    assert updated - created >= 3.0, (created, updated, both)
    assert updated >= ended["first"] - 0.5, (updated, ended, both)
    running = [t for t in docker_client.api.tasks(filters={"service": [service["ID"]],
                                                           "desired-state": "running"})
               if t["Status"]["State"] == "running"]
    assert len(running) == 1 and "LEVEL=two" in running[0]["Spec"]["ContainerSpec"]["Env"], both
    # history holds both deploys, in the order they wrote, each with its status
    cp = run_stackctl("history", stack_name, "--format", "json", env=lab_env)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    revs = json.loads(cp.stdout)["revisions"]
    assert [(r["revision"], r["status"]) for r in revs] == [(1, "deployed"), (2, "deployed")], revs
    assert revs[0]["files"] == [first_file] and revs[1]["files"] == [second_file], revs
    assert revs[0]["description"].startswith("create "), revs
    assert revs[1]["description"] == "update web (environment)", revs
    assert revs[0]["time"] <= revs[1]["time"], revs
    cp = run_stackctl("history", stack_name, env=lab_env)
    rows = [ln.split() for ln in cp.stdout.splitlines()[1:] if ln.strip()]
    assert [(r[0], r[3]) for r in rows] == [("1", "deployed"), ("2", "deployed")], cp.stdout


def test_a_detached_one_service_update_writes_the_service_and_its_revision_only(
        tmp_path: Path, stack_name: str, run_stackctl: Any, lab_env: dict[str, str],
        docker_client: Any) -> None:
    """Issue 15: the update carries the service's version (the engine's compare-and-swap), so it needs
    no stack lock: a lock another deploy holds does not delay it, and it writes two objects."""
    from stackctl.engine import open_engine
    from stackctl.lock import StackLock

    path = tmp_path / "stack.yml"

    def write(web: str, api: str) -> None:
        def svc(level: str) -> dict[str, Any]:
            return {"image": "busybox:latest", "command": ["sleep", "3600"], "environment": {"LEVEL": level},
                    "deploy": {"replicas": 0}}
        path.write_text(yaml.safe_dump({"version": "3.8", "services": {"web": svc(web), "api": svc(api)}}))

    def deploy(*extra: str) -> Any:
        return run_stackctl("deploy", stack_name, "-c", str(path), "--detach", "--resolve-image", "never",
                            *extra, env=lab_env, timeout=60)

    write("one", "one")
    cp = deploy()
    assert cp.returncode == 0, cp.stdout + cp.stderr
    configs_before = {c["ID"] for c in docker_client.api.configs()}
    engine = open_engine(None, False, host=lab_env["DOCKER_HOST"])
    held = StackLock(engine, stack_name)
    held.acquire()  # as if a multi-object deploy of the stack were running
    try:
        write("two", "one")
        cp = deploy("--lock-timeout", "5s")
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert "Waiting for the deploy lock" not in cp.stderr, cp.stderr
        assert f"Updating service {stack_name}_web" in cp.stdout, cp.stdout
        spec = docker_client.api.inspect_service(f"{stack_name}_web")["Spec"]
        assert "LEVEL=two" in spec["TaskTemplate"]["ContainerSpec"]["Env"]
        new = [c["Spec"]["Name"] for c in docker_client.api.configs() if c["ID"] not in configs_before]
        assert sorted(new) == sorted([f"stackctl-lock-{stack_name}", f"stackctl-history-{stack_name}-2"]), new
    finally:
        held.release()
    # two services to change: the lock is needed again, and no one holds it now
    write("three", "three")
    cp = deploy()
    assert cp.returncode == 0, cp.stdout + cp.stderr
