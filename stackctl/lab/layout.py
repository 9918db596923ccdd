"""Where a lab lives: node names, addresses, namespaces, folders, and its state file.

Pure data, no side effects: `up`, `down` and `status` all derive every name and path
from a `LabLayout`, and `up` writes it to `state.json` before creating anything, so
`down` can always find what a (possibly half-finished) `up` made.

Several labs can run side by side, each under its own name. The lab named `default`
keeps the historical places (/run/stackctl-lab/mgr-1/docker.sock, bridge stackctl0,
10.213.47.0/24, namespaces stackctl-*) that scripts and tests know by heart; any other
name lives under /run/stackctl/labs/NAME and /var/lib/stackctl/labs/NAME (never inside
the default lab's folders, so the default lab's cleanup cannot reach it), with netns
`stk-NAME-NODE`, bridge `stk-NAME` and a /24 of 10.213.0.0/16 picked from its name.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
from collections.abc import Sequence
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
DEFAULT_NAME = "default"

NAMED_RUN_BASE = Path("/run/stackctl/labs")
NAMED_STATE_BASE = Path("/var/lib/stackctl/labs")
NAMED_SUBNETS = ipaddress.IPv4Network("10.213.0.0/16")
REGISTRY_PORT = 5000
MANAGER_COUNTS = (1, 3, 5)

_IFNAME = re.compile(r"^[A-Za-z0-9_.-]{1,10}$")
_LAB_NAME = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,18}[a-z0-9])?$")
_LABEL = re.compile(r"^(?P<node>[a-z0-9-]+):(?P<key>[A-Za-z0-9_.-]+)=(?P<value>.*)$")


@dataclass(frozen=True)
class LabNode:
    """One dockerd: its swarm role, hostname, address and private folders."""

    name: str
    role: str  # "manager" | "worker"
    ip: str
    veth: str  # host side of the veth pair; the namespace side is eth0
    # The lab's folders and netns prefix; the defaults are the default lab's (older state files lack them).
    run_root: str = str(RUN_ROOT)
    state_root: str = str(STATE_ROOT)
    netns_prefix: str = NETNS_PREFIX

    @property
    def netns(self) -> str:
        return self.netns_prefix + self.name

    @property
    def data_root(self) -> Path:
        return Path(self.state_root) / self.name

    @property
    def run_dir(self) -> Path:
        return Path(self.run_root) / self.name

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


@dataclass(frozen=True)
class LabPlace:
    """Everything a lab's name decides: folders, lock, netns prefix and default bridge."""

    name: str
    run_root: Path
    state_root: Path
    netns_prefix: str
    bridge: str
    lock_file: Path

    @property
    def state_file(self) -> Path:
        return self.run_root / "state.json"

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_NAME

    def owns_netns(self, netns: str) -> bool:
        """Whether a namespace is one of this lab's nodes'. The default lab owns every `stackctl-*`
        (as it always did); a named lab exactly `stk-NAME-mgr-N` / `stk-NAME-wrk-N`, never those of a
        lab whose name merely starts with NAME."""
        if self.is_default:
            return netns.startswith(NETNS_PREFIX)
        return re.fullmatch(re.escape(self.netns_prefix) + r"(mgr|wrk)-\d+", netns) is not None


def check_name(name: str) -> str:
    if name != DEFAULT_NAME and not _LAB_NAME.match(name):
        raise LabError(f"invalid lab name {name!r}: use 1-20 lowercase letters, digits and '-' "
                       "(not at either end)")
    return name


def lab_place(name: str = DEFAULT_NAME) -> LabPlace:
    """Where the lab called `name` lives; `default` keeps the legacy places."""
    check_name(name)
    if name == DEFAULT_NAME:
        return LabPlace(name, RUN_ROOT, STATE_ROOT, NETNS_PREFIX, DEFAULT_BRIDGE, LOCK_FILE)
    # An interface name has at most 15 characters and the veths add up to 3: long names are hashed.
    bridge = f"stk-{name}" if len(name) <= 6 else "stk" + hashlib.sha256(name.encode()).hexdigest()[:7]
    return LabPlace(name, NAMED_RUN_BASE / name, NAMED_STATE_BASE / name, f"stk-{name}-", bridge,
                    NAMED_RUN_BASE / f"{name}.lock")


def named_subnet(name: str, taken: Sequence[ipaddress.IPv4Network] = ()) -> str:
    """A /24 of 10.213.0.0/16 chosen from the name, skipping the default lab's and any taken one."""
    default = ipaddress.IPv4Network(DEFAULT_SUBNET)
    nets = list(NAMED_SUBNETS.subnets(new_prefix=24))
    start = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) % len(nets)
    for k in range(len(nets)):
        net = nets[(start + k) % len(nets)]
        if net.overlaps(default) or any(net.overlaps(t) for t in taken):
            continue
        return str(net)
    raise LabError(f"no free /24 left in {NAMED_SUBNETS} for lab {name!r}: choose one with --subnet")


