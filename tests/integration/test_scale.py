"""Scale: a 1000-service file loads and validates quickly; a 200-service stack (replicas 0)
deploys, diffs clean and is removed on the lab without errors."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

STACK_PREFIX = "rl"
pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _stack(count: int, replicas: int = 0) -> str:
    """`count` services over 5 networks, with env, labels, a config and a healthcheck each."""
    lines = ['version: "3.8"', "services:"]
    for i in range(count):
        lines += [
            f"  svc{i:04d}:",
            "    image: busybox:latest",
            f"    command: [\"sleep\", \"{1000 + i}\"]",
            f"    environment: {{INDEX: \"{i}\", GROUP: \"g{i % 7}\"}}",
            f"    networks: [net{i % 5}]",
            "    configs: [{source: shared, target: /etc/shared.conf}]",
            "    healthcheck: {test: [\"CMD\", \"true\"], interval: 30s}",
            "    deploy:",
            f"      replicas: {replicas}",
            f"      labels: {{com.example.index: \"{i}\"}}",
            "      resources: {limits: {memory: 32M}}",
        ]
    lines += ["networks:"] + [f"  net{n}: {{}}" for n in range(5)]
    lines += ["configs:", "  shared: {file: ./shared.conf}", ""]
    return "\n".join(lines)


def test_a_thousand_services_validate(run_stackctl: Any, tmp_path: Path) -> None:
    (tmp_path / "shared.conf").write_text("a=1\n")
    path = tmp_path / "big.yml"
    path.write_text(_stack(1000))
    for args in (["validate", "-c", str(path)], ["config", "-c", str(path), "--format", "json"]):
        started = time.monotonic()
        proc = run_stackctl(*args, env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}, timeout=120)
        elapsed = time.monotonic() - started
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert elapsed < 30, f"{args[0]} of 1000 services took {elapsed:.1f}s"
    assert "OK: 1000 services" in run_stackctl("validate", "-c", str(path)).stdout


def test_two_hundred_services_deploy_diff_remove(stack_name: str, lab_env: dict[str, str], run_stackctl: Any,
                                                 tmp_path: Path) -> None:
    (tmp_path / "shared.conf").write_text("a=1\n")
    path = str(tmp_path / "stack.yml")
    Path(path).write_text(_stack(200))
    timings: dict[str, float] = {}
    try:
        started = time.monotonic()
        proc = run_stackctl("deploy", stack_name, "-c", path, "--timeout", "5m", env=lab_env, timeout=600)
        timings["deploy"] = time.monotonic() - started
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-3000:]
        assert "Traceback" not in out and "internal error" not in out
        services = subprocess.run(["docker", "service", "ls", "-q", "--filter",
                                   f"label=com.docker.stack.namespace={stack_name}"], env=lab_env,
                                  capture_output=True, text=True, timeout=60).stdout.split()
        assert len(services) == 200

        started = time.monotonic()
        proc = run_stackctl("diff", stack_name, "-c", path, env=lab_env, timeout=300)
        timings["diff"] = time.monotonic() - started
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]

        started = time.monotonic()
        proc = run_stackctl("deploy", stack_name, "-c", path, env=lab_env, timeout=300)
        timings["redeploy"] = time.monotonic() - started
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    finally:
        started = time.monotonic()
        proc = run_stackctl("rm", stack_name, env=lab_env, timeout=300)
        timings["rm"] = time.monotonic() - started
        ids = subprocess.run(["docker", "config", "ls", "-q", "--filter",
                              f"label=com.docker.stackctl.history={stack_name}"], env=lab_env,
                             capture_output=True, text=True, timeout=60).stdout.split()
        if ids:
            subprocess.run(["docker", "config", "rm", *ids], env=lab_env, capture_output=True, timeout=60)
    print(f"200 services: {', '.join(f'{k} {v:.1f}s' for k, v in timings.items())}")
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    left = subprocess.run(["docker", "service", "ls", "-q", "--filter",
                           f"label=com.docker.stack.namespace={stack_name}"], env=lab_env,
                          capture_output=True, text=True, timeout=60).stdout.split()
    assert left == []
