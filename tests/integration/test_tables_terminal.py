"""ps, services, ls and history as a terminal shows them: tmux at 80 and at 120 columns, on the lab.

A stack with long names and a failing task is deployed with stackctl; each command then runs in a
tmux pane of the given width and the pane is read back with `capture-pane` (what the user sees, not
what a pipe gets). Names, IDs and nodes must be whole at 80 columns, nothing that fits may be cut at
120, and each screen is compared with a golden file under tests/golden/terminal/.

Deterministic inputs: nodes pinned by placement (wrk-1, wrk-2), images the lab has on every node
under fixed names (no registry address), the deploy run as user `ops` on host `ci-runner-07` (a UTS
namespace of its own) outside any CI, so the history's BY column is fixed.
Normalisation (variable parts replaced by text of the same width, so the layout is compared as is):
task and service IDs → `task-id-0001`, `svc-id-00001` (in order of appearance); ages → `N` digits
(`Running NNs`; the screens are taken while every task is between 10 and 59 seconds old, so ages
have two digits); the history's time → `YYYY-MM-DD hh:mm:ss`; `ls` keeps its header and this stack's
row (the lab is shared: other tests' stacks may be listed; this stack's name is longer than theirs,
so its row sets the NAME column's width). Regenerate after an intended change with
`STACKCTL_UPDATE_GOLDEN=1` and review the diff.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tests.paths import REPO, check_golden

pytestmark = pytest.mark.integration

GOLDEN = REPO / "tests" / "golden" / "terminal"
STACK = "tty-tables-demo"  # longer than the random names other tests use (≤ 13 characters)
WIDTHS = (80, 120)
STACK_FILE = """
version: "3.8"
services:
  appserver:
    image: dockersamples/atsea_app:latest
    deploy:
      placement: {constraints: ["node.hostname == wrk-1"]}
  payments:
    image: dockersamples/atseasampleshopapp_payment_gateway:latest
    deploy:
      placement: {constraints: ["node.hostname == wrk-2"]}
  migrate-db:
    image: busybox:latest
    command: ["sh", "-c", "exit 3"]
    deploy:
      restart_policy: {condition: none}
      placement: {constraints: ["node.hostname == wrk-2"]}
