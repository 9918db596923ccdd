"""Where the tests find shared material: `../shared` beside the repository (here and in CI)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"
EXAMPLES = REPO / "examples"

# The lab the integration tests use: the one `scripts/test.sh` started. `STACKCTL_LAB_NAME` (the
# same variable `stackctl lab` reads) picks a named lab, so a test run never needs the default one
# and two runs can go side by side.
LAB_NAME = os.environ.get("STACKCTL_LAB_NAME") or "default"


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
