"""Bring the lab up, tear it down, and report on it.

Each node is a containerd + dockerd pair started with `nsenter --net=<netns>` (so the
cgroup mounts stay visible) and `unshare --uts` (its own hostname), with private
data-root, exec-root, socket and pidfile. The namespaces hang off one bridge and have
no default route: nothing in the lab can reach a public registry, and nothing tries to;
the lab's own registry listens on the bridge address (stackctl/lab/registry.py).

Every operation works on one named lab and touches only what that lab's layout names
(its folders, netns, bridge, veths, iptables rule), so labs can run side by side.
"""

from __future__ import annotations

import fcntl
import functools
import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from stackctl.errors import LabError
from stackctl.lab import host, images, registry, ssh
from stackctl.lab.layout import (
    DEFAULT_NAME,
    NAMED_RUN_BASE,
    NAMED_STATE_BASE,
    LabLayout,
    LabNode,
    LabPlace,
    lab_names,
    lab_place,
    make_layout,
    read_state,
)

T = TypeVar("T")
IPT_COMMENT = "stackctl-lab"
DOCKER_SOCK_PLACEHOLDER = Path("/var/run/docker.sock")
PLACEHOLDER_MARK = "created-docker-sock-placeholder"  # in the lab's run root
ALLOC_LOCK = Path("/run/stackctl-labs-network.lock")  # one lab at a time picks a subnet and bridge
READY_TIMEOUT = 60.0


def _say(msg: str) -> None:
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def _parallel(fn: Callable[[LabNode], T], nodes: list[LabNode]) -> list[T]:
    """Run fn on every node at once; re-raise the first error after all finished."""
    if not nodes:
        return []
    with ThreadPoolExecutor(max_workers=len(nodes)) as pool:
        futures = [pool.submit(fn, n) for n in nodes]
        errors = [f.exception() for f in futures]
    for err in errors:
        if err is not None:
            raise err
    return [f.result() for f in futures]


@contextmanager
def _locked(lock_file: Path, what: str = "another `stackctl lab up/down` of this lab") -> Iterator[None]:
    """One `up`/`down` at a time per lab (and one network allocation at a time per machine)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(f"{what} is running; waiting for it")
            fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def docker(node: LabNode, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    """The docker CLI against one node."""
    kw.setdefault("what", f"docker {args[0]} on {node.name}")
    return host.run(["docker", "-H", node.host, *args], **kw)


def _responds(node: LabNode) -> bool:
    if not node.socket.exists():
        return False
    try:
        out = docker(node, "version", "--format", "{{.Server.Version}}", check=False, timeout=5)
        return out.returncode == 0
    except LabError:
        return False


# --- network --------------------------------------------------------------------------------


def _link_exists(name: str) -> bool:
    return host.run(["ip", "link", "show", "dev", name], check=False).returncode == 0


def _routes() -> list[tuple[ipaddress.IPv4Network, str]]:
    """This host's IPv4 routes (but the default one) with their full lines."""
    out = host.run(["ip", "-4", "-o", "route", "show"], check=False).stdout
    routes = []
    for line in out.splitlines():
        dest = line.split()[0] if line.split() else ""
        if dest == "default" or not dest:
            continue
        try:
            routes.append((ipaddress.IPv4Network(dest, strict=False), line))
        except ValueError:
            continue
    return routes


def _taken_networks(name: str) -> list[ipaddress.IPv4Network]:
    """Networks a new lab must avoid: routes of this host and subnets other labs recorded."""
    taken = [net for net, _ in _routes()]
    for other in lab_names():
        layout = read_state(other) if other != name else None
        if layout is not None:
            taken.append(layout.network)
    return taken


def _check_subnet_free(layout: LabLayout) -> None:
    """Refuse a subnet that overlaps a route this host already has (another lab, a VPN...)."""
    for net, line in _routes():
        if net.overlaps(layout.network) and f" dev {layout.bridge} " not in f" {line} ":
            how = "--subnet or STACKCTL_LAB_SUBNET" if layout.place.is_default else "--subnet"
            raise LabError(f"the lab subnet {layout.subnet} overlaps an existing route ({line.strip()}); "
                           f"choose another with {how}")


