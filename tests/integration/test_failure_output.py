"""The failure output of a rollout on the lab (issue 16): a service whose new command prints a
distinctive line and exits 1. The deploy's output names the service, shows the task's last log line,
says in words what the swarm did and what to run next; history records the revision's status;
`rollback --to 1 --plan-only` prints the plan and writes nothing. One replica, short monitors.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.errors import EXIT_DEPLOY_FAILED, EXIT_OK, EXIT_ROLLED_BACK

pytestmark = pytest.mark.integration
STACK_PREFIX = "fo"


@pytest.fixture
def stack(engine: Any, stack_name: str) -> Any:
    yield stack_name
    from stackctl.history import remove_history

    remove_history(engine, stack_name)


def write(path: Path, action: str, command: list[str]) -> str:
    svc = {"image": "busybox:latest", "command": command, "stop_grace_period": "1s",
           "deploy": {"replicas": 1,
                      "update_config": {"parallelism": 1, "monitor": "2s", "failure_action": action},
                      "rollback_config": {"parallelism": 0, "monitor": "1s"},
                      "restart_policy": {"delay": "1s"}}}
    path.write_text(yaml.safe_dump({"version": "3.8", "services": {"web": svc}}, sort_keys=False))
    return str(path)


def deploy(run: Any, env: dict[str, str], stack: str, file: str,
           *extra: str) -> subprocess.CompletedProcess[str]:
    return run("deploy", stack, "-c", file, "--resolve-image", "never", "--timeout", "90s", *extra, env=env)


def out(cp: subprocess.CompletedProcess[str]) -> str:
    return cp.stdout + cp.stderr


@pytest.mark.parametrize(("action", "code", "status", "swarm_did"), [
    ("rollback", EXIT_ROLLED_BACK, "rolled back",
     "the swarm rolled the service back to its previous spec; the previous version runs"),
    ("pause", EXIT_DEPLOY_FAILED, "failed", "the update is paused"),
])
def test_a_failed_rollout_shows_the_tasks_last_log_line_and_what_to_do(
        action: str, code: int, status: str, swarm_did: str, stack: str, tmp_path: Path, run_stackctl: Any,
        lab_env: dict[str, str], docker_client: Any) -> None:
    good = write(tmp_path / "good.yml", action, ["sleep", "86400"])
    cp = deploy(run_stackctl, lab_env, stack, good)
    assert cp.returncode == EXIT_OK, out(cp)
    marker = f"boom-{stack}"
    bad = write(tmp_path / "bad.yml", action, ["sh", "-c", f"echo starting >&2; echo {marker}; exit 1"])
    cp = deploy(run_stackctl, lab_env, stack, bad)
    assert cp.returncode == code, out(cp)
    err = cp.stderr
    assert f"service {stack}_web: the new version's tasks failed" in err, out(cp)
    assert "non-zero exit (1)" in err
    assert f"    | {marker}" in err and "    | starting" in err, out(cp)  # stdout and stderr
    assert swarm_did in err
    assert f"stackctl logs {stack} web" in err and f"stackctl ps {stack}" in err
    if action == "pause":
        assert f"stackctl rollback {stack}" in err
        assert "1 service: 1 paused" in err
    else:
        assert "1 service: 1 rolled back (previous version running)" in err
        assert "converged" not in err
    # one line per fact, in words: nothing said twice, no engine state names
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == len(set(lines)), err
    for raw in ("rollback_completed", "rolled_back", "[update "):
        assert raw not in out(cp), raw

    cp = run_stackctl("history", stack, "--format", "json", env=lab_env)
    revs = json.loads(cp.stdout)["revisions"]
    assert [(r["revision"], r["status"]) for r in revs] == [(1, "deployed"), (2, status)], cp.stdout
    cp = run_stackctl("history", stack, env=lab_env)
    assert status in cp.stdout.splitlines()[-1], cp.stdout

    version = docker_client.api.inspect_service(f"{stack}_web")["Version"]["Index"]
    cp = run_stackctl("rollback", stack, "--to", "1", "--plan-only", env=lab_env)
    assert cp.returncode == EXIT_OK, out(cp)
    assert "to revision 1" in cp.stdout, out(cp)
    if action == "pause":  # the paused service holds the new spec: the plan puts the old one back
        assert f"service {stack}_web" in cp.stdout and "command:" in cp.stdout, out(cp)
    else:  # the swarm already put the previous spec back: revision 1 is what runs
        assert "No changes" in cp.stdout, out(cp)
    assert docker_client.api.inspect_service(f"{stack}_web")["Version"]["Index"] == version
    cp = run_stackctl("history", stack, "--format", "json", env=lab_env)
    assert len(json.loads(cp.stdout)["revisions"]) == 2


def test_the_deploy_json_carries_the_log_tail(stack: str, tmp_path: Path, run_stackctl: Any,
                                             lab_env: dict[str, str]) -> None:
    good = write(tmp_path / "good.yml", "rollback", ["sleep", "86400"])
    assert deploy(run_stackctl, lab_env, stack, good).returncode == EXIT_OK
    bad = write(tmp_path / "bad.yml", "rollback", ["sh", "-c", "echo boom-json; exit 1"])
    cp = deploy(run_stackctl, lab_env, stack, bad, "--format", "json")
    assert cp.returncode == EXIT_ROLLED_BACK, out(cp)
    (web,) = json.loads(cp.stdout)["services"]
    assert web["state"] == "rolled_back" and web["update_state"] == "rollback_completed"
    assert web["log_tail"] and web["log_tail"][-1] == "boom-json", web
    assert web["task_id"] and web["log_task_id"] and web["log_error"] is None
