"""Faults during a deploy: engine errors, Ctrl-C / SIGTERM, a manager's dockerd killed, a worker
stopped during a rolling update, a worker cut off. After each one:

- stackctl ends by itself (bounded time), with a clear message and a documented exit code,
  never a traceback;
- every object of the stack that exists in the swarm was named in its output (nothing
  half-created without being reported);
- external secrets, networks and volumes are still there;
- rerunning the same deploy converges, and `diff` then says there is nothing to change.

Engine errors and signals run on the shared lab (no daemon is disturbed). Daemon kills and
link cuts run on an extra swarm of this module's own (tls_engine.ExtraSwarm), never the lab.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackctl.history import NAME_PREFIX as HISTORY_PREFIX
from tests.integration.tls_engine import ExtraSwarm

STACK_PREFIX = "rl"
REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration
EXIT_CODES = {0, 1, 3, 4, 5, 130}


# --- helpers ----------------------------------------------------------------------------------


def say(config: pytest.Config, text: str) -> None:
    """One progress line on the terminal, even under -q: this module runs for minutes and would
    otherwise show only dots (pytest's own -v lines come only with -v)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or os.environ.get("PYTEST_XDIST_WORKER"):  # xdist: tests/conftest.py says it
        return
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        if getattr(reporter._tw, "width_of_current_line", 0):  # after pytest's dots
            reporter.write("\n")
        reporter.write_line(f"faults: {text}")


@pytest.fixture(autouse=True)
def _progress(request: pytest.FixtureRequest) -> Iterator[None]:
    started = time.monotonic()
    say(request.config, f"{request.node.name} ...")
    yield
    say(request.config, f"{request.node.name} done in {time.monotonic() - started:.0f}s")



def docker(env: dict[str, str], *args: str, check: bool = False, timeout: float = 60) -> str:
    proc = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {proc.stderr}")
    return proc.stdout


def stack_objects(env: dict[str, str], stack: str) -> set[str]:
    """Names of the stack's services, networks, secrets and configs, as the swarm has them."""
    names: set[str] = set()
    for kind in ("service", "network", "secret", "config"):
        out = docker(env, kind, "ls", "--filter", f"label=com.docker.stack.namespace={stack}",
                     "--format", "{{.Name}}")
        names.update(n for n in out.split() if not n.startswith(HISTORY_PREFIX))  # revisions: not objects
    return names


class Deploy:
    """stackctl running in the background, its output collected in files."""

    def __init__(self, args: list[str], env: dict[str, str], folder: Path) -> None:
        self.out_path = folder / f"out-{uuid.uuid4().hex[:6]}.txt"
        self.err_path = self.out_path.with_suffix(".err")
        self.started = time.monotonic()
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "stackctl", *args], env=env, cwd=str(REPO),
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL)

    @property
    def output(self) -> str:
        return self.out_path.read_text(errors="replace") + self.err_path.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.output:
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"stackctl exited ({self.proc.returncode}) before {needle!r}:\n"
                                     f"{self.output[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"no {needle!r} after {timeout:.0f}s:\n{self.output[-3000:]}")

    def finish(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"stackctl hung (> {timeout:.0f}s):\n{self.output[-3000:]}") from None


def assert_clean_exit(code: int, output: str, allowed: set[int] = EXIT_CODES) -> None:
    assert "Traceback" not in output, output[-4000:]
    assert "internal error" not in output, output[-4000:]
    assert code in allowed, f"exit {code}:\n{output[-4000:]}"
    if code != 0:
        assert output.strip(), "failed without a message"


def assert_all_reported(env: dict[str, str], stack: str, output: str, before: set[str] | None = None) -> None:
    """Every object that appeared during the faulted deploy is named in its output."""
    unreported = sorted(n for n in stack_objects(env, stack) - (before or set()) if n not in output)
    assert not unreported, f"in the swarm but never named by stackctl: {unreported}\n{output[-3000:]}"


def converges(run_stackctl: Any, env: dict[str, str], stack: str, stack_file: str,
              attempts: int = 3) -> str:
    """Rerun the deploy until it converges (a restarted engine may need a moment), then diff == 0."""
    out = ""
    for _ in range(attempts):
        proc = run_stackctl("deploy", stack, "-c", stack_file, "--timeout", "120s", env=env, timeout=240)
        out = proc.stdout + proc.stderr
        assert_clean_exit(proc.returncode, out)
        if proc.returncode == 0:
            break
        time.sleep(5)
    else:
        raise AssertionError(f"the rerun did not converge:\n{out[-3000:]}")
    diff = run_stackctl("diff", stack, "-c", stack_file, env=env, timeout=120)
    assert diff.returncode == 0, f"diff after the rerun:\n{diff.stdout}{diff.stderr}"
    return out


