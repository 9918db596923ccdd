"""`stackctl lab up|down|status|env`: a throwaway multi-node swarm on this machine."""

from __future__ import annotations

import json
from typing import Any

from stackctl.errors import EXIT_ERROR, EXIT_OK, UsageError
from stackctl.lab.layout import MANAGER_HOST


def _table(rows: list[dict[str, Any]]) -> str:
    head = ["NODE", "ROLE", "STATUS", "AVAILABILITY", "ADDRESS", "ENGINE", "LABELS"]
    body = [[r["hostname"], r["role"], r["state"].capitalize(), r["availability"].capitalize(), r["address"],
             r["engine"], ",".join(f"{k}={v}" for k, v in sorted(r["labels"].items())) or "-"] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)) for line in [head, *body]]
    return "\n".join(line.rstrip() for line in lines)


def up(workers: int = 2, labels: list[str] | None = None, bridge: str | None = None,
       subnet: str | None = None) -> int:
    """Start (or restart) the lab; print its nodes and how to point docker/stackctl at it."""
    from stackctl.lab.lifecycle import up as lab_up

    layout, rows, seconds = lab_up(workers, labels or [], bridge, subnet)
    print(_table(rows))
    print(f"\nlab up in {seconds:.1f}s: {len(rows)} nodes on {layout.bridge} ({layout.subnet})")
    print(f"use it with: export DOCKER_HOST={MANAGER_HOST}   (or: eval \"$(stackctl lab env)\")")
    return EXIT_OK


def down() -> int:
    """Stop the lab and remove everything it made."""
    from stackctl.lab.lifecycle import down as lab_down

    lab_down()
    print("lab down")
    return EXIT_OK


def status(fmt: str = "table") -> int:
    """Print the nodes; exit 1 unless every node is Ready."""
    from stackctl.lab.lifecycle import status_rows

    if fmt not in ("table", "json"):
        raise UsageError(f"invalid --format {fmt!r}: use table or json")
    layout, rows = status_rows()
    ready = bool(rows) and all(r["state"] == "ready" for r in rows) and len(rows) == len(layout.nodes)
    if fmt == "json":
        print(json.dumps({"schema": "stackctl.lab-status/v1", "ready": ready, "docker_host": MANAGER_HOST,
                          "bridge": layout.bridge,
                          "subnet": layout.subnet, "nodes": rows}, indent=2))
    else:
        print(_table(rows))
        if not ready:
            print(f"\nnot every node is Ready (expected {len(layout.nodes)})")
    return EXIT_OK if ready else EXIT_ERROR


def env() -> int:
    """Print the DOCKER_HOST export for the lab's manager (eval-able); exit 1 when the lab is down,
    so `eval "$(stackctl lab env)"` cannot silently point the shell at a socket that is not there."""
    from pathlib import Path

    from stackctl.errors import LabError

    if not Path(MANAGER_HOST.removeprefix("unix://")).exists():
        raise LabError(f"the lab is not up ({MANAGER_HOST} is missing; start it with: stackctl lab up)")
    print(f"export DOCKER_HOST={MANAGER_HOST}")
    return EXIT_OK