def _create_network(layout: LabLayout) -> None:
    if _link_exists(layout.bridge):
        raise LabError(f"a network interface named {layout.bridge} already exists and is not this lab's; "
                       "choose another bridge with --bridge or STACKCTL_LAB_BRIDGE")
    _check_subnet_free(layout)
    br, plen = layout.bridge, layout.prefixlen
    batch = [f"link add {br} type bridge", f"addr add {layout.gateway}/{plen} dev {br}", f"link set {br} up"]
    for node in layout.nodes:
        batch += [
            f"netns add {node.netns}",
            f"link add {node.veth} type veth peer name eth0 netns {node.netns}",
            f"link set {node.veth} master {br} up",
        ]
    host.run(["ip", "-batch", "-"], input="\n".join(batch) + "\n", what="creating the lab network")
    for node in layout.nodes:
        host.run(["ip", "-n", node.netns, "-batch", "-"], what=f"configuring {node.netns}",
                 input=f"link set lo up\naddr add {node.ip}/{plen} dev eth0\nlink set eth0 up\n")
    _allow_forwarding(layout.bridge)


def _allow_forwarding(bridge: str) -> None:
    """With br_netfilter and a FORWARD policy of DROP, bridged lab traffic needs an explicit rule."""
    out = host.run(["iptables", "-S", "FORWARD"], check=False)
    if out.returncode == 0 and "-P FORWARD DROP" in out.stdout:
        host.run(["iptables", "-I", "FORWARD", "-i", bridge, "-o", bridge, "-m", "comment",
                  "--comment", IPT_COMMENT, "-j", "ACCEPT"], what="allowing lab traffic in iptables")


def _remove_forwarding(bridge: str) -> None:
    rule = ["FORWARD", "-i", bridge, "-o", bridge, "-m", "comment", "--comment", IPT_COMMENT, "-j", "ACCEPT"]
    for _ in range(10):
        if host.run(["iptables", "-D", *rule], check=False).returncode != 0:
            break


# --- daemons --------------------------------------------------------------------------------


def _containerd_config(node: LabNode) -> str:
    """A private containerd per node: its own root, state and socket (never the system one)."""
    return "\n".join([
        "version = 2",
        f'root = "{node.data_root / "containerd"}"',
        f'state = "{node.containerd_dir / "state"}"',
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        "[grpc]",
        f'  address = "{node.containerd_socket}"',
        "[ttrpc]",
        '  address = ""',
        "[debug]",
        '  address = ""',
        '  level = "warn"',
        "[metrics]",
        '  address = ""',
        "",
    ])


def _in_node(node: LabNode, *argv: str) -> list[str]:
    """argv run inside the node's network namespace with its own hostname."""
    return host.in_netns(node.netns, node.name, *argv)


def _spawn(argv: list[str], log: Path, offline: bool = False) -> subprocess.Popen[bytes]:
    """A node daemon. `offline`: swarm tasks use local images and never pull (a lab without a registry:
    every pull would fail). With the registry, tasks pull as on a real cluster (a failed pull of a
    public image falls back to the local copy at once: the namespaces have no route out)."""
    return host.spawn(argv, log, {"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"} if offline else {})


def _start_node(node: LabNode, offline: bool = True) -> None:
    for d in (node.data_root, node.run_dir, node.exec_root, node.containerd_dir):
        d.mkdir(parents=True, exist_ok=True)
    conf = node.run_dir / "containerd.toml"
    conf.write_text(_containerd_config(node))
    ctrd = _spawn(_in_node(node, "containerd", "--config", str(conf)), node.containerd_log)
    node.containerd_pidfile.write_text(f"{ctrd.pid}\n")
    host.wait_for(node.containerd_socket.exists, 20, f"containerd of {node.name}", ctrd, node.containerd_log)
    start_dockerd(node, offline)