class Externals:
    """An external secret, network and volume the stack uses and must never remove."""

    def __init__(self, env: dict[str, str], tag: str) -> None:
        self.env = env
        self.secret, self.network, self.volume = f"rlx-secret-{tag}", f"rlx-net-{tag}", f"rlx-vol-{tag}"
        subprocess.run(["docker", "secret", "create", self.secret, "-"], env=env, input="ext\n", text=True,
                       capture_output=True, check=True, timeout=30)
        docker(env, "network", "create", "--driver", "overlay", "--attachable", self.network, check=True)
        docker(env, "volume", "create", self.volume, check=True)

    def yaml(self) -> str:
        return textwrap.dedent(f"""\
            networks:
              ext: {{external: true, name: {self.network}}}
            volumes:
              ext: {{external: true, name: {self.volume}}}
            secrets:
              ext: {{external: true, name: {self.secret}}}
            """)

    def assert_intact(self) -> None:
        for kind, name in (("secret", self.secret), ("network", self.network), ("volume", self.volume)):
            assert docker(self.env, kind, "inspect", name).strip().startswith("["), f"external {kind} gone"

    def remove(self) -> None:
        docker(self.env, "secret", "rm", self.secret)
        docker(self.env, "network", "rm", self.network)
        docker(self.env, "volume", "rm", self.volume)


def remove_stack(run_stackctl: Any, env: dict[str, str], stack: str) -> None:
    run_stackctl("rm", stack, env=env, timeout=120)
    ids = docker(env, "config", "ls", "-q", "--filter", f"label=com.docker.stackctl.history={stack}").split()
    if ids:
        docker(env, "config", "rm", *ids)
    docker(env, "config", "rm", f"stackctl-lock-{stack}")


def write_stack(folder: Path, body: str, externals: Externals | None = None, name: str = "stack.yml") -> str:
    path = folder / name
    path.write_text('version: "3.8"\n' + textwrap.dedent(body) + (externals.yaml() if externals else ""))
    return str(path)


# --- engine errors (shared lab) -----------------------------------------------------------------


def test_missing_image_and_invalid_mount_fail_clearly(stack_name: str, lab_env: dict[str, str],
                                                      run_stackctl: Any, tmp_path: Path) -> None:
    """Tasks the engine rejects: deploy fails with the engine's reason, within its timeout."""
    ext = Externals(lab_env, stack_name)
    try:
        bad = write_stack(tmp_path, """\
            services:
              noimage:
                image: rl-no-such-image:1
                deploy: {replicas: 1, restart_policy: {condition: on-failure, max_attempts: 2}}
              badmount:
                image: busybox:latest
                volumes:
                  - {type: bind, source: /nonexistent/rl-fault, target: /data}
                deploy: {replicas: 1, restart_policy: {condition: on-failure, max_attempts: 2}}
              fine:
                image: busybox:latest
                networks: [ext]
                secrets: [ext]
                volumes: ["ext:/ext"]
                deploy: {replicas: 0}
            """, ext, "bad.yml")
        started = time.monotonic()
        proc = run_stackctl("deploy", stack_name, "-c", bad, "--timeout", "60s", env=lab_env, timeout=200)
        out = proc.stdout + proc.stderr
        assert_clean_exit(proc.returncode, out, {3, 5})
        assert time.monotonic() - started < 120
        assert "rl-no-such-image" in out and "/nonexistent/rl-fault" in out, out
        assert_all_reported(lab_env, stack_name, out)
        ext.assert_intact()

        good = write_stack(tmp_path, """\
            services:
              noimage:
                image: busybox:latest
                deploy: {replicas: 1}
              badmount:
                image: busybox:latest
                deploy: {replicas: 1}
              fine:
                image: busybox:latest
                networks: [ext]
                secrets: [ext]
                volumes: ["ext:/ext"]
                deploy: {replicas: 0}
            """, ext, "good.yml")
        converges(run_stackctl, lab_env, stack_name, good)
        ext.assert_intact()
    finally:
        remove_stack(run_stackctl, lab_env, stack_name)
        ext.assert_intact()
        ext.remove()


