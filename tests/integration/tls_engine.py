"""Extra dockerds private to one test: a small swarm beside the shared lab, never touching it.

The shared lab (stackctl/lab) is used by every helper's tests at once, so tests that kill a
daemon, cut a node's link or need a TLS endpoint build their own: a bridge and a subnet of
their own, one network namespace per node (`rl-<tag>-<node>`), a private containerd + dockerd
per node with data-root, exec-root, sockets and pidfiles under folders of their own. The
manager can also listen on TCP with TLS (certificates made here with openssl).
`ExtraSwarm.destroy()` removes everything it made: containers, processes, shims, mounts,
namespaces, links, the iptables rule and the folders.
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from stackctl.lab import host, images
from tests.paths import worker_index

STATE_BASE = Path("/var/lib/stackctl-rl")
RUN_BASE = Path("/run/stackctl-rl")
TLS_PORT = 2376
IPT_COMMENT = "stackctl-rl"


class ExtraEngineError(RuntimeError):
    """The extra engine could not be started (the test errors out with the reason)."""


def _run(args: list[str], *, input: bytes | None = None, check: bool = True, timeout: float = 60,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, input=input, capture_output=True, timeout=timeout,
                          env=env or host.tool_env())
    out = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"),
                                      proc.stderr.decode(errors="replace"))
    if check and out.returncode != 0:
        raise ExtraEngineError(f"{' '.join(args[:6])} failed: {(out.stderr or out.stdout).strip()[-500:]}")
    return out


# --- certificates ------------------------------------------------------------------------------


@dataclass
class CertSet:
    """A CA, a server certificate for `ips` and a client certificate, as docker wants them."""

    folder: Path
    ca: Path = field(init=False)
    ca_key: Path = field(init=False)
    server_cert: Path = field(init=False)
    server_key: Path = field(init=False)
    client_dir: Path = field(init=False)  # DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem

    def __post_init__(self) -> None:
        self.ca, self.ca_key = self.folder / "ca.pem", self.folder / "ca-key.pem"
        self.server_cert, self.server_key = self.folder / "server-cert.pem", self.folder / "server-key.pem"
        self.client_dir = self.folder / "client"


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise ExtraEngineError(f"openssl {args[0]} failed: {proc.stderr.strip()[-400:]}")


def make_ca(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed CA: (cert, key)."""
    folder.mkdir(parents=True, exist_ok=True)
    key, cert = folder / "ca-key.pem", folder / "ca.pem"
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
             "-keyout", str(key), "-out", str(cert), cwd=folder)
    return cert, key


def _signed(folder: Path, stem: str, cn: str, ca: Path, ca_key: Path, ext: str) -> tuple[Path, Path]:
    key, csr, cert = folder / f"{stem}-key.pem", folder / f"{stem}.csr", folder / f"{stem}-cert.pem"
    extfile = folder / f"{stem}.ext"
    extfile.write_text(ext + "\n")
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout", str(key),
             "-out", str(csr), cwd=folder)
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
             "-days", "2", "-extfile", str(extfile), "-out", str(cert), cwd=folder)
    return cert, key


def make_certs(folder: Path, ips: list[str]) -> CertSet:
    """CA + server certificate (SAN: the given IPs) + client certificate in DOCKER_CERT_PATH layout."""
    certs = CertSet(folder)
    make_ca(folder, "stackctl-rl test CA")
    san = ",".join(f"IP:{ip}" for ip in ips)
    _signed(folder, "server", "stackctl-rl engine", certs.ca, certs.ca_key,
            f"subjectAltName={san}\nextendedKeyUsage=serverAuth")
    client_cert, client_key = _signed(folder, "client", "stackctl-rl client", certs.ca, certs.ca_key,
                                      "extendedKeyUsage=clientAuth")
    certs.client_dir.mkdir(exist_ok=True)
    shutil.copy(certs.ca, certs.client_dir / "ca.pem")
    shutil.copy(client_cert, certs.client_dir / "cert.pem")
    shutil.copy(client_key, certs.client_dir / "key.pem")
    return certs


# --- nodes -------------------------------------------------------------------------------------


