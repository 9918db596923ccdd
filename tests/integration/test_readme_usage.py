"""The README's Usage block works as written, in order, right after `make demo` (issue 22).

The commands are read from README.md's Usage block (so the README cannot rot unseen) and run in
one bash, in order, on a lab of this test's own: `make demo`'s script first (scripts/demo.sh; the
package installs of `make setup` aside), then every command of the block, `lab up` to `lab down`.
What is adapted, and only that: the lab's name (STACKCTL_LAB_NAME, which every `stackctl lab`
command reads, so the suite's lab is never touched), `stackctl` itself (this tree's code), and a
DOCKER_CONFIG of the test's own for the block's `docker login`.

Every command must exit 0, or what the README announces for it (`diff`: 2 when there are changes),
and nothing may print an error or a warning the README does not announce.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from stackctl.lab.layout import read_state
from tests.integration.named_lab import leftovers, run_stackctl, what_it_owns

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MARK = "@@usage"


def usage_commands(readme: str) -> list[str]:
    """The commands of the README's Usage block, one per line, their comments dropped."""
    block = readme.split("## Usage", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.splitlines():
        text = re.sub(r"\s{2,}#.*$", "", line).strip()
        if text and not text.startswith("#"):
            commands.append(text)
    return commands


def test_the_usage_block_is_parsed_as_a_reader_reads_it() -> None:
    commands = usage_commands((REPO / "README.md").read_text())
    assert commands[0] == "stackctl lab up" and commands[-1] == "stackctl lab down"
    assert "cd examples/atsea" in commands
    assert all("#" not in c or c.startswith("echo ") for c in commands), commands


def announced_exit(command: str) -> set[int]:
    """The exit codes the README announces for a command: `diff` exits 2 when there are changes."""
    return {0, 2} if command.startswith("stackctl diff") else {0}


def script(commands: list[str]) -> str:
    lines = [f'stackctl() {{ {shlex.quote(sys.executable)} -m stackctl "$@"; }}',
             f"cd {shlex.quote(str(REPO))}"]
    for i, command in enumerate(commands):
        lines.append(f"echo '{MARK} {i}'; echo '{MARK} {i}' >&2")
        lines.append(command)
        lines.append(f'echo "{MARK} {i} rc=$?"')
    return "\n".join(lines) + "\n"


def split_outputs(text: str, count: int) -> list[str]:
    parts = [""] * count
    current = -1
    for line in text.splitlines():
        if line.startswith(MARK):
            current = int(line.split()[1])
            continue
        if current >= 0:
            parts[current] += line + "\n"
    return parts


def test_make_demo_then_the_usage_block_in_order(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab needs root")
    lab = f"rd{uuid.uuid4().hex[:5]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "STACKCTL_LAB_"))}
    env.update({"STACKCTL_LAB_NAME": lab, "DOCKER_CONFIG": str(tmp_path / "docker-config"),
                "PYTHON": sys.executable, "PYTHONPATH": str(REPO)})
    env.pop("APPSERVER_REPLICAS", None)
    try:
        demo = subprocess.run(["bash", "scripts/demo.sh"], cwd=str(REPO), env=env, capture_output=True,
                              text=True, timeout=600)
        said = demo.stdout + demo.stderr
        assert demo.returncode == 0, said
        assert "5 services converged" in said and "5 services: 5 converged" in said
        # the shop's images come from the lab registry: their digests are recorded, nothing warns
        assert "warning" not in said.lower() or "WARNING! Your credentials" in said, said
        assert "could not be accessed on a registry" not in said, said

        commands = usage_commands((REPO / "README.md").read_text())
        run = subprocess.run(["bash", "-c", script(commands)], env=env, capture_output=True, text=True,
                             timeout=900)
        outs, errs = split_outputs(run.stdout, len(commands)), split_outputs(run.stderr, len(commands))
        codes = {int(m.group(1)): int(m.group(2)) for m in re.finditer(rf"{MARK} (\d+) rc=(\d+)", run.stdout)}
        for i, command in enumerate(commands):
            shown = f"{command}\n--- stdout\n{outs[i]}--- stderr\n{errs[i]}"
            assert codes.get(i) in announced_exit(command), f"exit {codes.get(i)}: {shown}"
            assert "Traceback" not in errs[i] and "error:" not in errs[i], shown
            # the one warning the README announces: docker login's about the stored password
            assert "warning:" not in (outs[i] + errs[i]).lower(), shown

        by_command = {c: (outs[i], errs[i]) for i, c in enumerate(commands)}
        history = next(o for c, (o, _) in by_command.items() if re.fullmatch(r"stackctl history \S+ 1 2", c))
        assert "services.appserver.deploy.replicas: 2 → 3" in history, history
        assert "image of" not in history and history.rstrip().endswith("1 change."), history
        ps = next(e for c, (_, e) in by_command.items() if c.startswith("stackctl ps ") and "-f name=" in c)
        assert "1 service: 1 converged" in ps, ps
        assert read_state(lab) is None, "the block's `lab down` removed the lab"
    finally:
        layout = read_state(lab)
        if layout is not None:
            owned = what_it_owns(layout)
            run_stackctl("lab", "down", "--name", lab, timeout=300)
            assert leftovers(owned) == []