def start_dockerd(node: LabNode, offline: bool = True) -> None:
    """The node's dockerd alone, on its running containerd: how a node comes back after its daemon
    crashed (the fault tests kill it; containers and swarm state survive, as on a real host)."""
    dockerd = _spawn(_in_node(
        node, "dockerd",
        "--data-root", str(node.data_root),
        "--exec-root", str(node.exec_root),
        "-H", node.host,
        "--pidfile", str(node.pidfile),
        "--containerd", str(node.containerd_socket),
        "--log-level", "warn",
    ), node.log, offline)
    host.wait_for(lambda: _responds(node), 30, f"dockerd of {node.name}", dockerd, node.log)


def _import_images(node: LabNode, rootfs: bytes) -> None:
    for image in images.IMAGES:
        docker(node, "import", *images.import_args(image), "-", image.name, input=rootfs, timeout=60,
               what=f"importing {image.name} into {node.name}")


# --- swarm ----------------------------------------------------------------------------------


def _form_swarm(layout: LabLayout) -> None:
    """Init on mgr-1; other managers join one by one (raft adds one member at a time), workers at once."""
    mgr = layout.manager
    docker(mgr, "swarm", "init", "--advertise-addr", mgr.ip, "--listen-addr", f"{mgr.ip}:2377",
           timeout=60)
    tokens = {role: docker(mgr, "swarm", "join-token", "-q", role).stdout.strip()
              for role in ("worker", "manager")}

    def join(node: LabNode) -> None:
        docker(node, "swarm", "join", "--token", tokens[node.role], "--advertise-addr", node.ip,
               "--listen-addr", f"{node.ip}:2377", f"{mgr.ip}:2377", timeout=90)

    for node in layout.managers[1:]:
        join(node)
    _parallel(join, layout.workers)


def node_table(layout: LabLayout) -> list[dict[str, Any]]:
    """Swarm's view of the nodes, as plain rows (raises LabError when the manager does not answer)."""
    out = docker(layout.manager, "node", "ls", "-q", timeout=15, what="listing nodes").stdout.split()
    if not out:
        return []
    data = json.loads(docker(layout.manager, "node", "inspect", *out, timeout=15,
                             what="inspecting nodes").stdout)
    rows = []
    for n in data:
        desc, status, spec = n.get("Description", {}), n.get("Status", {}), n.get("Spec", {})
        rows.append({
            "id": n.get("ID", ""),
            "hostname": desc.get("Hostname", ""),
            "role": spec.get("Role", ""),
            "state": status.get("State", ""),
            "availability": spec.get("Availability", ""),
            "address": status.get("Addr", ""),
            "engine": desc.get("Engine", {}).get("EngineVersion", ""),
            "labels": spec.get("Labels") or {},
        })
    order = {n.name: i for i, n in enumerate(layout.nodes)}
    return sorted(rows, key=lambda r: (order.get(r["hostname"], 99), r["hostname"]))


def _wait_ready(layout: LabLayout) -> list[dict[str, Any]]:
    want = {n.name for n in layout.nodes}
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        rows = node_table(layout)
        ready = {r["hostname"] for r in rows if r["state"] == "ready"}
        if want <= ready:
            return rows
        time.sleep(0.3)
    states = ", ".join(f"{r['hostname']}={r['state']}" for r in rows) or "no nodes"
    raise LabError(f"the swarm nodes did not all become Ready within {READY_TIMEOUT:.0f}s ({states})")


def _apply_labels(layout: LabLayout, rows: list[dict[str, Any]]) -> None:
    ids = {r["hostname"]: r["id"] for r in rows}
    for name, labels in layout.labels.items():
        args = []
        for key, value in labels.items():
            args += ["--label-add", f"{key}={value}"]
        if args:
            docker(layout.manager, "node", "update", *args, ids[name], what=f"labelling {name}")


# --- public operations -----------------------------------------------------------------------


