"""The command-line conventions of issue 18 on the lab: JSON documents, exit codes, engine named
in "nothing found", and the `docker service logs` flags of `logs`.

One small stack, deployed once by stackctl (so it has a revision history), serves every test.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackctl.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, EXIT_USAGE

pytestmark = pytest.mark.integration

STACK_PREFIX = "cli"
STACK_FILE = """
services:
  talker:
    image: busybox:latest
    command: ["sh", "-c", "echo hello-out; echo hello-err >&2; exec sleep 3600"]
    stop_grace_period: 1s
"""
STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"


@pytest.fixture(scope="module")
def deployed(lab_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(stack, file) deployed by stackctl, its log lines written; removed with its history after."""
    import subprocess
    import sys
    import uuid

    from tests.conftest import REPO

    stack = f"{STACK_PREFIX}{uuid.uuid4().hex[:8]}"
    path = tmp_path_factory.mktemp("cli") / "stack.yml"
    path.write_text(STACK_FILE)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stackctl", *args], env=lab_env, capture_output=True,
                              text=True, timeout=300, cwd=str(REPO))

    out = run("deploy", stack, "-c", str(path), "--resolve-image", "never", "--timeout", "120s")
    assert out.returncode == EXIT_OK, out.stdout + out.stderr
    try:
        deadline = time.monotonic() + 30
        while "hello-err" not in run("logs", stack).stderr:
            assert time.monotonic() < deadline, "the service never logged"
            time.sleep(1)
        yield stack, str(path)
    finally:
        run("rm", stack)


def _json(run_stackctl: Any, lab_env: dict[str, str], *args: str, code: int = EXIT_OK) -> dict[str, Any]:
    out = run_stackctl(*args, "--format", "json", env=lab_env)
    assert out.returncode == code, out.stdout + out.stderr
    doc = json.loads(out.stdout)
    assert isinstance(doc, dict) and re.fullmatch(r"stackctl\.[a-z-]+/v\d+", doc["schema"]), doc
    return doc


def test_every_json_document_is_an_object_with_schema(deployed: tuple[str, str], run_stackctl: Any,
                                                        lab_env: dict[str, str]) -> None:
    stack, path = deployed
    assert _json(run_stackctl, lab_env, "ps", stack)["schema"] == "stackctl.ps/v1"
    services = _json(run_stackctl, lab_env, "services", stack)
    assert services["schema"] == "stackctl.services/v1"
    assert _json(run_stackctl, lab_env, "ls")["schema"] == "stackctl.ls/v1"
    history = _json(run_stackctl, lab_env, "history", stack)
    assert history["schema"] == "stackctl.history/v1" and [r["revision"] for r in history["revisions"]] == [1]
    assert _json(run_stackctl, lab_env, "diff", stack, "-c", path)["schema"] == "stackctl.diff/v2"
    deploy = _json(run_stackctl, lab_env, "deploy", stack, "-c", path, "--resolve-image", "never")
    assert deploy["schema"] == "stackctl.deploy/v3"
    assert _json(run_stackctl, lab_env, "validate", "-c", path)["schema"] == "stackctl.validate/v1"
    error = _json(run_stackctl, lab_env, "ps", stack + "-nosuch", code=EXIT_ERROR)
    assert error["schema"] == "stackctl.error/v1"
    # the same field names for the same things: a service's name and convergence
    (status,) = services["services"]
    assert status["name"] == f"{stack}_talker" and status["converged"] is True


def test_deploy_outcome_names_match_ps(deployed: tuple[str, str], run_stackctl: Any, lab_env: dict[str, str],
                                       tmp_path: Path) -> None:
    stack, _ = deployed
    changed = tmp_path / "stack.yml"
    changed.write_text(STACK_FILE + "    environment: {CHANGED: '1'}\n")
    doc = _json(run_stackctl, lab_env, "deploy", stack, "-c", str(changed), "--resolve-image", "never",
                "--timeout", "120s")
    (outcome,) = doc["services"]
    assert outcome["name"] == f"{stack}_talker" and outcome["converged"] is True
    assert outcome["state"] == "converged" and "service" not in outcome