@dataclass
class LabLayout:
    """The whole lab: bridge, subnet, nodes and node labels (plus its registry and ssh, once up)."""

    bridge: str
    subnet: str
    nodes: list[LabNode]
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    name: str = DEFAULT_NAME
    registry: bool = False  # runs a registry on the bridge address (older state files: none)
    ssh: bool = False  # runs sshd in every manager's namespace

    @property
    def place(self) -> LabPlace:
        return lab_place(self.name)

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
    def managers(self) -> list[LabNode]:
        return [n for n in self.nodes if n.role == "manager"]

    @property
    def workers(self) -> list[LabNode]:
        return [n for n in self.nodes if n.role == "worker"]

    @property
    def registry_address(self) -> str:
        """HOST:PORT of the lab registry (empty when the lab runs none)."""
        return f"{self.gateway}:{REGISTRY_PORT}" if self.registry else ""

    def node(self, name: str) -> LabNode:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def to_json(self) -> str:
        return json.dumps(
            {"name": self.name, "bridge": self.bridge, "subnet": self.subnet, "labels": self.labels,
             "registry": self.registry, "ssh": self.ssh, "nodes": [asdict(n) for n in self.nodes]},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> LabLayout:
        data = json.loads(text)
        return cls(bridge=data["bridge"], subnet=data["subnet"], labels=data.get("labels") or {},
                   nodes=[LabNode(**n) for n in data["nodes"]], name=data.get("name") or DEFAULT_NAME,
                   registry=bool(data.get("registry")), ssh=bool(data.get("ssh")))


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
    *,
    name: str = DEFAULT_NAME,
    managers: int = 1,
    taken: Sequence[ipaddress.IPv4Network] = (),
    registry: bool = False,
    ssh: bool = False,
) -> LabLayout:
    """Names and addresses for a lab: flags win over STACKCTL_LAB_* variables over defaults.

    The variables apply to the default lab only: two named labs must never get the same
    bridge or subnet from one environment. `taken` lists networks a named lab must avoid.
    """
    env = os.environ if environ is None else environ
    place = lab_place(name)
    if place.is_default:
        bridge = bridge or env.get("STACKCTL_LAB_BRIDGE") or place.bridge
        subnet = subnet or env.get("STACKCTL_LAB_SUBNET") or DEFAULT_SUBNET
    else:
        bridge = bridge or place.bridge
        subnet = subnet or named_subnet(name, taken)
    if not _IFNAME.match(bridge):
        raise LabError(f"invalid bridge name {bridge!r}: use 1-10 letters, digits, '-', '_' or '.'")
    try:
        net = ipaddress.IPv4Network(subnet, strict=False)
    except ValueError as err:
        raise LabError(f"invalid subnet {subnet!r}: {err}") from None
    if managers not in MANAGER_COUNTS:
        raise LabError(f"invalid --managers {managers}: use 1, 3 or 5 "
                       "(an even count adds no fault tolerance)")
    if not 0 <= workers <= 20:
        raise LabError(f"invalid --workers {workers}: use 0 to 20")
    if net.num_addresses < 32 + managers + workers:
        raise LabError(f"subnet {net} is too small: use a /26 or larger (a /24 is the default)")
    base = net.network_address
    names = [f"mgr-{i}" for i in range(1, managers + 1)] + [f"wrk-{i}" for i in range(1, workers + 1)]
    nodes = [
        LabNode(name=node, role="manager" if node.startswith("mgr-") else "worker", ip=str(base + 10 + i),
                veth=f"{bridge}v{i}", run_root=str(place.run_root), state_root=str(place.state_root),
                netns_prefix=place.netns_prefix)
        for i, node in enumerate(names)
    ]
    defaults = [spec for spec in DEFAULT_LABELS if spec.split(":", 1)[0] in names]
    return LabLayout(bridge=bridge, subnet=str(net), nodes=nodes,
                     labels=parse_labels(list(defaults) + list(labels), names), name=name,
                     registry=registry, ssh=ssh)


def read_state(name: str = DEFAULT_NAME) -> LabLayout | None:
    """The layout the last `up` of lab `name` recorded, or None when there is none."""
    try:
        layout = LabLayout.from_json(lab_place(name).state_file.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return layout if layout.name == name else None


def lab_names() -> list[str]:
    """Every lab with a state file on this machine (the default one first)."""
    names = [DEFAULT_NAME] if STATE_FILE.exists() else []
    try:
        names += sorted(p.parent.name for p in NAMED_RUN_BASE.glob("*/state.json"))
    except OSError:
        pass
    return names