@dataclass
class ExtraNode:
    name: str
    ip: str
    netns: str
    veth: str
    data_root: Path
    run_dir: Path
    tls: CertSet | None = None
    dockerd_pid: int | None = None
    containerd_pid: int | None = None

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def tcp_host(self) -> str:
        return f"tcp://{self.ip}:{TLS_PORT}"

    @property
    def containerd_socket(self) -> Path:
        return self.run_dir / "containerd" / "containerd.sock"

    def docker(self, *args: str, check: bool = True, timeout: float = 60,
               input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        return _run(["docker", "-H", self.host, *args], check=check, timeout=timeout, input=input)

    def responds(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return self.docker("version", "--format", "{{.Server.Version}}", check=False,
                               timeout=5).returncode == 0
        except subprocess.TimeoutExpired:
            return False


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 under 10.214.0.0/16 that no route of this host overlaps."""
    routes = _run(["ip", "-4", "-o", "route", "show"], check=False).stdout.splitlines()
    taken = []
    for line in routes:
        dest = line.split()[0] if line.split() else ""
        try:
            taken.append(ipaddress.IPv4Network(dest, strict=False))
        except ValueError:
            continue
    index, workers = worker_index()  # parallel test workers never pick the same /24
    candidates = [third for third in range(1, 255) if third % workers == index]
    random.shuffle(candidates)
    for third in candidates:
        net = ipaddress.IPv4Network(f"10.214.{third}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    raise ExtraEngineError("no free /24 under 10.214.0.0/16 for an extra swarm")


class ExtraSwarm:
    """A manager (`m1`) and `workers` workers (`w1`...), each a dockerd in its own netns."""

    def __init__(self, workers: int = 0, tls: bool = False, cert_dir: Path | None = None) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.state_dir = STATE_BASE / self.tag
        self.run_root = RUN_BASE / self.tag
        self.bridge = f"rlb{self.tag}"
        self.subnet = _free_subnet()
        base = self.subnet.network_address
        self.gateway = str(base + 1)
        names = ["m1"] + [f"w{i}" for i in range(1, workers + 1)]
        self.nodes = [
            ExtraNode(name=n, ip=str(base + 10 + i), netns=f"rl-{self.tag}-{n}", veth=f"rl{self.tag}v{i}",
                      data_root=self.state_dir / n, run_dir=self.run_root / n)
            for i, n in enumerate(names)
        ]
        self.certs: CertSet | None = None
        if tls:
            self.certs = make_certs(cert_dir or (self.state_dir / "certs"), [self.manager.ip, "127.0.0.1"])
            self.manager.tls = self.certs
        self._iptables_rule = False

    @property
    def manager(self) -> ExtraNode:
        return self.nodes[0]

    @property
    def workers(self) -> list[ExtraNode]:
        return self.nodes[1:]

    def node(self, name: str) -> ExtraNode:
        return next(n for n in self.nodes if n.name == name)

    def client_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for stackctl/docker on the manager's unix socket (no TLS)."""
        env = {k: v for k, v in (base or os.environ).items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.manager.host
        return env

    def tls_env(self, cert_path: Path | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
        """Environment for talking to the manager over TCP + TLS."""
        assert self.certs is not None
        env = {k: v for k, v in (base or os.environ).items() if not k.startswith("DOCKER_")}
        env.update(DOCKER_HOST=self.manager.tcp_host, DOCKER_TLS_VERIFY="1",
                   DOCKER_CERT_PATH=str(cert_path or self.certs.client_dir))
        return env

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ExtraSwarm:
        try:
            self._create_network()
            for node in self.nodes:
                self.start_node(node)
            rootfs = images.rootfs_tar(images.find_busybox())
            busybox = images.IMAGES[0]
            for node in self.nodes:
                node.docker("import", *images.import_args(busybox), "-", busybox.name, input=rootfs)
            self._form_swarm()
        except BaseException:
            self.destroy()
            raise
        return self

    def _create_network(self) -> None:
        plen = self.subnet.prefixlen
        batch = [f"link add {self.bridge} type bridge", f"addr add {self.gateway}/{plen} dev {self.bridge}",
                 f"link set {self.bridge} up"]
        for node in self.nodes:
            batch += [f"netns add {node.netns}",
                      f"link add {node.veth} type veth peer name eth0 netns {node.netns}",
                      f"link set {node.veth} master {self.bridge} up"]
        _run(["ip", "-batch", "-"], input=("\n".join(batch) + "\n").encode())
        for node in self.nodes:
            _run(["ip", "-n", node.netns, "-batch", "-"],
                 input=f"link set lo up\naddr add {node.ip}/{plen} dev eth0\nlink set eth0 up\n".encode())
        rules = _run(["iptables", "-S", "FORWARD"], check=False)
        if rules.returncode == 0 and "-P FORWARD DROP" in rules.stdout:
            _run(["iptables", "-I", "FORWARD", "-i", self.bridge, "-o", self.bridge, "-m", "comment",
                  "--comment", IPT_COMMENT, "-j", "ACCEPT"])
            self._iptables_rule = True

    def _in_node(self, node: ExtraNode, *argv: str) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{node.netns}", "unshare", "--uts", "--",
                "sh", "-c", 'hostname "$0" && exec "$@"', f"rl-{node.name}", *argv]

    def _spawn(self, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
        env = host.tool_env()
        env["DOCKER_SERVICE_PREFER_OFFLINE_IMAGE"] = "1"
        with open(log, "ab") as fh:
            return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                    env=env, start_new_session=True, close_fds=True, cwd="/")

    def start_node(self, node: ExtraNode) -> None:
        """containerd (once) and dockerd of one node; returns when dockerd answers."""
        for d in (node.data_root, node.run_dir / "exec", node.containerd_socket.parent):
            d.mkdir(parents=True, exist_ok=True)
        if node.containerd_pid is None or not host.pid_alive(node.containerd_pid):
            conf = node.run_dir / "containerd.toml"
            conf.write_text("\n".join([
                "version = 2", f'root = "{node.data_root / "containerd"}"',
                f'state = "{node.run_dir / "containerd" / "state"}"',
                'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
                "[grpc]", f'  address = "{node.containerd_socket}"', "[ttrpc]", '  address = ""',
                "[debug]", '  address = ""', '  level = "warn"', "[metrics]", '  address = ""', ""]))
            proc = self._spawn(self._in_node(node, "containerd", "--config", str(conf)),
                               node.run_dir / "containerd.log")
            node.containerd_pid = proc.pid
            self._wait(node.containerd_socket.exists, 20, f"containerd of {node.name}", proc,
                       node.run_dir / "containerd.log")
        args = ["dockerd", "--data-root", str(node.data_root), "--exec-root", str(node.run_dir / "exec"),
                "-H", node.host, "--pidfile", str(node.run_dir / "docker.pid"),
                "--containerd", str(node.containerd_socket), "--log-level", "warn"]
        if node.tls is not None:
            args += ["--tlsverify", "--tlscacert", str(node.tls.ca), "--tlscert", str(node.tls.server_cert),
                     "--tlskey", str(node.tls.server_key), "-H", node.tcp_host]
        proc = self._spawn(self._in_node(node, *args), node.run_dir / "dockerd.log")
        node.dockerd_pid = proc.pid
        self._wait(node.responds, 40, f"dockerd of {node.name}", proc, node.run_dir / "dockerd.log")

    @staticmethod
    def _wait(cond, timeout: float, what: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log.exists() else []
        raise ExtraEngineError(f"{what} did not start: " + " | ".join(tail))

    def _form_swarm(self) -> None:
        mgr = self.manager
        mgr.docker("swarm", "init", "--advertise-addr", mgr.ip, "--listen-addr", f"{mgr.ip}:2377")
        if not self.workers:
            return
        token = mgr.docker("swarm", "join-token", "-q", "worker").stdout.strip()
        for node in self.workers:
            node.docker("swarm", "join", "--token", token, "--advertise-addr", node.ip,
                        "--listen-addr", f"{node.ip}:2377", f"{mgr.ip}:2377")
        self.wait_nodes_ready(60)

    def node_states(self) -> dict[str, str]:
        """hostname -> swarm state, as the manager sees it."""
        ids = self.manager.docker("node", "ls", "-q", timeout=20).stdout.split()
        data = json.loads(self.manager.docker("node", "inspect", *ids, timeout=20).stdout)
        return {n["Description"]["Hostname"]: n["Status"]["State"] for n in data}

    def wait_nodes_ready(self, timeout: float) -> None:
        want = {f"rl-{n.name}" for n in self.nodes}
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            states = self.node_states()
            if all(states.get(h) == "ready" for h in want):
                return
            time.sleep(0.5)
        raise ExtraEngineError(f"nodes not ready after {timeout:.0f}s: {states}")

    # --- faults ------------------------------------------------------------------------------

    def kill_dockerd(self, node: ExtraNode, sig: int = 9) -> None:
        """Kill a node's dockerd (containerd and its containers live on, as after a daemon crash)."""
        pid = host.read_pid(node.run_dir / "docker.pid") or node.dockerd_pid
        if pid and host.pid_alive(pid):
            os.kill(pid, sig)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and host.pid_alive(pid):
                time.sleep(0.05)
        (node.run_dir / "docker.pid").unlink(missing_ok=True)

    def stop_dockerd(self, node: ExtraNode) -> None:
        pid = host.read_pid(node.run_dir / "docker.pid") or node.dockerd_pid
        if pid:
            host.stop_pids([pid], grace=20)

    def link(self, node: ExtraNode, up: bool) -> None:
        """Cut (or restore) a node's only link: its veth on the bridge."""
        _run(["ip", "link", "set", node.veth, "up" if up else "down"])

    # --- teardown ----------------------------------------------------------------------------

    def destroy(self) -> None:
        """Remove everything: containers, daemons, shims, mounts, namespaces, links, folders."""
        for node in self.nodes:
            try:
                if node.responds():
                    node.docker("swarm", "leave", "--force", check=False, timeout=30)
                    ids = node.docker("ps", "-aq", check=False, timeout=20).stdout.split()
                    if ids:
                        node.docker("rm", "-f", "-v", *ids, check=False, timeout=60)
            except subprocess.TimeoutExpired:
                pass
            pids = [p for p in (host.read_pid(node.run_dir / "docker.pid"), node.dockerd_pid,
                                node.containerd_pid) if p]
            host.stop_pids(pids, grace=20)
        roots = [self.run_root, self.state_dir]
        leftovers = host.lab_processes(roots, [n.netns for n in self.nodes])
        if leftovers:
            host.stop_pids(leftovers, grace=5)
        still = host.unmount_all(roots)
        for node in self.nodes:
            _run(["ip", "netns", "del", node.netns], check=False)
            _run(["ip", "link", "del", node.veth], check=False)
        _run(["ip", "link", "del", self.bridge], check=False)
        if self._iptables_rule:
            _run(["iptables", "-D", "FORWARD", "-i", self.bridge, "-o", self.bridge, "-m", "comment",
                  "--comment", IPT_COMMENT, "-j", "ACCEPT"], check=False)
        if not still:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            shutil.rmtree(self.run_root, ignore_errors=True)
        if still:
            raise ExtraEngineError(f"could not unmount {still[:3]}")
        for base in (STATE_BASE, RUN_BASE):
            try:
                base.rmdir()  # only when no other extra swarm is using it
            except OSError:
                pass

    def leftovers(self) -> list[str]:
        """What destroy() should have removed and did not (for the test to assert on)."""
        out: list[str] = []
        roots = [self.run_root, self.state_dir]
        out += [f"process {p}" for p in host.lab_processes(roots, [n.netns for n in self.nodes])]
        out += [f"mount {m}" for m in host.mounts_under(roots)]
        netns = _run(["ip", "netns", "list"], check=False).stdout
        out += [f"netns {n.netns}" for n in self.nodes if n.netns in netns]
        if _run(["ip", "link", "show", "dev", self.bridge], check=False).returncode == 0:
            out.append(f"bridge {self.bridge}")
        out += [f"folder {p}" for p in roots if p.exists()]
        return out
