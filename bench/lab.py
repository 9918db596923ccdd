"""The lab swarm the deploy cases run on, and the few engine chores of the benchmark itself.

The benchmark's own engine calls (clean-up, reading task timestamps) go straight to the manager's
socket, never through the counting proxy.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from stackctl.names import HISTORY_LABEL, NAMESPACE_LABEL

LAB_HOST = "unix:///run/stackctl-lab/mgr-1/docker.sock"  # bench uses the default lab


def lab_ready(stackctl: list[str]) -> bool:
    proc = subprocess.run([*stackctl, "lab", "status", "--format", "json"], capture_output=True, text=True)
    try:
        return proc.returncode == 0 and bool(json.loads(proc.stdout).get("ready"))
    except json.JSONDecodeError:
        return False


@contextmanager
def lab(stackctl: list[str], log: Any) -> Iterator[str]:
    """The lab's DOCKER_HOST; starts the lab if it is not up and then stops it again afterwards."""
    if lab_ready(stackctl):
        yield LAB_HOST
        return
    log("lab is not up: starting it (stackctl lab up); it will be stopped again at the end")
    subprocess.run([*stackctl, "lab", "up"], check=True, stdout=subprocess.DEVNULL)
    try:
        yield LAB_HOST
    finally:
        log("stopping the lab the benchmark started (stackctl lab down)")
        subprocess.run([*stackctl, "lab", "down"], stdout=subprocess.DEVNULL)


def engine(docker_host: str) -> Any:
    import docker

    return docker.APIClient(base_url=docker_host, version="auto", timeout=60)


def stacks(client: Any, prefix: str) -> set[str]:
    names = set()
    for service in client.services(filters={"label": NAMESPACE_LABEL}):
        name = ((service.get("Spec") or {}).get("Labels") or {}).get(NAMESPACE_LABEL, "")
        if name.startswith(prefix):
            names.add(name)
    return names


def remove_stacks(client: Any, names: Iterable[str], timeout: float = 180.0) -> None:
    """Remove the stacks (and stackctl's revision history of them); wait until they are gone."""
    names = set(names)
    if not names:
        return
    for cfg in client.configs(filters={"label": HISTORY_LABEL}):
        if ((cfg.get("Spec") or {}).get("Labels") or {}).get(HISTORY_LABEL) in names:
            _quietly(client.remove_config, cfg["ID"])
    for service in client.services(filters={"label": NAMESPACE_LABEL}):
        if ((service.get("Spec") or {}).get("Labels") or {}).get(NAMESPACE_LABEL) in names:
            _quietly(client.remove_service, service["ID"])
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [n for n in client.networks(filters={"label": NAMESPACE_LABEL})
                if (n.get("Labels") or {}).get(NAMESPACE_LABEL) in names]
        for network in left:
            _quietly(client.remove_network, network["Id"])
        for kind in ("secrets", "configs"):
            for obj in getattr(client, kind)(filters={"label": NAMESPACE_LABEL}):
                if ((obj.get("Spec") or {}).get("Labels") or {}).get(NAMESPACE_LABEL) in names:
                    _quietly(getattr(client, f"remove_{kind[:-1]}"), obj["ID"])
        if not left and not stacks_of(client, names):
            return
        time.sleep(0.5)


def stacks_of(client: Any, names: set[str]) -> list[str]:
    return [s["ID"] for s in client.services(filters={"label": NAMESPACE_LABEL})
            if ((s.get("Spec") or {}).get("Labels") or {}).get(NAMESPACE_LABEL) in names]


def _quietly(call: Any, *args: Any) -> None:
    try:
        call(*args)
    except Exception:  # noqa: BLE001 - clean-up: already gone, or still in use (tried again)
        pass


def parse_engine_time(stamp: str) -> float:
    """Epoch seconds of an engine timestamp (RFC 3339 with nanoseconds)."""
    stamp = stamp.rstrip("Z")
    whole, _, frac = stamp.partition(".")
    base = datetime.fromisoformat(whole + "+00:00").timestamp()
    return base + (float("0." + frac[:9]) if frac else 0.0)


def last_running_since(client: Any, stack: str) -> tuple[float, int] | None:
    """When the last of the stack's running tasks started running (engine clock), and how many run."""
    ids = {s["ID"] for s in client.services(filters={"label": f"{NAMESPACE_LABEL}={stack}"})}
    running = [t for t in client.tasks(filters={"desired-state": "running"})
               if t.get("ServiceID") in ids and (t.get("Status") or {}).get("State") == "running"]
    if not running:
        return None
    return max(parse_engine_time(t["Status"]["Timestamp"]) for t in running), len(running)
