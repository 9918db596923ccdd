"""The one normaliser against the lab's engine (API 1.41): explicit values it keeps, fields it predates.

`docker stack deploy` is the reference: what it leaves in the engine is what stackctl must
plan against. `init: false` is stored apart from an unset init, so adding it is a change;
`start_interval` is dropped by an engine older than API 1.44, so it must never be a change.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

STACK_PREFIX = "tnorm"


def _file(tmp_path: Path, name: str, init: str | None) -> str:
    init_line = f"    init: {init}\n" if init is not None else ""
    path = tmp_path / name
    path.write_text(
        "services:\n"
        "  app:\n"
        "    image: busybox:latest\n"
        "    command: sleep 100000\n"
        f"{init_line}"
        "    healthcheck:\n"
        '      test: ["CMD", "true"]\n'
        "      start_interval: 2s\n"
        "    deploy:\n"
        "      replicas: 0\n")
    return str(path)


def _container(env: dict[str, str], service: str) -> dict[str, Any]:
    fmt = "{{json .Spec.TaskTemplate.ContainerSpec}}"
    out = subprocess.run(["docker", "service", "inspect", "--format", fmt, service], env=env,
                         capture_output=True, text=True, timeout=60, check=True)
    return dict(json.loads(out.stdout))


def test_init_false_and_start_interval_follow_the_engine(tmp_path: Path, stack_name: str,
                                                         lab_env: dict[str, str], run_stackctl: Any) -> None:
    unset, false = _file(tmp_path, "unset.yml", None), _file(tmp_path, "false.yml", "false")
    ref = subprocess.run(["docker", "stack", "deploy", "-c", unset, stack_name], env=lab_env,
                         capture_output=True, text=True, timeout=120)
    assert ref.returncode == 0, ref.stderr
    stored = _container(lab_env, f"{stack_name}_app")
    assert "Init" not in stored and "StartInterval" not in stored.get("Healthcheck", {})

    same = run_stackctl("diff", stack_name, "-c", unset, env=lab_env)
    assert same.returncode == 0, same.stdout + same.stderr  # start_interval: not a perpetual update

    changed = run_stackctl("diff", stack_name, "-c", false, env=lab_env)
    assert changed.returncode == 2, changed.stdout + changed.stderr
    assert "init: (none) → false" in changed.stdout

    deployed = run_stackctl("deploy", stack_name, "-c", false, "--detach", "--resolve-image", "never",
                            env=lab_env)
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    assert _container(lab_env, f"{stack_name}_app").get("Init") is False
    after = run_stackctl("diff", stack_name, "-c", false, env=lab_env)
    assert after.returncode == 0, after.stdout + after.stderr
    back = run_stackctl("diff", stack_name, "-c", unset, env=lab_env)
    assert back.returncode == 2, back.stdout + back.stderr
