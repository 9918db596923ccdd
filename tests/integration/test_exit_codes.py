"""docs/exit-codes.md is what the code does: every row of its table, produced on the lab.

The table is parsed from the document, so a code added to (or dropped from) the docs without a
case here fails, and each code's name must be the constant of stackctl/errors.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from stackctl import errors

pytestmark = pytest.mark.integration

STACK_PREFIX = "ec"
REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "exit-codes.md"
ROW = re.compile(r"^\| *(\d+) *\| *([A-Z_]+) *\|")


def table() -> dict[int, str]:
    """Code → name, as the document's table says."""
    rows = [ROW.match(line) for line in DOC.read_text().splitlines()]
    return {int(m.group(1)): m.group(2) for m in rows if m}


def stack_file(tmp: Path, service: str, name: str = "stack.yml") -> str:
    path = tmp / name
    path.write_text('version: "3.8"\nservices:\n' + service)
    return str(path)


IDLE = "  app:\n    image: busybox:latest\n    command: [\"sleep\", \"3600\"]\n    stop_grace_period: 1s\n"
FAILS = ("  app:\n    image: busybox:latest\n    command: [\"false\"]\n    stop_grace_period: 1s\n"
         "    deploy:\n      restart_policy: {condition: none}\n")
# never healthy within the test: the task stays `starting` (30 s before its first check)
STARTING = ("  app:\n    image: busybox:latest\n    command: [\"sleep\", \"3600\"]\n"
            "    stop_grace_period: 1s\n    healthcheck:\n      test: [\"CMD\", \"false\"]\n"
            "      interval: 30s\n      retries: 3\n")
UNSET = "  app:\n    image: busybox:${STACKCTL_TEST_UNSET_TAG}\n"

Proc = subprocess.CompletedProcess[str]
Run = Callable[..., Proc]
NEVER = ("--resolve-image", "never")


def case_ok(run: Run, env: dict[str, str], stack: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return run("deploy", stack, "-c", stack_file(tmp, IDLE), *NEVER, "--timeout", "60s", env=env)


def case_error(run: Run, env: dict[str, str], stack: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    missing = run("validate", "-c", str(tmp / "nope.yml"), env=env)
    empty = tmp / "empty-folder"
    empty.mkdir()
    folder = subprocess.run([sys.executable, "-m", "stackctl", "validate"], capture_output=True, text=True,
                            timeout=60, cwd=str(empty), env={**os.environ, **env, "PYTHONPATH": str(REPO)})
    # a -c file that does not exist and a folder without a stack file: the same code
    assert folder.returncode == missing.returncode, (missing.stderr, folder.stderr)
    assert "no stack file" in folder.stderr and "nope.yml: no such file" in missing.stderr
    return missing


def case_changes(run: Run, env: dict[str, str], stack: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return run("diff", stack, "-c", stack_file(tmp, IDLE), *NEVER, env=env)


def case_failed(run: Run, env: dict[str, str], stack: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return run("deploy", stack, "-c", stack_file(tmp, FAILS), *NEVER, "--timeout", "60s", env=env)


def case_rolled_back(run: Run, env: dict[str, str], stack: str, tmp: Path) -> Proc:
    return run("deploy", stack, "-c", stack_file(tmp, FAILS), *NEVER, "--timeout", "60s",
               "--rollback-on-failure", env=env)


def case_timeout(run: Run, env: dict[str, str], stack: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    return run("deploy", stack, "-c", stack_file(tmp, STARTING), *NEVER, "--timeout", "3s", env=env)


def case_usage(run: Run, env: dict[str, str], stack: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**env, "STACKCTL_TEST_UNSET_TAG": ""}
    env.pop("STACKCTL_TEST_UNSET_TAG")
    out = run("deploy", stack, "-c", stack_file(tmp, UNSET), "--timeout", "10x", env=env)
    # flags are checked before any file is read: no warning about the file's unset variable first
    assert "STACKCTL_TEST_UNSET_TAG" not in out.stderr and "10x" in out.stderr, out.stderr
    fmt = run("validate", "-c", stack_file(tmp, UNSET, "other.yml"), "--format", "xml", env=env)
    assert fmt.returncode == out.returncode and "STACKCTL_TEST_UNSET_TAG" not in fmt.stderr, fmt.stderr
    return out


def case_interrupted(run: Run, env: dict[str, str], stack: str, tmp: Path) -> Proc:
    import docker as docker_sdk

    args = [sys.executable, "-m", "stackctl", "deploy", stack, "-c", stack_file(tmp, STARTING), *NEVER,
            "--timeout", "60s"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(REPO),
                            env={**os.environ, **env})
    client = docker_sdk.DockerClient(base_url=env["DOCKER_HOST"], version="auto", timeout=30)
    try:
        deadline = time.monotonic() + 60
        while not client.api.services(filters={"name": f"{stack}_app"}):  # created: the wait is next
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate(timeout=30)
            time.sleep(0.2)
        time.sleep(1)  # into the wait (a signal during the writes is covered by test_faults)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


CASES: dict[str, Callable[..., subprocess.CompletedProcess[str]]] = {
    "OK": case_ok, "ERROR": case_error, "CHANGES": case_changes, "DEPLOY_FAILED": case_failed,
    "ROLLED_BACK": case_rolled_back, "TIMEOUT": case_timeout, "USAGE": case_usage,
    "INTERRUPTED": case_interrupted,
}


def test_the_table_names_the_constants_of_errors_py() -> None:
    rows = table()
    assert rows, f"no table found in {DOC}"
    assert {name: code for code, name in rows.items()} == {
        name: getattr(errors, f"EXIT_{name}") for name in rows.values()}
    assert set(rows.values()) == set(CASES), "every row of the table needs a case here"


@pytest.mark.parametrize(("code", "name"), sorted(table().items()))
def test_each_code_of_the_table(code: int, name: str, stack_name: str, tmp_path: Path, run_stackctl: Any,
                                lab_env: dict[str, str]) -> None:
    out = CASES[name](run_stackctl, lab_env, stack_name, tmp_path)
    assert out.returncode == code, f"{name}: exit {out.returncode}\n{out.stdout}\n{out.stderr}"
    assert "Traceback" not in out.stderr
