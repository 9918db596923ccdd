"""Where the tests find shared material: `../shared` beside the repository (here and in CI)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
EXAMPLES = REPO / "examples"



def _worker_lab() -> str | None:
    """The lab of this pytest-xdist worker: `scripts/test.sh` starts one lab per worker and names
    them in STACKCTL_TEST_LABS (space-separated); worker gwN takes the Nth. None outside xdist."""
    labs = os.environ.get("STACKCTL_TEST_LABS", "").split()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"... (set before conftest loads)
    if not labs or not worker.startswith("gw"):
        return None
    return labs[int(worker[2:]) % len(labs)]


def worker_index() -> tuple[int, int]:
    """(this worker's number, how many workers): (0, 1) outside xdist. Tests that pick host-wide
    names or subnets of their own keep to their worker's share with it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    return (int(worker[2:]) if worker.startswith("gw") else 0), max(1, count)


# The lab the integration tests use: one `scripts/test.sh` started. Under pytest-xdist each worker
# has a lab of its own (above); otherwise `STACKCTL_LAB_NAME` (the same variable `stackctl lab`
# reads) picks a named lab, so a test run never needs the default one and runs go side by side.
LAB_NAME = _worker_lab() or os.environ.get("STACKCTL_LAB_NAME") or "default"
if LAB_NAME != "default":
    os.environ["STACKCTL_LAB_NAME"] = LAB_NAME  # `stackctl lab status/env` run by a test: this lab


def lab_run_dir() -> Path:
    """The folder holding one `NODE/docker.sock` per node of the tests' lab."""
    from stackctl.lab.layout import lab_place

    return lab_place(LAB_NAME).run_root


def node_host(node: str = "mgr-1") -> str:
    """DOCKER_HOST of one node of the tests' lab."""
    return f"unix://{lab_run_dir() / node / 'docker.sock'}"


LAB_HOST = node_host()


def check_golden(path: Path, actual: str) -> None:
    """`actual` must equal the golden file at `path`; `STACKCTL_UPDATE_GOLDEN=1` (re)writes it instead."""
    if os.environ.get("STACKCTL_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    assert path.exists(), f"missing golden file {path} (run with STACKCTL_UPDATE_GOLDEN=1)"
    assert actual == path.read_text()
