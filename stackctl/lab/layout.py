"""Where the lab lives: node names, addresses, namespaces, folders, and its state file.

Pure data, no side effects: `up`, `down` and `status` all derive every name and path
from a `LabLayout`, and `up` writes it to `state.json` before creating anything, so
`down` can always find what a (possibly half-finished) `up` made.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from stackctl.errors import LabError

STATE_ROOT = Path("/var/lib/stackctl-lab")
RUN_ROOT = Path("/run/stackctl-lab")
STATE_FILE = RUN_ROOT / "state.json"
LOCK_FILE = Path("/run/stackctl-lab.lock")

DEFAULT_BRIDGE = "stackctl0"
DEFAULT_SUBNET = "10.213.47.0/24"
MANAGER = "mgr-1"
MANAGER_HOST = f"unix://{RUN_ROOT}/{MANAGER}/docker.sock"
NETNS_PREFIX = "stackctl-"
DEFAULT_LABELS = ("wrk-1:pcidss=yes",)

_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,10}$")
_LABEL = re.compile(r"^(?P<node>[a-z0-9-]+):(?P<key>[A-Za-z0-9_.-]+)=(?P<value>.*)$")


@dataclass(frozen=True)
class LabNode:
    """One dockerd: its swarm role, hostname, address and private folders."""

    name: str
    role: str  # "manager" | "worker"
    ip: str
    veth: str  # host side of the veth pair; the namespace side is eth0

    @property
    def netns(self) -> str:
        return NETNS_PREFIX + self.name

    @property
    def data_root(self) -> Path:
        return STATE_ROOT / self.name

    @property
    def run_dir(self) -> Path:
        return RUN_ROOT / self.name

    @property
    def exec_root(self) -> Path:
        return self.run_dir / "exec"

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "docker.pid"

    @property
    def containerd_dir(self) -> Path:
        return self.run_dir / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_dir / "containerd.sock"

    @property
    def containerd_pidfile(self) -> Path:
        return self.run_dir / "containerd.pid"

    @property
    def log(self) -> Path:
        return self.run_dir / "dockerd.log"

    @property
    def containerd_log(self) -> Path:
        return self.run_dir / "containerd.log"


@dataclass
class LabLayout:
    """The whole lab: bridge, subnet, nodes and node labels."""

    bridge: str
    subnet: str
    nodes: list[LabNode]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def gateway(self) -> str:
        """The host's address on the bridge."""
        return str(self.network.network_address + 1)

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    @property
    def manager(self) -> LabNode:
        return self.nodes[0]

    @property
    def workers(self) -> list[LabNode]:
        return self.nodes[1:]

    def node(self, name: str) -> LabNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def to_json(self) -> str:
        return json.dumps(
            {"bridge": self.bridge, "subnet": self.subnet, "labels": self.labels,
             "nodes": [asdict(n) for n in self.nodes]},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> LabLayout:
        data = json.loads(text)
        return cls(bridge=data["bridge"], subnet=data["subnet"], labels=data.get("labels") or {},
                   nodes=[LabNode(**n) for n in data["nodes"]])


def parse_labels(specs: list[str] | tuple[str, ...], node_names: list[str]) -> dict[str, dict[str, str]]:
    """`NODE:KEY=VALUE` strings → {node: {key: value}}; unknown nodes are an error."""
    out: dict[str, dict[str, str]] = {}
    for spec in specs:
        m = _LABEL.match(spec)
        if not m:
            raise LabError(f"invalid --label {spec!r}: expected NODE:KEY=VALUE (e.g. wrk-1:pcidss=yes)")
        if m["node"] not in node_names:
            raise LabError(f"invalid --label {spec!r}: no node {m['node']!r} in this lab "
                           f"(nodes: {', '.join(node_names)})")
        out.setdefault(m["node"], {})[m["key"]] = m["value"]
    return out


def make_layout(
    workers: int = 2,
    labels: list[str] | tuple[str, ...] = (),
    bridge: str | None = None,
    subnet: str | None = None,
    environ: dict[str, str] | None = None,
) -> LabLayout:
    """Names and addresses for a lab: flags win over STACKCTL_LAB_* variables over defaults."""
    env = os.environ if environ is None else environ
    bridge = bridge or env.get("STACKCTL_LAB_BRIDGE") or DEFAULT_BRIDGE
    subnet = subnet or env.get("STACKCTL_LAB_SUBNET") or DEFAULT_SUBNET
    if not _IFNAME.match(bridge):
        raise LabError(f"invalid bridge name {bridge!r}: use 1-10 letters, digits, '-', '_' or '.'")
    try:
        net = ipaddress.IPv4Network(subnet, strict=False)
    except ValueError as err:
        raise LabError(f"invalid subnet {subnet!r}: {err}") from None
    if not 0 <= workers <= 20:
        raise LabError(f"invalid --workers {workers}: use 0 to 20")
    if net.num_addresses < 32 + workers:
        raise LabError(f"subnet {net} is too small: use a /26 or larger (a /24 is the default)")
    base = net.network_address
    names = [MANAGER] + [f"wrk-{i}" for i in range(1, workers + 1)]
    nodes = [
        LabNode(name=name, role="manager" if i == 0 else "worker", ip=str(base + 10 + i),
                veth=f"{bridge}v{i}")
        for i, name in enumerate(names)
    ]
    defaults = [spec for spec in DEFAULT_LABELS if spec.split(":", 1)[0] in names]
    return LabLayout(bridge=bridge, subnet=str(net), nodes=nodes,
                     labels=parse_labels(list(defaults) + list(labels), names))


def read_state() -> LabLayout | None:
    """The layout the last `up` recorded, or None when there is none."""
    try:
        return LabLayout.from_json(STATE_FILE.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
