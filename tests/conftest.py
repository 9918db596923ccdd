"""Shared fixtures: the lab swarm (real dockerds, never a mock) and a way to run stackctl.

Tests under tests/integration/ (or marked `integration`) need the lab. Without it they
skip locally, but fail under CI=true: a CI run that tested nothing must not pass.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.paths import LAB_HOST, LAB_NAME

LAB_SOCKET = Path(LAB_HOST.removeprefix("unix://"))
REPO = Path(__file__).resolve().parent.parent
_lab_problem: list[str | None] = []  # cached result of _check_lab()


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _lab_environ() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_CONTEXT", "DOCKER_TLS_VERIFY",
                                                            "DOCKER_CERT_PATH")}
    env["DOCKER_HOST"] = LAB_HOST
    if LAB_NAME != "default":  # promote reads each node's image IDs through its socket
        env["STACKCTL_NODE_HOST"] = LAB_HOST.replace("/mgr-1/", "/{hostname}/")
    return env


def _check_lab() -> str | None:
    """None when the lab's manager answers as a swarm manager, else why not."""
    if _lab_problem:
        return _lab_problem[0]
    problem: str | None = None
    if not LAB_SOCKET.exists():
        start = "stackctl lab up" + (f" --name {LAB_NAME}" if LAB_NAME != "default" else "")
        problem = f"the lab is not up ({LAB_SOCKET} missing; run: {start})"
    else:
        try:
            out = subprocess.run(["docker", "info", "--format", "{{.Swarm.ControlAvailable}}"],
                                 env=_lab_environ(), capture_output=True, text=True, timeout=20)
            if out.stdout.strip() != "true":
                problem = f"the lab manager at {LAB_HOST} is not a ready swarm manager: " \
                          f"{(out.stderr or out.stdout).strip()}"
        except (OSError, subprocess.TimeoutExpired) as err:
            problem = f"cannot query the lab manager at {LAB_HOST}: {err}"
    _lab_problem.append(problem)
    return problem


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the xdist_group marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/integration/ is an integration test and needs `lab_env`.

    For the parallel run (`scripts/test.sh`: pytest-xdist, `--dist loadgroup`, one lab per worker):
    tests that share a module-scoped fixture (a stack, a lab or a swarm of their module's own) are
    one group, so they run on one worker and the fixture is built once; every other test goes to
    whichever worker is free. A module may also group tests with `xdist_group` marks of its own.
    Modules with `slow` tests come first (their groups first), then the other integration tests,
    then the unit tests, so the longest groups start at once and the short tests fill the gaps at
    the end (scripts/test.sh passes --no-loadscope-reorder so that xdist keeps this order)."""
    integration_dir = REPO / "tests" / "integration"
    slow_modules = {str(item.fspath) for item in items if item.get_closest_marker("slow")}
    for item in items:
        if Path(str(item.fspath)).is_relative_to(integration_dir) and "integration" not in item.keywords:
            item.add_marker(pytest.mark.integration)
        if item.get_closest_marker("integration") and "lab_env" not in getattr(item, "fixturenames", []):
            item.fixturenames.append("lab_env")  # type: ignore[attr-defined]
        shared = _module_fixtures(item)
        if shared and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(f"{Path(str(item.fspath)).stem}:{'+'.join(shared)}"))

    sizes: dict[str, int] = {}
    for item in items:
        if (group := _group(item)) is not None:
            sizes[group] = sizes.get(group, 0) + 1

    def rank(item: pytest.Item) -> tuple[int, int, int]:
        if not item.get_closest_marker("integration"):
            tier = 2
        else:
            tier = 0 if str(item.fspath) in slow_modules else 1
        group = _group(item)
        # groups first, the largest first: a worker takes more work only once it has <= 2 tests
        # left, so a long group queued behind another one waits for little
        return tier, (0 if group is not None else 1), -sizes.get(group or "", 0)

    items.sort(key=rank)  # stable: a group's tests stay together and in the file's order


def _group(item: pytest.Item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return str(mark.args[0] if mark.args else mark.kwargs.get("name", "default")) if mark else None


def _module_fixtures(item: pytest.Item) -> list[str]:
    """The module- and class-scoped fixtures `item` uses (the session ones are per worker anyway)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    return sorted(name for name, defs in info.name2fixturedefs.items()
                  if defs and defs[-1].scope in ("module", "class"))


class _FaultProgress:
    """Under pytest-xdist, on the controller (it hears of every test the workers run): a line as
    each fault test starts and ends (tests/integration/test_faults.py prints its own without xdist)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def _say(self, text: str) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            if getattr(reporter._tw, "width_of_current_line", 0):  # after pytest's dots
                reporter.write("\n")
            reporter.write_line(f"faults: {text}")

    @staticmethod
    def _name(nodeid: str) -> str | None:
        return nodeid.split("::", 1)[-1].split("@")[0] if "/test_faults" in nodeid else None

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        if (name := self._name(nodeid)) is not None:
            self._say(f"{name} ...")

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call" and (name := self._name(report.nodeid)) is not None:
            self._say(f"{name} {report.outcome} in {report.duration:.0f}s")


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        config.pluginmanager.register(_FaultProgress(config), "stackctl-fault-progress")


@pytest.fixture(scope="session")
def lab_env() -> dict[str, str]:
    """os.environ with DOCKER_HOST pointing at the lab manager (skip, or fail under CI, without a lab)."""
    problem = _check_lab()
    if problem:
        if _in_ci():
            pytest.fail(f"CI=true and {problem}", pytrace=False)
        pytest.skip(problem)
    return _lab_environ()


@pytest.fixture(scope="session")
def docker_client(lab_env: dict[str, str]) -> Iterator[Any]:
    """A docker SDK client on the lab manager."""
    import docker

    client = docker.DockerClient(base_url=LAB_HOST, version="auto", timeout=60)
    yield client
    client.close()


@pytest.fixture(scope="session")
def engine(docker_client: Any) -> Any:
    """stackctl's engine gateway over the lab client (what stackctl's functions take)."""
    from stackctl.engine import Engine

    return Engine(docker_client, host=LAB_HOST)


def _stack_gone(name: str, env: dict[str, str]) -> bool:
    label = f"label=com.docker.stack.namespace={name}"
    for kind in ("service", "network"):
        out = subprocess.run(["docker", kind, "ls", "-q", "--filter", label], env=env,
                             capture_output=True, text=True, timeout=30)
        if out.stdout.strip():
            return False
    return True


@pytest.fixture
def stack_name(request: pytest.FixtureRequest, lab_env: dict[str, str]) -> Iterator[str]:
    """A fresh stack name (module's STACK_PREFIX + random), removed from the lab afterwards."""
    prefix = getattr(request.module, "STACK_PREFIX", "t")
    name = f"{prefix}{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["docker", "stack", "rm", name], env=lab_env, capture_output=True, timeout=60)
    history_filter = f"label=com.docker.stackctl.history={name}"
    history = subprocess.run(["docker", "config", "ls", "-q", "--filter", history_filter],
                             env=lab_env, capture_output=True, text=True, timeout=60).stdout.split()
    if history:
        subprocess.run(["docker", "config", "rm", *history], env=lab_env, capture_output=True, timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not _stack_gone(name, lab_env):
        time.sleep(1)


@pytest.fixture
def run_stackctl() -> Any:
    """run_stackctl(*args, env=None, input=None) -> CompletedProcess (text, captured, never raises).

    `env` is merged over os.environ (pass `lab_env` to talk to the lab)."""

    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        return subprocess.run([sys.executable, "-m", "stackctl", *args], env=full_env, input=input,
                              capture_output=True, text=True, timeout=timeout, cwd=str(REPO))

    return run