"""
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILD_URL")
STATE_WORDS = r"(?:Running|Failed|Pending|Rejected|Complete|Shutdown|Starting|Preparing|Assigned|New)"


def stackctl(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stackctl", *args], env=env, cwd=str(REPO),
                          capture_output=True, text=True, timeout=180)


class Tmux:
    """A tmux server of this test's own (its socket in `folder`), one detached session per screen."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.socket = folder / "tmux.sock"
        self.conf = folder / "tmux.conf"
        self.conf.write_text("set -g remain-on-exit on\nset -g status off\nset -s exit-empty off\n")
        self.env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES", "TMUX")}

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-S", str(self.socket), "-f", str(self.conf), *args],
                              capture_output=True, text=True, timeout=30, env=self.env)

    def screen(self, width: int, *args: str) -> list[str]:
        """What a terminal `width` columns wide shows after `stackctl ARGS` (stdout only)."""
        name = f"s{uuid.uuid4().hex[:6]}"
        script = self.folder / f"{name}.sh"
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in self.env.items()
                          if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k))
        command = " ".join(shlex.quote(a) for a in (sys.executable, "-m", "stackctl", *args))
        script.write_text(f"{exports}cd {shlex.quote(str(REPO))}\n{command} 2>/dev/null\n")
        # The pane waits for a line on its terminal until tmux says it has the size asked for.
        started = self.tmux("new-session", "-d", "-s", name, "-x", str(width), "-y", "40",
                            f"sh -c 'read go; exec sh {script}'")
        assert started.returncode == 0, started.stderr
        try:
            deadline = time.monotonic() + 60
            while self.tmux("display-message", "-p", "-t", name, "#{pane_width}").stdout.strip() \
                    != str(width):
                assert time.monotonic() < deadline, f"the pane never got {width} columns"
                time.sleep(0.1)
            self.tmux("send-keys", "-t", name, "Enter")
            while self.tmux("list-panes", "-t", name, "-F", "#{pane_dead}").stdout.strip() != "1":
                assert time.monotonic() < deadline, f"stackctl {' '.join(args)} did not end in its pane"
                time.sleep(0.2)
            shown = self.tmux("capture-pane", "-p", "-S", "-", "-t", name).stdout  # with what scrolled off
        finally:
            self.tmux("kill-session", "-t", name)
        lines = [line.rstrip() for line in shown.splitlines() if not line.startswith("Pane is dead")]
        while lines and not lines[-1]:
            lines.pop()
        while lines and not lines[0]:  # the Enter that started it
            lines.pop(0)
        return lines

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture(scope="module")
def deployed(lab_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The stack, deployed by `ops` from host `ci-runner-07`, once its tasks run and one has failed."""
    if shutil.which("tmux") is None or shutil.which("unshare") is None:
        pytest.fail("tmux and unshare are needed (scripts/setup.sh installs them)")
    folder = tmp_path_factory.mktemp("tty")
    path = folder / "stack.yml"
    path.write_text(STACK_FILE)
    env = {k: v for k, v in lab_env.items() if k not in CI_VARIABLES}
    stackctl(env, "rm", STACK)  # a run that died left it: history must start at revision 1
    deploy_env = {**env, "USER": "ops", "LOGNAME": "ops"}
    out = subprocess.run(
        ["unshare", "--uts", "sh", "-c", 'hostname ci-runner-07 && exec "$@"', "sh",
         sys.executable, "-m", "stackctl", "deploy", STACK, "-c", str(path), "--detach",
         "--resolve-image", "never"],
        env=deploy_env, cwd=str(REPO), capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    try:
        deadline = time.monotonic() + 90
        while True:
            doc = json.loads(stackctl(env, "ps", STACK, "--format", "json").stdout or "{}")
            states = sorted(t["state"] for t in doc.get("tasks", []))
            if states == ["failed", "running", "running"]:
                break
            assert time.monotonic() < deadline, f"the stack never reached running, running, failed: {states}"
            time.sleep(1)
        yield env
    finally:
        stackctl(env, "rm", STACK)


def ages(env: dict[str, str]) -> list[float]:
    doc = json.loads(stackctl(env, "ps", STACK, "--format", "json").stdout)
    now = datetime.now(timezone.utc)
    return [(now - datetime.fromisoformat(t["state_since"].replace("Z", "+00:00"))).total_seconds()
            for t in doc["tasks"]]


def ids(env: dict[str, str], command: str) -> list[str]:
    doc = json.loads(stackctl(env, command, STACK, "--format", "json").stdout)
    return [item["id"][:12] for item in doc["tasks" if command == "ps" else "services"]]


def normalise(lines: list[str], id_map: dict[str, str]) -> list[str]:
    out = []
    for line in lines:
        for real, stand_in in id_map.items():
            line = line.replace(real, stand_in)
        line = re.sub(rf"({STATE_WORDS} )(\d+)(?=s\b| seconds ago)", lambda m: m[1] + "N" * len(m[2]), line)
        line = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "YYYY-MM-DD hh:mm:ss", line)
        out.append(line)
    return out


def test_tables_at_80_and_120_columns(deployed: dict[str, str], tmp_path: Path) -> None:
    env = deployed
    id_map = {real: f"task-id-{i:04d}" for i, real in enumerate(ids(env, "ps"), 1)}
    id_map |= {real: f"svc-id-{i:05d}" for i, real in enumerate(ids(env, "services"), 1)}
    tasks = json.loads(stackctl(env, "ps", STACK, "--format", "json").stdout)["tasks"]
    services = json.loads(stackctl(env, "services", STACK, "--format", "json").stdout)["services"]
    others = [s["name"] for s in json.loads(stackctl(env, "ls", "--format", "json").stdout)["stacks"]]
    assert max(map(len, others)) <= len(STACK), f"a stack with a longer name shares the lab: {others}"

    deadline = time.monotonic() + 60
    while min(ages(env)) < 12:  # two-digit ages on every ps screen (a 2 s margin)
        assert time.monotonic() < deadline
        time.sleep(0.5)
    tmux = Tmux(tmp_path, env)
    try:
        commands = {"ps": ("ps", STACK), "services": ("services", STACK), "ls": ("ls",),
                    "history": ("history", STACK)}  # ps first: its ages move
        screens = {(cmd, width): tmux.screen(width, *args)
                   for cmd, args in commands.items() for width in WIDTHS}
    finally:
        tmux.close()
    ps_ages = [int(m) for (cmd, _), lines in screens.items() if cmd == "ps" for line in lines
               for m in re.findall(rf"{STATE_WORDS} (\d+)s\b", line)]
    assert ps_ages and all(10 <= age <= 59 for age in ps_ages), f"ages left the 10-59 s window: {ps_ages}"

    for (cmd, width), lines in screens.items():
        text = "\n".join(lines)
        assert all(len(line) <= width for line in lines)
        if cmd == "ps":
            assert len(lines) == 1 + len(tasks), text  # one screen line per task: nothing wrapped
            for t in tasks:
                row = next(line for line in lines if line.startswith(t["id"][:12]))
                assert f"  {t['name']}  " in row and f"  {t['node']}  " in row, row  # name, ID, node whole
        elif cmd == "services":
            assert len(lines) == 1 + len(services), text
            assert all(f"{s['id'][:12]}  {s['name']}  " in text for s in services), text
        elif cmd == "ls":
            assert any(line.startswith(STACK + " ") for line in lines), text
        if width == 120 and cmd != "ps":
            assert "…" not in text, text  # services, ls and history fit whole in 120 columns
        if width == 120 and cmd == "ps":
            assert re.search(r"Failed \d\ds: non-zero exit \(3\)", text), text  # the error whole
            assert "wrk-1" in text and "wrk-2" in text

    for cmd in ("ps", "services", "ls", "history"):
        parts = []
        for width in WIDTHS:
            lines = screens[(cmd, width)]
            if cmd == "ls":
                lines = [lines[0], *(line for line in lines[1:] if line.startswith(STACK + " "))]
            parts += [f"-- tmux, {width} columns " + "-" * (width - len(f"-- tmux, {width} columns ")),
                      *normalise(lines, id_map)]
        check_golden(GOLDEN / f"{cmd}.txt", "\n".join(parts) + "\n")
