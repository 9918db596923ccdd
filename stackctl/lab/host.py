"""Host-side plumbing for the lab: commands, preflight checks, processes and mounts."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from stackctl.errors import LabError

# binary -> Debian package that provides it
REQUIRED_TOOLS: dict[str, str] = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "iptables": "iptables",
    "dockerd": "docker.io",
    "containerd": "containerd (docker.io depends on it)",
    "containerd-shim-runc-v2": "containerd",
    "runc": "runc (docker.io depends on it)",
    "docker": "docker.io (or docker-ce-cli)",
    "umount": "mount",
}
# Needed only by the lab's registry and its ssh access (`lab up --no-registry --no-ssh` runs without).
REGISTRY_TOOLS: dict[str, str] = {"docker-registry": "docker-registry", "htpasswd": "apache2-utils",
                                  "openssl": "openssl"}
SSH_TOOLS: dict[str, str] = {"sshd": "openssh-server", "ssh-keygen": "openssh-client",
                             "ssh": "openssh-client"}

SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def tool_env() -> dict[str, str]:
    """The environment for lab commands: sbin on PATH, no DOCKER_* leaking in from the caller."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["PATH"] = SBIN_PATH + ":" + env.get("PATH", "")
    return env


def which(tool: str) -> str | None:
    return shutil.which(tool, path=tool_env()["PATH"])


def preflight(euid: int | None = None, finder: Callable[[str], str | None] = which, registry: bool = False,
              ssh: bool = False) -> None:
    """Say at once everything that stops the lab from running here."""
    problems: list[str] = []
    if (os.geteuid() if euid is None else euid) != 0:
        problems.append("the lab needs root (network namespaces, bridges, dockerd): run it with sudo")
    tools = dict(REQUIRED_TOOLS)
    tools.update(REGISTRY_TOOLS if registry else {})
    tools.update(SSH_TOOLS if ssh else {})
    missing = [(tool, pkg) for tool, pkg in tools.items() if not finder(tool)]
    for tool, pkg in missing:
        problems.append(f"'{tool}' not found on PATH (install {pkg})")
    if not Path("/proc/self/ns/net").exists():
        problems.append("this kernel has no network namespaces (/proc/self/ns/net missing)")
    if problems:
        raise LabError("cannot run the lab on this machine:\n  - " + "\n  - ".join(problems))


def run(
    args: Sequence[str],
    *,
    input: bytes | str | None = None,
    check: bool = True,
    timeout: float = 60,
    what: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command (`env` added to tool_env()); on failure raise LabError quoting its stderr."""
    data = input.encode() if isinstance(input, str) else input
    full_env = tool_env()
    full_env.update(env or {})
    try:
        proc = subprocess.run(list(args), input=data, capture_output=True, timeout=timeout, env=full_env)
    except FileNotFoundError:
        raise LabError(f"'{args[0]}' not found (is it installed?)") from None
    except subprocess.TimeoutExpired:
        raise LabError(f"{what or ' '.join(args)}: timed out after {timeout:.0f}s") from None
    out = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(errors="replace"),
                                      proc.stderr.decode(errors="replace"))
    if check and out.returncode != 0:
        detail = (out.stderr or out.stdout).strip().splitlines()
        last = detail[-1] if detail else f"exit {out.returncode}"
        raise LabError(f"{what or ' '.join(args)} failed: {last}")
    return out


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def read_pid(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def stop_pids(pids: Iterable[int], grace: float = 15.0) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL whatever is left."""
    pids = [p for p in set(pids) if p > 1 and p != os.getpid() and pid_alive(p)]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.1)
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)


def _own_ancestry() -> set[int]:
    """This process and its parents: never to be killed by a cleanup sweep."""
    pids, pid = set(), os.getpid()
    while pid > 1:
        pids.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return pids


LAB_DAEMONS = ("containerd", "dockerd", "docker-", "runc", "sshd")  # docker-registry, docker-proxy too


