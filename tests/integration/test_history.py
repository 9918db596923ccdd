"""Revision history on the lab: every deploy that wrote something is a revision with a status,
revisions can be shown and diffed in compose terms, `rollback --plan-only` writes nothing, and the
revisions belong to the stack (`docker stack rm` removes them). Stacks are prefixed `hi`; most use
`replicas: 0` so nothing has to start.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.errors import EXIT_DEPLOY_FAILED, EXIT_OK

pytestmark = pytest.mark.integration
STACK_PREFIX = "hi"
HISTORY = "com.docker.stackctl.history"


@pytest.fixture
def stack(stack_name: str, engine: Any) -> Any:
    yield stack_name
    from stackctl.history import remove_history

    remove_history(engine, stack_name)


def write(path: Path, services: dict[str, Any]) -> str:
    path.write_text(yaml.safe_dump({"version": "3.8", "services": services}, sort_keys=False))
    return str(path)


def web(*, delay: str = "2s", level: str = "info", replicas: int = 0, command: list[str] | None = None,
        action: str = "rollback") -> dict[str, Any]:
    return {"image": "busybox:latest", "command": command or ["sleep", "86400"],
            "environment": {"LEVEL": level},
            "deploy": {"replicas": replicas,
                       "update_config": {"delay": delay, "monitor": "2s", "failure_action": action},
                       "restart_policy": {"delay": "1s"}}}


def deploy(run: Any, env: dict[str, str], stack: str, file: str,
           *extra: str) -> subprocess.CompletedProcess[str]:
    return run("deploy", stack, "-c", file, "--resolve-image", "never", "--timeout", "90s", *extra, env=env)


def out(cp: subprocess.CompletedProcess[str]) -> str:
    return cp.stdout + cp.stderr


def history_configs(env: dict[str, str], stack: str) -> list[str]:
    cp = subprocess.run(["docker", "config", "ls", "-q", "--filter", f"label={HISTORY}={stack}"], env=env,
                        capture_output=True, text=True, timeout=60)
    return cp.stdout.split()


def test_history_lists_shows_and_diffs_revisions(stack: str, tmp_path: Path, run_stackctl: Any,
                                                 lab_env: dict[str, str], docker_client: Any) -> None:
    api = {"image": "busybox", "deploy": {"replicas": 0}}  # untagged, and untouched by the second deploy
    v1 = write(tmp_path / "v1.yml", {"web": web(), "api": api})
    v2 = write(tmp_path / "v2.yml", {"web": web(delay="5s", level="debug"), "api": api})
    # The CI a revision records comes from the deploy's environment: set here, never the caller's.
    no_ci = dict.fromkeys(("CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILD_URL"), "")
    for f, ci in ((v1, {}), (v2, {"CI": "true"})):
        cp = deploy(run_stackctl, {**lab_env, **no_ci, **ci}, stack, f)
        assert cp.returncode == EXIT_OK, out(cp)

    cp = run_stackctl("history", stack, env=lab_env)
    assert cp.returncode == 0, out(cp)
    header, *rows = [ln.split() for ln in cp.stdout.splitlines() if ln.strip()]
    assert header[:3] == ["REVISION", "UPDATED", "STATUS"] and "DESCRIPTION" in header
    assert [r[0] for r in rows] == ["1", "2"]
    assert "create 2 services, 1 network" in cp.stdout
    assert "update web (environment, deploy.update_config)" in cp.stdout

    cp = run_stackctl("history", stack, "--format", "json", env=lab_env)
    doc = json.loads(cp.stdout)
    assert doc["schema"] == "stackctl.history/v1" and doc["stack"] == stack
    revs = doc["revisions"]
    assert [(r["revision"], r["status"]) for r in revs] == [(1, "deployed"), (2, "deployed")]
    assert revs[0]["files"] == [v1] and revs[1]["files"] == [v2]
    assert not revs[0].get("ci") and revs[1]["ci"] == {"system": "ci"}
    assert revs[1]["user"] and revs[1]["host"]

    cp = run_stackctl("history", stack, "2", env=lab_env)
    assert cp.returncode == 0, out(cp)
    assert "Status:      deployed" in cp.stdout and f"Files:       {v2}" in cp.stdout
    config = yaml.safe_load(cp.stdout.split("---\n", 1)[1])
    assert config["services"]["web"]["deploy"]["update_config"]["delay"] == "5s"
    cp = run_stackctl("history", stack, "2", "--format", "json", env=lab_env)
    doc = json.loads(cp.stdout)
    assert doc["schema"] == "stackctl.revision/v1" and doc["revision"] == 2
    assert doc["config"]["services"]["web"]["environment"] == {"LEVEL": "debug"}

    cp = run_stackctl("history", stack, "1", "2", env=lab_env)
    assert cp.returncode == 0, out(cp)
    assert "services.web.deploy.update_config.delay: 2s → 5s" in cp.stdout
    assert "services.web.environment.LEVEL: info → debug" in cp.stdout
    assert "services.api" not in cp.stdout and "image of" not in cp.stdout  # api: sent once, written as is
    assert cp.stdout.rstrip().endswith("2 changes."), out(cp)
    cp = run_stackctl("history", stack, "1", "2", "--format", "json", env=lab_env)
    doc = json.loads(cp.stdout)
    assert doc["schema"] == "stackctl.revision-diff/v1" and (doc["from"], doc["to"]) == (1, 2)
    assert {"path": "services.web.deploy.update_config.delay", "change": "changed", "old": "2s",
            "new": "5s"} in doc["changes"]

    # the revisions are not the stack's configs: not counted, not pruned
    cp = run_stackctl("ls", "--format", "json", env=lab_env)
    mine = [s for s in json.loads(cp.stdout)["stacks"] if s["name"] == stack]
    assert mine and mine[0]["configs"] == 0, cp.stdout
    cp = run_stackctl("diff", stack, "-c", v2, "--prune", env=lab_env)
    assert cp.returncode == 0, out(cp)

    # rollback --plan-only prints the plan and writes nothing
    version = docker_client.api.inspect_service(f"{stack}_web")["Version"]["Index"]
    cp = run_stackctl("rollback", stack, "--to", "1", "--plan-only", env=lab_env)
    assert cp.returncode == EXIT_OK, out(cp)
    assert f"service {stack}_web" in cp.stdout and "to revision 1" in cp.stdout
    assert docker_client.api.inspect_service(f"{stack}_web")["Version"]["Index"] == version
    assert len(history_configs(lab_env, stack)) == 2

    # --history-max bounds what is kept
    v3 = write(tmp_path / "v3.yml", {"web": web(delay="5s", level="warn"), "api": api})
    cp = deploy(run_stackctl, lab_env, stack, v3, "--history-max", "2")
    assert cp.returncode == EXIT_OK, out(cp)
    cp = run_stackctl("history", stack, "--format", "json", env=lab_env)
    assert [r["revision"] for r in json.loads(cp.stdout)["revisions"]] == [2, 3]

    # the revisions belong to the stack: the reference's `docker stack rm` removes them
    subprocess.run(["docker", "stack", "rm", stack], env=lab_env, capture_output=True, timeout=60, check=True)
    assert history_configs(lab_env, stack) == []


def test_failed_deploy_is_recorded_as_failed(stack: str, tmp_path: Path, run_stackctl: Any,
                                            lab_env: dict[str, str]) -> None:
    good = write(tmp_path / "good.yml", {"web": web(replicas=1, action="pause")})
    cp = deploy(run_stackctl, lab_env, stack, good)
    assert cp.returncode == EXIT_OK, out(cp)
    failing = web(replicas=1, action="pause", command=["sh", "-c", "exit 1"])
    bad = write(tmp_path / "bad.yml", {"web": failing})
    cp = deploy(run_stackctl, lab_env, stack, bad)
    assert cp.returncode == EXIT_DEPLOY_FAILED, out(cp)
    cp = run_stackctl("history", stack, "--format", "json", env=lab_env)
    revs = json.loads(cp.stdout)["revisions"]
    assert [(r["revision"], r["status"]) for r in revs] == [(1, "deployed"), (2, "failed")]
    assert revs[1]["description"] == "update web (command)"
    cp = run_stackctl("history", stack, env=lab_env)
    assert "failed" in cp.stdout.splitlines()[-1], cp.stdout
    # the default rollback target is the last revision that worked
    cp = run_stackctl("rollback", stack, "--plan-only", env=lab_env)
    assert cp.returncode == EXIT_OK, out(cp)
    assert "to revision 1" in cp.stdout


def test_history_of_an_unknown_stack_fails_clearly(run_stackctl: Any, lab_env: dict[str, str]) -> None:
    cp = run_stackctl("history", "hinosuchstack0", env=lab_env)
    assert cp.returncode == 1
    assert "nothing found in stack: hinosuchstack0" in cp.stderr and "Traceback" not in out(cp)
    cp = run_stackctl("history", "hinosuchstack0", "1", env=lab_env)
    assert cp.returncode == 1 and "no recorded revisions" in cp.stderr
