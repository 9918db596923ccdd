"""Deploy ordering from depends_on on the lab (issue 14): a dependent is created/updated only once its
dependency converged (healthy, completed), a dependency that never gets healthy stops the deploy
before its dependents are written, and --rollback-on-failure undoes in reverse order.

The proof is in the engine's own timestamps: a service's CreatedAt/UpdatedAt against the time the
dependency's task reached `running`, which swarm reports for a task with a healthcheck only once the
check passed. One replica, 1 s intervals: each test takes a few seconds of real waiting.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.errors import EXIT_DEPLOY_FAILED, EXIT_OK, EXIT_TIMEOUT
from stackctl.swarm.times import epoch as parse_time

pytestmark = pytest.mark.integration
STACK_PREFIX = "od"
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples/ordering/shop.yml"


@pytest.fixture
def stack(engine: Any, stack_name: str) -> Any:
    yield stack_name
    from stackctl.history import remove_history

    remove_history(engine, stack_name)


def db(ready_after: float = 3, *, check: str = "/tmp/ok", level: str = "1") -> dict[str, Any]:
    """A database stand-in: healthy `ready_after` seconds after it starts (never, for another path)."""
    return {
        "image": "busybox:latest",
        "command": ["sh", "-c", f"sleep {ready_after}; touch /tmp/ok; exec sleep 3600"],
        "environment": {"LEVEL": level},
        "healthcheck": {"test": ["CMD", "test", "-f", check], "interval": "1s", "timeout": "1s",
                        "retries": 2 if check != "/tmp/ok" else 30},
        "stop_grace_period": "1s",
        "deploy": {"update_config": {"monitor": "1s", "order": "stop-first", "failure_action": "pause"},
                   "restart_policy": {"delay": "1s"}},
    }


def app(depends_on: Any, *, command: str = "exec sleep 3600", level: str = "1") -> dict[str, Any]:
    return {
        "image": "busybox:latest",
        "command": ["sh", "-c", command],
        "environment": {"LEVEL": level},
        "depends_on": depends_on,
        "stop_grace_period": "1s",
        "deploy": {"update_config": {"monitor": "1s", "failure_action": "pause"},
                   "restart_policy": {"delay": "1s"}},
    }


def write(path: Path, services: dict[str, Any], version: str | None = "3.8") -> str:
    doc: dict[str, Any] = {"version": version} if version else {}
    doc["services"] = services
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return str(path)


def deploy(run_stackctl: Any, lab_env: dict[str, str], stack: str, *files: str, extra: tuple[str, ...] = (),
           timeout: str = "60s") -> subprocess.CompletedProcess[str]:
    args = [a for f in files for a in ("-c", f)]
    return run_stackctl("deploy", stack, *args, "--resolve-image", "never", "--timeout", timeout, *extra,
                        env=lab_env, timeout=180)


def out(cp: subprocess.CompletedProcess[str]) -> str:
    return cp.stdout + cp.stderr


def service(client: Any, name: str) -> dict[str, Any]:
    return client.api.inspect_service(name)


def stamp(obj: dict[str, Any], key: str) -> float:
    value = parse_time(obj[key])
    assert value is not None, obj[key]
    return value


def reached(client: Any, name: str, state: str, level: str | None = None) -> float:
    """When the service's current task (with env LEVEL=level) reached `state` (running, complete)."""
    tasks = client.api.tasks(filters={"service": [name]})
    found = [t for t in tasks if t["Status"]["State"] == state
             and (level is None or f"LEVEL={level}" in (t["Spec"]["ContainerSpec"].get("Env") or []))]
    assert found, [(t["Status"]["State"], t["Spec"]["ContainerSpec"].get("Env")) for t in tasks]
    return min(stamp(t["Status"], "Timestamp") for t in found)


@pytest.mark.parametrize("syntax", ["list", "long"])
def test_app_is_created_once_db_is_healthy(syntax: str, stack: str, tmp_path: Path, run_stackctl: Any,
                                           lab_env: dict[str, str], docker_client: Any) -> None:
    depends = ["db"] if syntax == "list" else {"db": {"condition": "service_healthy"}}
    file = write(tmp_path / "s.yml", {"db": db(3), "app": app(depends)}, "3.8" if syntax == "list" else None)
    cp = deploy(run_stackctl, lab_env, stack, file)
    assert cp.returncode == EXIT_OK, out(cp)
    db_svc, app_svc = service(docker_client, f"{stack}_db"), service(docker_client, f"{stack}_app")
    healthy = reached(docker_client, f"{stack}_db", "running")
    assert healthy - stamp(db_svc, "CreatedAt") >= 3.0  # the healthcheck held the task in `starting`
    assert stamp(app_svc, "CreatedAt") >= healthy, out(cp)
    assert cp.stdout.index(f"Creating service {stack}_db") < cp.stdout.index(f"Creating service {stack}_app")