def test_engine_refusing_a_create_midway(stack_name: str, lab_env: dict[str, str], run_stackctl: Any,
                                         tmp_path: Path) -> None:
    """The engine refuses one object (an unknown network driver): the error names it, what was
    created is reported, and the fixed file converges."""
    body = """\
        services:
          a: {image: busybox:latest, deploy: {replicas: 0}, networks: [good, bad]}
          b: {image: busybox:latest, deploy: {replicas: 0}, configs: [conf]}
        networks:
          good: {driver: overlay}
          bad: {driver: DRIVER}
        configs:
          conf: {file: ./conf.txt}
        """
    (tmp_path / "conf.txt").write_text("x=1\n")
    try:
        bad = write_stack(tmp_path, body.replace("DRIVER", "rl-nosuch-driver"), name="bad.yml")
        proc = run_stackctl("deploy", stack_name, "-c", bad, "--timeout", "60s", env=lab_env, timeout=200)
        out = proc.stdout + proc.stderr
        assert_clean_exit(proc.returncode, out, {1})
        assert "rl-nosuch-driver" in out and f"{stack_name}_bad" in out, out
        assert_all_reported(lab_env, stack_name, out)
        converges(run_stackctl, lab_env, stack_name,
                  write_stack(tmp_path, body.replace("DRIVER", "overlay"), name="good.yml"))
    finally:
        remove_stack(run_stackctl, lab_env, stack_name)


# --- signals (shared lab) -------------------------------------------------------------------------

SLOW_V1 = """\
    services:
      app:
        image: busybox:latest
        environment: {VERSION: "1"}
        networks: [ext]
        secrets: [ext]
        deploy: {replicas: 1}
      idle: {image: busybox:latest, deploy: {replicas: 0}}
    """
# v2 never gets healthy within the test: the deploy is still waiting when the signal comes.
SLOW_V2 = """\
    services:
      app:
        image: busybox:latest
        environment: {VERSION: "2"}
        networks: [ext]
        secrets: [ext]
        healthcheck: {test: ["CMD", "false"], interval: 2s, retries: 100, start_period: 120s}
        deploy: {replicas: 1, update_config: {order: start-first, monitor: 5s}}
      idle: {image: busybox:latest, deploy: {replicas: 0}}
      extra: {image: busybox:latest, deploy: {replicas: 0}}
    """


def _service_env(env: dict[str, str], name: str) -> list[str]:
    out = docker(env, "service", "inspect", name, "--format",
                 "{{json .Spec.TaskTemplate.ContainerSpec.Env}}")
    return json.loads(out or "null") or []


@pytest.mark.parametrize("sig, rollback", [
    (signal.SIGINT, False), (signal.SIGTERM, False), (signal.SIGINT, True), (signal.SIGTERM, True),
], ids=["SIGINT", "SIGTERM", "SIGINT-rollback-on-failure", "SIGTERM-rollback-on-failure"])
def test_signal_while_waiting(sig: signal.Signals, rollback: bool, stack_name: str, lab_env: dict[str, str],
                              run_stackctl: Any, tmp_path: Path) -> None:
    ext = Externals(lab_env, stack_name)
    try:
        v1 = write_stack(tmp_path, SLOW_V1, ext, "v1.yml")
        proc = run_stackctl("deploy", stack_name, "-c", v1, "--timeout", "90s", env=lab_env, timeout=200)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        v2 = write_stack(tmp_path, SLOW_V2, ext, "v2.yml")
        before = stack_objects(lab_env, stack_name)
        args = ["deploy", stack_name, "-c", v2, "--timeout", "5m"]
        args += ["--rollback-on-failure"] if rollback else []
        run = Deploy(args, lab_env, tmp_path)
        run.wait_for(f"Updating service {stack_name}_app")
        time.sleep(3)
        run.proc.send_signal(sig)
        code = run.finish(timeout=150)
        out = run.output
        assert_clean_exit(code, out, {130, 4})
        assert "interrupted" in out.lower(), out
        print(f"{sig.name} rollback={rollback}: exit {code}\n{out[-1500:]}")
        assert_all_reported(lab_env, stack_name, out, before)
        ext.assert_intact()
        lock = docker(lab_env, "config", "ls", "-q", "--filter", f"name=stackctl-lock-{stack_name}")
        assert not lock.strip(), "the deploy lock was left behind"
        app_env = _service_env(lab_env, f"{stack_name}_app")
        if rollback:
            assert "VERSION=1" in app_env, f"--rollback-on-failure did not restore v1: {app_env}\n{out}"
            assert f"{stack_name}_extra" not in stack_objects(lab_env, stack_name), "new service not undone"
        else:
            assert "VERSION=2" in app_env
        converges(run_stackctl, lab_env, stack_name, v1)
        ext.assert_intact()
    finally:
        remove_stack(run_stackctl, lab_env, stack_name)
        ext.assert_intact()
        ext.remove()


