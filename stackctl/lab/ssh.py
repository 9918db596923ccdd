"""ssh to the lab's managers: one `sshd` per manager, in its namespace, that only the lab key opens.

A CI job usually reaches a swarm with `DOCKER_HOST=ssh://user@manager`: the docker CLI runs
`ssh HOST docker system dial-stdio`. Each manager's sshd sets DOCKER_HOST in its sessions to
that manager's socket (sshd_config `SetEnv`), so the remote `docker` talks to the right
dockerd on this shared machine. The client side needs nothing but the system ssh: the lab
writes its key, a known_hosts with its host key, and an ssh_config snippet naming both in
/etc/ssh/ssh_config.d/ (Debian's ssh_config includes that folder), so
`DOCKER_HOST=ssh://root@MANAGER_IP docker ps` works as is, with strict host key checking.
"""

from __future__ import annotations

import functools
import socket
from dataclasses import dataclass
from pathlib import Path

from stackctl.lab import host
from stackctl.lab.layout import LabLayout, LabNode, LabPlace

SSH_CONFIG_D = Path("/etc/ssh/ssh_config.d")
PRIVSEP_DIR = Path("/run/sshd")  # sshd refuses to start without it (systemd makes it; we are not systemd)
PORT = 22
START_TIMEOUT = 15.0


@dataclass(frozen=True)
class SshFiles:
    folder: Path
    lab: str

    @classmethod
    def of(cls, place: LabPlace) -> SshFiles:
        return cls(place.run_root / "ssh", place.name)

    key = property(lambda self: self.folder / "id_ed25519")  # the client key
    host_key = property(lambda self: self.folder / "ssh_host_ed25519_key")
    authorized_keys = property(lambda self: self.folder / "authorized_keys")
    known_hosts = property(lambda self: self.folder / "known_hosts")
    client_config = property(lambda self: SSH_CONFIG_D / f"stackctl-lab-{self.lab}.conf")

    def sshd_config(self, node: LabNode) -> Path:
        return self.folder / f"sshd-{node.name}.conf"

    def pidfile(self, node: LabNode) -> Path:
        return self.folder / f"sshd-{node.name}.pid"

    def log(self, node: LabNode) -> Path:
        return self.folder / f"sshd-{node.name}.log"


def sshd_config_text(files: SshFiles, node: LabNode) -> str:
    return "\n".join([
        f"ListenAddress {node.ip}:{PORT}",
        f"HostKey {files.host_key}",
        f"PidFile {files.pidfile(node)}",
        f"AuthorizedKeysFile {files.authorized_keys}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "X11Forwarding no",
        "PrintMotd no",
        "AcceptEnv LANG LC_*",
        f"SetEnv DOCKER_HOST={node.host}",
        "",
    ])


def client_config_text(files: SshFiles, layout: LabLayout) -> str:
    ips = " ".join(n.ip for n in layout.managers)
    return "\n".join([
        f"# stackctl lab {layout.name!r}: removed by `stackctl lab down --name {layout.name}`",
        f"Host {ips}",
        f"  IdentityFile {files.key}",
        "  IdentitiesOnly yes",
        f"  UserKnownHostsFile {files.known_hosts}",
        "  StrictHostKeyChecking yes",
        "  BatchMode yes",
        "  ConnectTimeout 10",
        "",
    ])


def _keygen(path: Path, comment: str) -> None:
    host.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
             what="making an ssh key")


def _listening(ip: str) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((ip, PORT)) == 0


def start(layout: LabLayout) -> None:
    """Keys, known_hosts, client config; then sshd in every manager's namespace, waited for."""
    files = SshFiles.of(layout.place)
    files.folder.mkdir(parents=True, exist_ok=True)
    PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    _keygen(files.key, f"stackctl-lab-{layout.name}")
    _keygen(files.host_key, f"stackctl-lab-{layout.name}-host")
    files.authorized_keys.write_text(Path(f"{files.key}.pub").read_text())
    host_pub = " ".join(Path(f"{files.host_key}.pub").read_text().split()[:2])
    files.known_hosts.write_text("".join(f"{n.ip} {host_pub}\n" for n in layout.managers))
    SSH_CONFIG_D.mkdir(parents=True, exist_ok=True)
    files.client_config.write_text(client_config_text(files, layout))
    for node in layout.managers:
        conf = files.sshd_config(node)
        conf.write_text(sshd_config_text(files, node))
        proc = host.spawn(host.in_netns(node.netns, node.name, "/usr/sbin/sshd", "-D", "-e", "-f", str(conf)),
                          files.log(node))
        host.wait_for(functools.partial(_listening, node.ip), START_TIMEOUT, f"sshd of {node.name}", proc,
                      files.log(node))


def stop(place: LabPlace) -> None:
    """Stop this lab's sshds (by their pidfiles and config paths) and remove its client config."""
    files = SshFiles.of(place)
    pids = []
    for pidfile in files.folder.glob("sshd-*.pid") if files.folder.exists() else []:
        pid = host.read_pid(pidfile)
        if pid and str(files.folder) in host.cmdline(pid):
            pids.append(pid)
    if pids:
        host.stop_pids(pids, grace=5)
    try:
        files.client_config.unlink()
    except OSError:
        pass
