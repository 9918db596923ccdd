"""`stackctl agent check` and `agent stack` as a user runs them (no engine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def stackctl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stackctl", *args], capture_output=True, text=True, timeout=60, cwd=str(cwd)
    )


def test_check_ok_and_problems(tmp_path: Path) -> None:
    good = tmp_path / "agent.yml"
    good.write_text(
        "sources:\n  - url: file:///srv/stacks.git\nstacks:\n  - name: shop\n    files: [a.yml]\n"
    )
    cp = stackctl("agent", "check", "--config", str(good))
    assert cp.returncode == 0 and "OK (1 source, 1 stack: shop)" in cp.stdout
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "sources:\n  - url: ftp://x\nstacks:\n  - name: shop\n    files: [a.yml]\n    drift: fix\n"
    )
    cp = stackctl("agent", "check", "--config", str(bad))
    assert cp.returncode == 1
    assert f"{bad}:2: sources[0].url: invalid value 'ftp://x'" in cp.stderr
    assert f"{bad}:6: stacks[0].drift: must be one of 'report', 'heal'" in cp.stderr
    cp = stackctl("agent", "check")
    assert cp.returncode == 64


@pytest.mark.parametrize("example", ["examples/gitops/agent.yml", "examples/fanout/agent.yml"])
def test_example_config_checks(example: str) -> None:
    cp = stackctl("agent", "check", "--config", example)
    assert cp.returncode == 0, cp.stderr


def test_agent_stack_is_a_valid_stack_file(tmp_path: Path) -> None:
    cp = stackctl("agent", "stack", "--image", "registry.example.com/stackctl:1", "--port", "9700")
    assert cp.returncode == 0
    (tmp_path / "agent-stack.yml").write_text(cp.stdout)
    (tmp_path / "agent.yml").write_text("x: 1\n")
    (tmp_path / "secrets").mkdir()
    for name in ("webhook", "agent_token", "deploy_key", "known_hosts"):
        (tmp_path / "secrets" / name).write_text("x\n")
    check = stackctl("validate", "-c", str(tmp_path / "agent-stack.yml"), cwd=tmp_path)
    assert check.returncode == 0, check.stderr
    assert "node.role == manager" in cp.stdout and "/var/run/docker.sock" in cp.stdout
    assert "127.0.0.1:9700/healthz" in cp.stdout