def test_sigkill_leaves_a_lock_the_next_deploy_takes_over(stack_name: str, lab_env: dict[str, str],
                                                          run_stackctl: Any, tmp_path: Path) -> None:
    """kill -9 cannot be caught: a deploy killed while it holds the stack's lock leaves the lock.
    Its holder is provably gone (same machine, pid not running), so the next deploy takes it over
    at once instead of waiting out --lock-timeout and failing."""
    v1 = write_stack(tmp_path, SLOW_V1.replace("networks: [ext]", "").replace("secrets: [ext]", ""),
                     name="v1.yml")
    try:
        assert run_stackctl("deploy", stack_name, "-c", v1, "--timeout", "90s", env=lab_env).returncode == 0
        take_and_die = (
            "import os, signal\n"
            "from stackctl.engine import open_engine\n"
            "from stackctl.lock import StackLock\n"
            f"StackLock(open_engine(), {stack_name!r}).acquire()\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n"
        )
        proc = subprocess.run([sys.executable, "-c", take_and_die], env=lab_env, timeout=60)
        assert proc.returncode == -signal.SIGKILL
        assert docker(lab_env, "config", "ls", "-q", "--filter", f"name=stackctl-lock-{stack_name}").strip()
        v2 = write_stack(tmp_path, SLOW_V1.replace('VERSION: "1"', 'VERSION: "3"').replace(
            "networks: [ext]", "").replace("secrets: [ext]", ""), name="v2.yml")
        started = time.monotonic()
        out = converges(run_stackctl, lab_env, stack_name, v2, attempts=1)
        assert time.monotonic() - started < 50, "the deploy waited for the dead deploy's lock"
        assert "taking over the deploy lock" in out, out
    finally:
        remove_stack(run_stackctl, lab_env, stack_name)


def test_signal_while_creating(stack_name: str, lab_env: dict[str, str], run_stackctl: Any,
                               tmp_path: Path) -> None:
    """Ctrl-C in the middle of creating 30 services: whatever exists was reported; rerun converges."""
    services = "services:\n" + "".join(
        f"  s{i:02d}: {{image: busybox:latest, deploy: {{replicas: 0}}}}\n" for i in range(30))
    path = tmp_path / "many.yml"
    path.write_text('version: "3.8"\n' + services)
    try:
        run = Deploy(["deploy", stack_name, "-c", str(path), "--timeout", "2m"], lab_env, tmp_path)
        run.wait_for("Creating service", timeout=60)
        run.proc.send_signal(signal.SIGINT)
        code = run.finish(timeout=120)
        out = run.output
        assert_clean_exit(code, out, {0, 130})
        print(f"SIGINT while creating: exit {code}\n{out[-1500:]}")
        assert_all_reported(lab_env, stack_name, out)
        converges(run_stackctl, lab_env, stack_name, str(path))
    finally:
        remove_stack(run_stackctl, lab_env, stack_name)


# --- daemons killed, nodes lost (an extra swarm of this module's own) ---------------------------------


@pytest.fixture(scope="module")
def swarm(lab_env: dict[str, str], request: pytest.FixtureRequest) -> Iterator[ExtraSwarm]:
    """A manager and two workers of our own: killing them disturbs no other test."""
    say(request.config, "starting an extra 3-node swarm for the daemon and node faults ...")
    extra = ExtraSwarm(workers=2).start()
    try:
        yield extra
    finally:
        say(request.config, "removing the extra swarm ...")
        extra.destroy()
        assert extra.leftovers() == []


@pytest.fixture
def swarm_env(swarm: ExtraSwarm) -> dict[str, str]:
    return swarm.client_env()