def test_quiet_ids_are_short_in_ps_and_services(deployed: tuple[str, str], run_stackctl: Any,
                                                lab_env: dict[str, str]) -> None:
    stack, _ = deployed
    for command in ("ps", "services"):
        ids = run_stackctl(command, stack, "-q", env=lab_env).stdout.split()
        assert ids and all(len(i) == 12 for i in ids), (command, ids)
        full = run_stackctl(command, stack, "-q", "--no-trunc", env=lab_env).stdout.split()
        assert all(len(i) == 25 for i in full), (command, full)


def test_exit_codes_and_the_engine_in_nothing_found(deployed: tuple[str, str], run_stackctl: Any,
                                                    lab_env: dict[str, str]) -> None:
    stack, path = deployed
    missing = stack + "-nosuch"
    for command in (["history", missing], ["ps", missing], ["services", missing], ["logs", missing],
                    ["rm", missing]):
        out = run_stackctl(*command, env=lab_env)
        assert out.returncode == EXIT_ERROR, (command, out.stderr)
        assert lab_env["DOCKER_HOST"] in out.stderr, (command, out.stderr)  # which engine was asked
    bad = run_stackctl("diff", stack, "-c", path, "--format", "xml", env=lab_env)
    assert bad.returncode == EXIT_USAGE != EXIT_CHANGES, bad.stderr
    assert run_stackctl("ps", stack, "-f", "colour=red", env=lab_env).returncode == EXIT_USAGE


def test_ps_name_filter_takes_the_short_service_name(deployed: tuple[str, str], run_stackctl: Any,
                                                     lab_env: dict[str, str]) -> None:
    stack, _ = deployed
    out = run_stackctl("ps", stack, "-f", "name=talker", env=lab_env)
    assert out.returncode == 0 and f"{stack}_talker.1" in out.stdout, out.stdout + out.stderr
    assert "converged" not in out.stdout  # the summary line goes to stderr


def test_logs_flags_of_docker_service_logs(deployed: tuple[str, str], run_stackctl: Any,
                                           lab_env: dict[str, str]) -> None:
    stack, _ = deployed
    prefix = rf"{stack}_talker\.1\.[a-z0-9]{{12}}@[\w.-]+ +\| "

    def lines(pattern: str) -> str:  # one line per task (the outcome test above replaced the first)
        return f"(?:{pattern}\n)+"

    plain = run_stackctl("logs", stack, env=lab_env)
    assert re.fullmatch(lines(prefix + "hello-out"), plain.stdout), plain.stdout
    stamped = run_stackctl("logs", stack, "-t", env=lab_env)
    assert re.fullmatch(lines(prefix + STAMP + " hello-out"), stamped.stdout), stamped.stdout
    assert re.fullmatch(lines(prefix + STAMP + " hello-err"), stamped.stderr), stamped.stderr
    no_ids = run_stackctl("logs", stack, "talker", "--no-task-ids", env=lab_env)
    assert re.fullmatch(lines(rf"{stack}_talker\.1@[\w.-]+ +\| hello-out"), no_ids.stdout), no_ids.stdout
    full = run_stackctl("logs", stack, "--no-trunc", env=lab_env)
    assert re.search(r"\.[a-z0-9]{25}@", full.stdout), full.stdout
    raw = run_stackctl("logs", stack, "--raw", "-t", env=lab_env)
    assert re.fullmatch(lines(STAMP + " hello-out"), raw.stdout), raw.stdout
    tail = run_stackctl("logs", stack, "-n", "1", env=lab_env)
    tasks = len(plain.stdout.splitlines())  # every task printed hello-out once and hello-err once
    assert len((tail.stdout + tail.stderr).splitlines()) == tasks, tail.stdout + tail.stderr


def test_tab_completes_stack_and_service_names_from_the_engine(deployed: tuple[str, str],
                                                               run_stackctl: Any,
                                                               lab_env: dict[str, str]) -> None:
    stack, _ = deployed

    def tab(words: str) -> list[str]:
        env = {**lab_env, "_STACKCTL_COMPLETE": "complete_bash", "COMP_WORDS": words,
               "COMP_CWORD": str(len(words.split(" ")) - 1)}
        out = run_stackctl(env=env, timeout=30)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    assert stack in tab(f"stackctl ps {stack[:4]}")
    assert tab(f"stackctl logs {stack} ") == ["talker"]
