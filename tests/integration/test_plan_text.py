"""The plan in the stack file's words, on the lab (issue 16): after editing a deployed stack
(`delay: 2s` -> `5s`, `memory: 64M` added, `command` and an environment variable changed, a
service deleted from the file), `stackctl diff` names the compose keys, shows the file's units
and FILE:LINE, lists the deleted service as kept without --prune and removed with it, and its
JSON carries compose path, engine path, file and line of every change. `replicas: 0`: nothing
has to start.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from stackctl.errors import EXIT_CHANGES, EXIT_OK

pytestmark = pytest.mark.integration
STACK_PREFIX = "pt"

OLD = """\
version: "3.8"
services:
  api:
    image: busybox:latest
    command: [sleep, "86400"]
    environment:
      LEVEL: info
    deploy:
      replicas: 0
      update_config:
        delay: 2s
  worker:
    image: busybox:latest
    command: [sleep, "86400"]
    deploy:
      replicas: 0
"""

NEW = """\
version: "3.8"
services:
  api:
    image: busybox:latest
    command: [sleep, "99999"]
    environment:
      LEVEL: debug
    deploy:
      replicas: 0
      update_config:
        delay: 5s
      resources:
        limits:
          memory: 64M
"""


def line_of(text: str, key: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if key in line)


def run(run_stackctl: Any, env: dict[str, str], *args: str, code: int) -> subprocess.CompletedProcess[str]:
    cp: subprocess.CompletedProcess[str] = run_stackctl(*args, env=env)
    assert cp.returncode == code, cp.stdout + cp.stderr
    return cp


@pytest.fixture
def edited(stack_name: str, tmp_path: Path, run_stackctl: Any, lab_env: dict[str, str]) -> tuple[str, str]:
    """(stack, path of the edited file): OLD deployed, NEW written."""
    old, new = tmp_path / "old.yml", tmp_path / "stack.yml"
    old.write_text(OLD)
    new.write_text(NEW)
    run(run_stackctl, lab_env, "deploy", stack_name, "-c", str(old), "--resolve-image", "never",
        "--timeout", "90s", code=EXIT_OK)
    return stack_name, str(new)


def test_diff_speaks_the_files_keys_units_and_lines(edited: tuple[str, str], run_stackctl: Any,
                                                    lab_env: dict[str, str]) -> None:
    stack, path = edited
    text = run(run_stackctl, lab_env, "diff", stack, "-c", path, code=EXIT_CHANGES).stdout
    for change, key in [
        ("~ deploy.update_config.delay: 2s → 5s", "delay:"),
        ("~ deploy.resources.limits.memory: (none) → 64M", "memory:"),
        ("~ command: [sleep, 86400] → [sleep, 99999]", "command:"),
        ("~ environment.LEVEL: info → debug", "LEVEL:"),
    ]:
        assert f"{change}  ({path}:{line_of(NEW, key)})" in text, text
    assert "TaskTemplate" not in text and "UpdateConfig" not in text  # no engine paths without --debug
    assert f"= service {stack}_worker (id: " in text
    assert "not in the files; kept (use --prune to remove)" in text
    assert text.rstrip().splitlines()[-1] == (
        "Plan: 0 to create, 1 to update, 0 to remove, 1 unchanged, 1 kept (not in the files).")

    debug = run(run_stackctl, lab_env, "diff", stack, "-c", path, "--debug", code=EXIT_CHANGES).stdout
    assert f"~ deploy.update_config.delay: 2s → 5s  ({path}:{line_of(NEW, 'delay:')})  [UpdateConfig.Delay]" \
        in debug

    pruned = run(run_stackctl, lab_env, "diff", stack, "-c", path, "--prune", code=EXIT_CHANGES).stdout
    assert f"- service {stack}_worker (id: " in pruned and "not in the files; removed" in pruned
    assert "kept" not in pruned
    assert pruned.rstrip().splitlines()[-1] == "Plan: 0 to create, 1 to update, 1 to remove, 1 unchanged."


def test_a_deleted_service_alone_is_not_no_changes(edited: tuple[str, str], tmp_path: Path, run_stackctl: Any,
                                                   lab_env: dict[str, str]) -> None:
    stack, _ = edited
    only_api = tmp_path / "only-api.yml"
    only_api.write_text(OLD.split("  worker:")[0])
    text = run(run_stackctl, lab_env, "diff", stack, "-c", str(only_api), code=EXIT_OK).stdout
    assert "No changes. " not in text
    assert f"= service {stack}_worker" in text and "kept (use --prune to remove)" in text


def test_diff_json_carries_compose_and_engine_paths(edited: tuple[str, str], run_stackctl: Any,
                                                    lab_env: dict[str, str]) -> None:
    stack, path = edited
    out = run(run_stackctl, lab_env, "diff", stack, "-c", path, "--format", "json", code=EXIT_CHANGES).stdout
    doc = json.loads(out)
    assert doc["schema"] == "stackctl.diff/v2"
    assert doc["summary"]["kept"] == 1
    assert [(k["kind"], k["name"]) for k in doc["kept"]] == [("service", f"{stack}_worker")]
    (api,) = [a for a in doc["actions"] if a["name"] == f"{stack}_api"]
    changes = {c["compose_path"]: c for c in api["changes"]}
    assert changes["deploy.update_config.delay"] == {
        "compose_path": "deploy.update_config.delay", "engine_path": "UpdateConfig.Delay",
        "path": "UpdateConfig.Delay", "file": path, "line": line_of(NEW, "delay:"), "old": "2s", "new": "5s",
        "element": False, "drift": False}
    memory = changes["deploy.resources.limits.memory"]
    assert (memory["engine_path"], memory["old"], memory["new"], memory["line"]) == (
        "TaskTemplate.Resources.Limits.MemoryBytes", None, "64M", line_of(NEW, "memory:"))
    assert changes["environment.LEVEL"]["engine_path"] == "TaskTemplate.ContainerSpec.Env"
    assert (changes["command"]["old"], changes["command"]["new"]) == ("[sleep, 86400]", "[sleep, 99999]")

    pruned = json.loads(run(run_stackctl, lab_env, "diff", stack, "-c", path, "--prune", "--format", "json",
                            code=EXIT_CHANGES).stdout)
    assert pruned["kept"] == [] and pruned["summary"]["remove"] == 1
    assert [a["action"] for a in pruned["actions"] if a["name"] == f"{stack}_worker"] == ["remove"]


def test_deploy_plan_only_json_and_deploy_without_prune_keep_the_service(
        edited: tuple[str, str], run_stackctl: Any, lab_env: dict[str, str]) -> None:
    stack, path = edited
    plan = json.loads(run(run_stackctl, lab_env, "deploy", stack, "-c", path, "--plan-only",
                          "--format", "json", code=EXIT_OK).stdout)
    assert plan["schema"] == "stackctl.diff/v2" and plan["summary"]["kept"] == 1
    doc = json.loads(run(run_stackctl, lab_env, "deploy", stack, "-c", path, "--resolve-image", "never",
                         "--timeout", "90s", "--format", "json", code=EXIT_OK).stdout)
    assert doc["plan"]["schema"] == "stackctl.diff/v2"
    assert doc["plan"]["kept"][0]["name"] == f"{stack}_worker"
    again = run(run_stackctl, lab_env, "diff", stack, "-c", path, code=EXIT_OK).stdout
    assert f"= service {stack}_worker" in again  # still there, still said
