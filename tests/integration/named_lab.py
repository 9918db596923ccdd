"""Helpers for tests that bring up a named lab of their own beside the shared default one."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from stackctl.lab import host, registry, ssh
from stackctl.lab.layout import LabLayout

REPO = Path(__file__).resolve().parents[2]
Proc = subprocess.CompletedProcess[str]


def run_stackctl(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> Proc:
    full = dict(os.environ)
    full.update(env or {})
    return subprocess.run([sys.executable, "-m", "stackctl", *args], capture_output=True, text=True,
                          timeout=timeout, env=full, cwd=str(REPO))


def run_docker(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Proc:
    full = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    full.update(env or {})
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=full)


def exports(name: str) -> dict[str, str]:
    """`stackctl lab env --name NAME`, evaluated by a shell (as a user would)."""
    script = f'eval "$({sys.executable} -m stackctl lab env --name {name})" && env -0'
    proc = subprocess.run(["sh", "-c", script], capture_output=True, timeout=30,
                          cwd=str(REPO))
    assert proc.returncode == 0, proc.stderr
    pairs = [item.split("=", 1) for item in proc.stdout.decode().split("\0") if "=" in item]
    return {k: v for k, v in pairs if k == "DOCKER_HOST" or k.startswith("STACKCTL_LAB_")}


def what_it_owns(layout: LabLayout) -> dict[str, Any]:
    place = layout.place
    return {
        "netns": [n.netns for n in layout.nodes],
        "links": [layout.bridge] + [n.veth for n in layout.nodes],
        "roots": [place.run_root, place.state_root],
        "certs_d": registry.CERTS_D / layout.registry_address if layout.registry else None,
        "ssh_config": ssh.SshFiles.of(place).client_config,
    }


def leftovers(owned: dict[str, Any]) -> list[str]:
    """What is still there of a lab after its `down`."""
    found = [f"netns {n}" for n in owned["netns"] if Path(f"/run/netns/{n}").exists()]
    found += [f"link {link}" for link in owned["links"]
              if host.run(["ip", "link", "show", "dev", link], check=False).returncode == 0]
    rules = host.run(["iptables", "-S", "FORWARD"], check=False).stdout
    found += [f"iptables rule {line}" for line in rules.splitlines() if f"-i {owned['links'][0]} " in line]
    found += [f"process {pid}: {host.cmdline(pid)}" for pid in host.lab_processes(owned["roots"], [])]
    found += [f"mount {m}" for m in host.mounts_under(owned["roots"])]
    found += [f"folder {r}" for r in owned["roots"] if r.exists()]
    if owned["certs_d"] is not None and owned["certs_d"].exists():
        found.append(f"certs.d {owned['certs_d']}")
    if owned["ssh_config"].exists():
        found.append(f"ssh config {owned['ssh_config']}")
    return found


def own_lab(prefix: str, *up_args: str) -> Iterator[LabLayout]:
    """A named lab of the test module's own (a random name), brought down and checked clean after."""
    import uuid

    import pytest

    from stackctl.lab.layout import read_state

    if os.geteuid() != 0:
        pytest.skip("bringing up a named lab needs root")
    name = f"{prefix}{uuid.uuid4().hex[:5]}"
    up = run_stackctl("lab", "up", "--name", name, *up_args, timeout=400)
    layout = read_state(name)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert layout is not None
        yield layout
    finally:
        down = run_stackctl("lab", "down", "--name", name, timeout=300)
        assert down.returncode == 0, down.stderr
        if layout is not None:
            assert leftovers(what_it_owns(layout)) == []