def _restore(swarm: ExtraSwarm) -> None:
    """Every node up, linked and Ready again (after a test cut or killed one)."""
    for node in swarm.nodes:
        swarm.link(node, up=True)
        if not node.responds():
            swarm.start_node(node)
    swarm.wait_nodes_ready(90)


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["creating", "waiting"])
def test_manager_dockerd_killed_during_deploy(phase: str, swarm: ExtraSwarm, swarm_env: dict[str, str],
                                              run_stackctl: Any, tmp_path: Path) -> None:
    """kill -9 of the manager's dockerd while services are being created, or while the deploy
    waits for them to converge; then the daemon is restarted and the deploy rerun."""
    stack = f"rlk{uuid.uuid4().hex[:6]}"
    ext = Externals(swarm_env, stack)
    count = 20 if phase == "creating" else 3
    # s00 never turns healthy in this test's time, so the deploy is still waiting on it.
    slow = ', healthcheck: {test: ["CMD", "false"], interval: 2s, retries: 100, start_period: 120s}'
    services = "services:\n" + "".join(
        f"  s{i:02d}: {{image: busybox:latest, deploy: {{replicas: {1 if i < 3 else 0}}},"
        f" networks: [ext, own], secrets: [ext, own]{slow if i == 0 else ''}}}\n" for i in range(count))
    (tmp_path / "own.txt").write_text("own-secret\n")
    path = write_stack(tmp_path, services + textwrap.dedent(f"""\
        networks:
          own: {{}}
          ext: {{external: true, name: {ext.network}}}
        secrets:
          own: {{file: ./own.txt}}
          ext: {{external: true, name: {ext.secret}}}
        """))
    try:
        run = Deploy(["deploy", stack, "-c", path, "--timeout", "2m"], swarm_env, tmp_path)
        run.wait_for("Creating service" if phase == "creating" else f"{stack}_s00: ", timeout=60)
        time.sleep(0 if phase == "creating" else 2)
        swarm.kill_dockerd(swarm.manager)
        code = run.finish(timeout=120)
        out = run.output
        assert_clean_exit(code, out, {1, 130})
        assert code == 1
        assert "engine" in out.lower() or "daemon" in out.lower(), out
        _restore(swarm)
        assert_all_reported(swarm_env, stack, out)
        ext.assert_intact()
        rerun = converges(run_stackctl, swarm_env, stack, path)
        print(f"manager killed while {phase}: deploy exit {code}\n{out[-2500:]}\nrerun:\n{rerun[-1500:]}")
        ext.assert_intact()
    finally:
        _restore(swarm)
        remove_stack(run_stackctl, swarm_env, stack)
        ext.remove()


ROLLING = """\
    services:
      web:
        image: busybox:latest
        environment: {{VERSION: "{version}"}}
        deploy:
          replicas: 4
          placement: {{constraints: ["node.role == worker"]}}
          update_config: {{parallelism: 1, delay: 2s, order: stop-first, monitor: 2s}}
    """


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["worker-stopped", "worker-cut-off"])
def test_worker_lost_during_rolling_update(fault: str, swarm: ExtraSwarm, swarm_env: dict[str, str],
                                           run_stackctl: Any, tmp_path: Path) -> None:
    """A worker dies (dockerd stopped) or drops off the network (link down) mid-update: the
    deploy converges on the remaining worker or fails at its timeout; it never hangs."""
    stack = f"rlw{uuid.uuid4().hex[:6]}"
    worker = swarm.node("w1")
    try:
        v1 = write_stack(tmp_path, ROLLING.format(version=1), name="v1.yml")
        proc = run_stackctl("deploy", stack, "-c", v1, "--timeout", "90s", env=swarm_env, timeout=200)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        v2 = write_stack(tmp_path, ROLLING.format(version=2), name="v2.yml")
        before = stack_objects(swarm_env, stack)
        run = Deploy(["deploy", stack, "-c", v2, "--timeout", "45s"], swarm_env, tmp_path)
        run.wait_for(f"Updating service {stack}_web")
        time.sleep(1)
        if fault == "worker-stopped":
            swarm.stop_dockerd(worker)
        else:
            swarm.link(worker, up=False)
        code = run.finish(timeout=45 + 60)
        out = run.output
        assert_clean_exit(code, out, {0, 3, 4, 5})
        if code == 5:  # a timeout names the node the manager sees as down
            assert "rl-w1 is down" in out, out
        assert_all_reported(swarm_env, stack, out, before)
        assert time.monotonic() - run.started < 45 + 45, "the deploy outlived its --timeout by far"
        _restore(swarm)
        converges(run_stackctl, swarm_env, stack, v2)
        print(f"{fault}: deploy exit {code}\n{out[-1500:]}")
    finally:
        _restore(swarm)
        remove_stack(run_stackctl, swarm_env, stack)


def test_helper_env_is_isolated(swarm_env: dict[str, str]) -> None:
    """The extra swarm is not the lab (a guard against pointing fault injection at shared nodes)."""
    assert "stackctl-lab" not in swarm_env["DOCKER_HOST"]
    assert os.environ.get("DOCKER_HOST", "") != swarm_env["DOCKER_HOST"]