def mentions_folder(cmd: str, roots: Sequence[Path]) -> bool:
    """True when a command line names one of `roots` or a path below it (never a sibling that merely
    shares the prefix: /run/stackctl/labs/a is not in `... /run/stackctl/labs/ab/x`)."""
    padded = cmd + " "
    return any(f"{r}/" in padded or f"{r} " in padded for r in map(str, roots))


def lab_processes(roots: Sequence[Path], netns_names: Sequence[str]) -> list[int]:
    """Leftovers of a lab: containerd/docker/runc processes naming its folders, processes in its
    network namespaces, and processes whose root directory lies under its folders (containers)."""
    root_strs = [str(r) for r in roots]
    ns_inodes: set[int] = set()
    for name in netns_names:
        try:
            ns_inodes.add(os.stat(f"/run/netns/{name}").st_ino)
        except OSError:
            pass
    mine = _own_ancestry()
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        if pid in mine:
            continue
        cmd = cmdline(pid)
        exe = cmd.split(" ", 1)[0].rsplit("/", 1)[-1]
        if mentions_folder(cmd, roots) and exe.startswith(LAB_DAEMONS):
            found.append(pid)
            continue
        try:
            if ns_inodes and os.stat(f"/proc/{pid}/ns/net").st_ino in ns_inodes:
                found.append(pid)
                continue
            root = os.readlink(f"/proc/{pid}/root")
            if any(root == r or root.startswith(r + "/") for r in root_strs):
                found.append(pid)
        except OSError:
            continue
    return found


def in_netns(netns: str, hostname: str, *argv: str) -> list[str]:
    """argv run inside a network namespace with its own hostname (`nsenter --net`, not `ip netns exec`:
    that one remounts /sys and hides the cgroup mounts dockerd needs)."""
    return ["nsenter", f"--net=/run/netns/{netns}", "unshare", "--uts", "--",
            "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *argv]


def spawn(argv: list[str], log: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start a long-running daemon in its own session, its output appended to `log`.

    Without the caller's proxy variables: a lab daemon talks to the lab only (a dockerd that sent its
    pulls from the lab registry to an HTTPS_PROXY would fail them)."""
    env = {k: v for k, v in tool_env().items() if not k.lower().endswith("_proxy")}
    env.update(extra_env or {})
    with open(log, "ab") as fh:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True, close_fds=True, cwd="/")


def wait_for(cond: Callable[[], bool], timeout: float, what: str,
              proc: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = ""
    if log is not None and log.exists():
        lines = log.read_text(errors="replace").strip().splitlines()[-5:]
        tail = "\n  " + "\n  ".join(lines) if lines else ""
    state = "exited" if proc is not None and proc.poll() is not None else f"not ready after {timeout:.0f}s"
    raise LabError(f"{what} {state}{(' (log: ' + str(log) + ')') if log else ''}{tail}")


def _unescape_mount(path: str) -> str:
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mount_points_under(mountinfo: str, roots: Sequence[Path]) -> list[str]:
    """Mount points in a /proc/self/mountinfo text at or below any of `roots`, deepest first."""
    root_strs = [str(r) for r in roots]
    points: list[str] = []
    for line in mountinfo.splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        point = _unescape_mount(fields[4])
        if any(point == r or point.startswith(r + "/") for r in root_strs):
            points.append(point)
    return sorted(set(points), key=lambda p: (-p.count("/"), p))


def mounts_under(roots: Sequence[Path]) -> list[str]:
    try:
        return mount_points_under(Path("/proc/self/mountinfo").read_text(), roots)
    except OSError:
        return []


def unmount_all(roots: Sequence[Path]) -> list[str]:
    """Lazily unmount everything below `roots`, deepest first; return what is still mounted."""
    for _ in range(4):
        points = mounts_under(roots)
        if not points:
            return []
        for point in points:
            run(["umount", "-l", point], check=False, timeout=20)
    return mounts_under(roots)