def test_example_db_then_migration_job_then_app_and_an_update_of_both(
        stack: str, tmp_path: Path, run_stackctl: Any, lab_env: dict[str, str], docker_client: Any) -> None:
    plan = run_stackctl("diff", stack, "-c", str(EXAMPLE), env=lab_env)
    assert plan.returncode == 2, out(plan)
    assert f"1. {stack}_db\n  2. {stack}_migrate\n  3. {stack}_app" in plan.stdout, out(plan)
    cp = deploy(run_stackctl, lab_env, stack, str(EXAMPLE))
    assert cp.returncode == EXIT_OK, out(cp)
    healthy = reached(docker_client, f"{stack}_db", "running")
    migrated = reached(docker_client, f"{stack}_migrate", "complete")
    assert stamp(service(docker_client, f"{stack}_migrate"), "CreatedAt") >= healthy
    assert stamp(service(docker_client, f"{stack}_app"), "CreatedAt") >= migrated, out(cp)

    # an update of both db and app: app is written once db's new task is healthy
    override = write(tmp_path / "override.yml", {"db": {"environment": {"LEVEL": "2"}},
                                                 "app": {"environment": {"LEVEL": "2"}}}, None)
    cp = deploy(run_stackctl, lab_env, stack, str(EXAMPLE), override)
    assert cp.returncode == EXIT_OK, out(cp)
    healthy = reached(docker_client, f"{stack}_db", "running", level="2")
    app_svc = service(docker_client, f"{stack}_app")
    assert "LEVEL=2" in app_svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert stamp(app_svc, "UpdatedAt") >= healthy, out(cp)
    assert f"Updating service {stack}_migrate" not in cp.stdout  # unchanged: not re-run, not waited on


def test_db_that_never_gets_healthy_stops_the_deploy_before_app(
        stack: str, tmp_path: Path, run_stackctl: Any, lab_env: dict[str, str], docker_client: Any) -> None:
    file = write(tmp_path / "s.yml", {"db": db(0, check="/tmp/never"),
                                      "app": app({"db": {"condition": "service_healthy"}})}, None)
    cp = deploy(run_stackctl, lab_env, stack, file, timeout="25s")
    assert cp.returncode in (EXIT_DEPLOY_FAILED, EXIT_TIMEOUT), out(cp)
    assert f"dependency {stack}_db did not become healthy" in cp.stderr, out(cp)
    assert f"{stack}_app not written" in cp.stderr, out(cp)
    assert not docker_client.api.services(filters={"name": f"{stack}_app"})


def test_rollback_on_failure_undoes_in_reverse_order(
        stack: str, tmp_path: Path, run_stackctl: Any, lab_env: dict[str, str], docker_client: Any) -> None:
    good = write(tmp_path / "good.yml", {"db": db(1), "app": app(["db"])})
    cp = deploy(run_stackctl, lab_env, stack, good)
    assert cp.returncode == EXIT_OK, out(cp)
    # both change; db converges, then app's new tasks keep failing: the whole deploy is undone
    bad = write(tmp_path / "bad.yml", {"db": db(1, level="2"),
                                       "app": app(["db"], command="exit 1", level="2")})
    cp = deploy(run_stackctl, lab_env, stack, bad, extra=("--rollback-on-failure",))
    assert cp.returncode not in (EXIT_OK, EXIT_TIMEOUT), out(cp)
    assert "undoing the deploy" in cp.stderr, out(cp)
    db_svc, app_svc = service(docker_client, f"{stack}_db"), service(docker_client, f"{stack}_app")
    for svc in (db_svc, app_svc):
        assert "LEVEL=1" in svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"], out(cp)
    undo = [line for line in cp.stdout.splitlines() if line.startswith("undo: Updating service")]
    assert undo == [f"undo: Updating service {stack}_app (id: {app_svc['ID']})",
                    f"undo: Updating service {stack}_db (id: {db_svc['ID']})"], out(cp)
    assert stamp(app_svc, "UpdatedAt") <= stamp(db_svc, "UpdatedAt")  # app put back first