def up(workers: int = 2, labels: list[str] | None = None, bridge: str | None = None,
       subnet: str | None = None, *, name: str = DEFAULT_NAME, managers: int = 1,
       with_registry: bool = True, with_ssh: bool = True) -> tuple[LabLayout, list[dict[str, Any]], float]:
    """Start lab `name` afresh (tearing down its own leftovers first); return layout, nodes, seconds taken.

    Only this lab's previous incarnation is torn down: other labs keep running.
    """
    place = lab_place(name)
    make_layout(workers, labels or [], bridge, subnet, name=name, managers=managers)  # bad flags fail first
    host.preflight(registry=with_registry, ssh=with_ssh)
    rootfs = images.rootfs_tar(images.find_busybox())
    started = time.monotonic()
    with _locked(place.lock_file):
        _teardown(read_state(name), place, quiet=False)
        _teardown_layout_names(make_layout(workers, labels or [], bridge, subnet, name=name,
                                           managers=managers), place)
        if time.monotonic() - started > 1:
            _say(f"cleaned up the previous lab {name!r} in {time.monotonic() - started:.1f}s")
        phase = time.monotonic()
        place.run_root.mkdir(parents=True, exist_ok=True)
        place.state_root.mkdir(parents=True, exist_ok=True)
        with _locked(ALLOC_LOCK, "another lab is choosing its network"):
            layout = make_layout(workers, labels or [], bridge, subnet, name=name, managers=managers,
                                 taken=[] if place.is_default else _taken_networks(name),
                                 registry=with_registry, ssh=with_ssh)
            place.state_file.write_text(layout.to_json())
            _say(f"starting lab {name!r}: {len(layout.nodes)} nodes on bridge {layout.bridge} "
                 f"({layout.subnet})")
            _create_network(layout)
        _ensure_docker_sock_placeholder(place)
        with ThreadPoolExecutor(max_workers=1) as side:
            reg = side.submit(registry.start, layout) if with_registry else None
            _parallel(lambda node: _start_node(node, offline=not with_registry), layout.nodes)
            if reg is not None:
                reg.result()
        _say(f"dockerds answering after {time.monotonic() - phase:.1f}s; forming the swarm")
        with ThreadPoolExecutor(max_workers=2) as pool:
            # Built once, on the manager, then copied: the same image IDs on every node.
            imported = pool.submit(_import_images, layout.manager, rootfs)
            sshd = pool.submit(ssh.start, layout) if with_ssh else None
            _form_swarm(layout)
            rows = _wait_ready(layout)
            _apply_labels(layout, rows)
            imported.result()
            if sshd is not None:
                sshd.result()
        with ThreadPoolExecutor(max_workers=1) as side:
            pushed = side.submit(registry.push_images, layout) if with_registry else None
            images.copy_images(layout.manager.host, [n.host for n in layout.nodes[1:]])
            if pushed is not None:
                pushed.result()
        rows = node_table(layout)
    return layout, rows, time.monotonic() - started


