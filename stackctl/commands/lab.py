"""`stackctl lab up|down|status|env`: a throwaway multi-node swarm on this machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from stackctl.errors import EXIT_ERROR, EXIT_OK
from stackctl.lab.layout import DEFAULT_NAME, LabLayout, make_layout, read_state


def _table(rows: list[dict[str, Any]]) -> str:
    head = ["NODE", "ROLE", "STATUS", "AVAILABILITY", "ADDRESS", "ENGINE", "LABELS"]
    body = [[r["hostname"], r["role"], r["state"].capitalize(), r["availability"].capitalize(), r["address"],
             r["engine"], ",".join(f"{k}={v}" for k, v in sorted(r["labels"].items())) or "-"] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)) for line in [head, *body]]
    return "\n".join(line.rstrip() for line in lines)


def _name_flag(name: str) -> str:
    return "" if name == DEFAULT_NAME else f" --name {name}"


def env_lines(layout: LabLayout) -> list[str]:
    """The eval-able exports for a lab: its manager, and its registry and ssh when it runs them.

    The registry password is read from its file when the line is evaluated: never printed.
    """
    lines = [f"export DOCKER_HOST={layout.manager.host}"]
    if layout.registry:
        from stackctl.lab.registry import USER, RegistryFiles

        files = RegistryFiles.of(layout.place)
        lines += [f"export STACKCTL_LAB_REGISTRY={layout.registry_address}",
                  f"export STACKCTL_LAB_REGISTRY_USER={USER}",
                  f'export STACKCTL_LAB_REGISTRY_PASSWORD="$(cat {files.password})"',
                  f"export STACKCTL_LAB_REGISTRY_CA={files.ca_crt}"]
    if layout.ssh:
        lines.append(f"export STACKCTL_LAB_SSH_HOST=ssh://root@{layout.manager.ip}")
    return lines


def up(workers: int = 2, labels: list[str] | None = None, bridge: str | None = None,
       subnet: str | None = None, name: str = DEFAULT_NAME, managers: int = 1, registry: bool = True,
       ssh: bool = True) -> int:
    """Start (or restart) lab `name`; print its nodes and how to point docker/stackctl at it."""
    from stackctl.lab.lifecycle import up as lab_up

    layout, rows, seconds = lab_up(workers, labels or [], bridge, subnet, name=name, managers=managers,
                                   with_registry=registry, with_ssh=ssh)
    print(_table(rows))
    print(f"\nlab {name!r} up in {seconds:.1f}s: {len(rows)} nodes on {layout.bridge} ({layout.subnet})")
    if layout.registry:
        print(f"registry: {layout.registry_address} (TLS, user lab; "
              f"its password: stackctl lab env{_name_flag(name)})")
    if layout.ssh:
        print(f"ssh: DOCKER_HOST=ssh://root@{layout.manager.ip}")
    print(f"use it with: export DOCKER_HOST={layout.manager.host}   "
          f"(or: eval \"$(stackctl lab env{_name_flag(name)})\")")
    return EXIT_OK


def down(name: str = DEFAULT_NAME) -> int:
    """Stop lab `name` and remove everything it made."""
    from stackctl.lab.lifecycle import down as lab_down

    lab_down(name)
    print(f"lab {name!r} down" if name != DEFAULT_NAME else "lab down")
    return EXIT_OK


def status(fmt: str = "table", name: str = DEFAULT_NAME) -> int:
    """Print the nodes (and the registry); exit 1 unless every node is Ready."""
    from stackctl.commands._options import TABLE_FORMATS, check_format
    from stackctl.lab.lifecycle import status_rows

    fmt = check_format(fmt, TABLE_FORMATS)
    layout, rows = status_rows(name)
    ready = bool(rows) and all(r["state"] == "ready" for r in rows) and len(rows) == len(layout.nodes)
    if fmt == "json":
        print(json.dumps({"schema": "stackctl.lab-status/v1", "name": layout.name, "ready": ready,
                          "docker_host": layout.manager.host,
                          "bridge": layout.bridge, "subnet": layout.subnet,
                          "registry": layout.registry_address or None,
                          "ssh_hosts": [f"ssh://root@{n.ip}" for n in layout.managers] if layout.ssh else [],
                          "nodes": rows}, indent=2))
    else:
        print(_table(rows))
        if layout.registry:
            print(f"\nregistry: {layout.registry_address}")
        if layout.ssh:
            print(("" if layout.registry else "\n") + "ssh: " +
                  "  ".join(f"ssh://root@{n.ip}" for n in layout.managers))
        if not ready:
            print(f"\nnot every node is Ready (expected {len(layout.nodes)})")
    return EXIT_OK if ready else EXIT_ERROR


def _socket_exists(socket: Path) -> bool:
    return socket.exists()


def env(name: str = DEFAULT_NAME) -> int:
    """Print eval-able exports for lab `name` (DOCKER_HOST, and the registry's when it runs one); exit 1
    when the lab is down, so `eval "$(stackctl lab env)"` cannot silently point the shell at nothing."""
    from stackctl.errors import LabError

    layout = read_state(name) or make_layout(name=name, environ={})
    if not _socket_exists(layout.manager.socket):
        up = "stackctl lab up" + ("" if name == DEFAULT_NAME else f" --name {name}")
        raise LabError(f"the lab is not up ({layout.manager.host} is missing; start it with: {up})")
    print("\n".join(env_lines(layout)))
    return EXIT_OK