def _ensure_docker_sock_placeholder(place: LabPlace) -> None:
    """Nodes share this host's filesystem: a bind source like /var/run/docker.sock must exist."""
    path = DOCKER_SOCK_PLACEHOLDER
    if not os.path.lexists(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        (place.run_root / PLACEHOLDER_MARK).write_text(str(path))


def _remove_docker_sock_placeholder(place: LabPlace) -> None:
    """Remove the placeholder this lab made, unless another lab still runs (its containers may bind it)."""
    if not (place.run_root / PLACEHOLDER_MARK).exists() or [n for n in lab_names() if n != place.name]:
        return
    path = DOCKER_SOCK_PLACEHOLDER
    try:
        if path.is_file() and not path.is_symlink() and path.stat().st_size == 0:
            path.unlink()
    except OSError:
        pass


def down(name: str = DEFAULT_NAME) -> None:
    """Tear down lab `name` and nothing else."""
    place = lab_place(name)
    with _locked(place.lock_file):
        _teardown(read_state(name), place, quiet=False)
        _teardown_layout_names(make_layout(name=name), place)
    if not place.is_default:
        try:
            place.lock_file.unlink()
        except OSError:
            pass
        _remove_empty_bases()


def _remove_empty_bases() -> None:
    """The folders named labs share, once the last one is gone (rmdir fails while anything is in them;
    a lab being brought up holds its lock file in /run/stackctl/labs)."""
    for folder in (NAMED_RUN_BASE, NAMED_RUN_BASE.parent, NAMED_STATE_BASE, NAMED_STATE_BASE.parent,
                   registry.CERTS_D):
        try:
            folder.rmdir()
        except OSError:
            pass


def _teardown_layout_names(layout: LabLayout, place: LabPlace) -> None:
    """Leftovers with this layout's names but no state file (e.g. /run was wiped)."""
    if any(Path(f"/run/netns/{n.netns}").exists() for n in layout.nodes) or any(
        n.run_dir.exists() or n.data_root.exists() for n in layout.nodes
    ) or _link_exists(layout.bridge) and not place.is_default:
        _teardown(layout, place, quiet=True)


def _stop_node(node: LabNode) -> None:
    """Swarm leave, remove every container, then stop dockerd and containerd (slow steps are reported)."""

    def step(what: str, fn: Callable[[], object]) -> None:
        t0 = time.monotonic()
        fn()
        if time.monotonic() - t0 > 3:
            _say(f"{node.name}: {what} took {time.monotonic() - t0:.1f}s")

    if _responds(node):
        step("swarm leave", lambda: docker(node, "swarm", "leave", "--force", check=False, timeout=30))
        ids = docker(node, "ps", "-aq", check=False, timeout=20).stdout.split()
        if ids:
            step(f"removing {len(ids)} containers",
                 lambda: docker(node, "rm", "-f", "-v", *ids, check=False, timeout=60))
    for pidfile, needle in ((node.pidfile, "dockerd"), (node.containerd_pidfile, "containerd")):
        pid = host.read_pid(pidfile)
        if pid and str(node.run_dir) in host.cmdline(pid) and needle in host.cmdline(pid):
            step(f"stopping {needle}", functools.partial(host.stop_pids, [pid], grace=20))


def _lab_netns(place: LabPlace) -> list[str]:
    """Namespaces named like this lab's nodes (the default lab: every `stackctl-*`, as it always did)."""
    names = [line.split()[0] for line in host.run(["ip", "netns", "list"], check=False).stdout.splitlines()
             if line.split()]
    return [n for n in names if place.owns_netns(n)]


def _teardown(layout: LabLayout | None, place: LabPlace, quiet: bool) -> None:
    """Remove everything lab `place` made; safe on a half-built or already-removed lab.

    Containers first, then dockerd (waited for), then leftover shims and mounts: all found by
    this lab's folders and namespaces only, so another lab's processes are never touched.
    """
    nodes = layout.nodes if layout else []
    netns = sorted({n.netns for n in nodes} | set(_lab_netns(place)))
    if nodes and not quiet and any(_responds(n) for n in nodes):
        _say(f"stopping lab {place.name!r}")
    ssh.stop(place)
    _parallel(_stop_node, nodes)
    registry.stop(place)
    roots = [place.run_root, place.state_root]
    leftovers = host.lab_processes(roots, netns)
    if leftovers:
        host.stop_pids(leftovers, grace=5)
    still = host.unmount_all(roots)
    for name in netns:
        host.run(["ip", "netns", "del", name], check=False)
    if layout:
        for node in nodes:
            if _link_exists(node.veth):
                host.run(["ip", "link", "del", node.veth], check=False)
        if _link_exists(layout.bridge):
            host.run(["ip", "link", "del", layout.bridge], check=False)
        _remove_forwarding(layout.bridge)
    registry.forget(place)
    _remove_docker_sock_placeholder(place)
    if still:
        raise LabError("could not unmount: " + ", ".join(still[:5]) + (" ..." if len(still) > 5 else ""))
    for root in roots:
        if root.exists():
            shutil.rmtree(root, ignore_errors=True)


def status_rows(name: str = DEFAULT_NAME) -> tuple[LabLayout, list[dict[str, Any]]]:
    """Lab `name`'s nodes as swarm sees them; LabError when that lab is not up."""
    layout = read_state(name)
    if layout is None or not _responds(layout.manager):
        hint = "" if name == DEFAULT_NAME else f" --name {name}"
        sudo = "" if os.geteuid() == 0 else "sudo "  # root needs no sudo (and may not have it)
        raise LabError(f"the lab {name!r} is not up (start it with: {sudo}stackctl lab up{hint})")
    return layout, node_table(layout)
