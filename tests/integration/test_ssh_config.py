"""ssh:// as the user's ssh configuration says, side by side with the docker CLI (issue 23).

stackctl reaches ssh:// hosts through the system `ssh`, as `docker` does, so every setting of the
user's ssh configuration applies: strict host key checking off with a throwaway known_hosts, a
ProxyJump through another namespace of the lab, `Include`, host aliases with their User. A changed
host key, an unknown one and a key the server refuses fail in one line naming the cause.

The user's configuration is a file of the test's own: an `ssh` first on PATH runs the system ssh
with `-F FILE`, for stackctl and docker alike. (OpenSSH reads ~/.ssh/config from the home of the
passwd entry, never from $HOME, so a temporary HOME would not be read; the test never touches the
real user's files.) The lab is a named one of this module's own: 3 managers (sshd on each, in its
own network namespace), no workers, no registry.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.lab import ssh
from stackctl.lab.layout import LabLayout
from tests.integration.named_lab import own_lab, run_docker, run_stackctl

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lab() -> Iterator[LabLayout]:
    yield from own_lab("s", "--managers", "3", "--workers", "0", "--no-registry")


def _users_ssh(tmp_path: Path, config: str, host: str) -> dict[str, str]:
    """The environment of a user whose ssh configuration is `config` and whose DOCKER_HOST is `host`."""
    folder = tmp_path / "bin"
    folder.mkdir(exist_ok=True)
    conf = tmp_path / "ssh_config"
    conf.write_text(textwrap.dedent(config))
    wrapper = folder / "ssh"
    wrapper.write_text(f'#!/bin/sh\nexec /usr/bin/ssh -F {conf} "$@"\n')
    wrapper.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}", "DOCKER_HOST": host,
            "DOCKER_CONFIG": str(tmp_path / "docker-config")}


def _stack_file(tmp_path: Path, replicas: int) -> Path:
    path = tmp_path / "stack.yml"
    path.write_text(f"version: '3.8'\nservices:\n  app:\n    image: busybox:latest\n"
                    f"    command: [sleep, '600']\n    deploy:\n      replicas: {replicas}\n")
    return path


def _stacks_seen(env: dict[str, str]) -> tuple[set[str], set[str]]:
    """The stacks `stackctl ls` and `docker stack ls` list over the same ssh settings."""
    mine = run_stackctl("ls", "--format", "json", env=env, timeout=60)
    assert mine.returncode == 0, mine.stderr
    theirs = run_docker("stack", "ls", "--format", "{{.Name}}", env=env)
    assert theirs.returncode == 0, theirs.stderr
    return {s["name"] for s in json.loads(mine.stdout)["stacks"]}, set(theirs.stdout.split())


def _same_services(env: dict[str, str], stack: str) -> None:
    """`stackctl services` and `docker stack services` show the same services and replicas."""
    mine = run_stackctl("services", stack, "--format", "json", env=env, timeout=60)
    assert mine.returncode == 0, mine.stderr
    theirs = run_docker("stack", "services", stack, "--format", "{{.Name}} {{.Replicas}}", env=env)
    assert theirs.returncode == 0, theirs.stderr
    rows = {f"{s['name']} {s['replicas']}" for s in json.loads(mine.stdout)["services"]}
    assert rows == set(theirs.stdout.strip().splitlines()) == {f"{stack}_app 0/0"}


def _one_line_refusal(env: dict[str, str], tmp_path: Path, words: str) -> str:
    """stackctl ls, diff and deploy all refuse in one line holding `words`; deploy writes nothing."""
    stack = f"sr{uuid.uuid4().hex[:6]}"
    path = str(_stack_file(tmp_path, 0))
    first = ""
    for args in (["ls"], ["diff", stack, "-c", path], ["deploy", stack, "-c", path, "--timeout", "30s"]):
        out = run_stackctl(*args, env=env, timeout=90)
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        assert out.returncode == 1 and len(lines) == 1 and words in lines[0], (args, out.stdout, out.stderr)
        assert "Traceback" not in out.stderr
        first = first or lines[0]
    return first


def test_strict_checking_off_and_a_throwaway_known_hosts(lab: LabLayout, tmp_path: Path) -> None:
    """(a) StrictHostKeyChecking no + UserKnownHostsFile /dev/null, reached through `Include`, a host
    alias and its User, with a ControlMaster: stackctl deploys, diffs and lists; docker sees the same."""
    files = ssh.SshFiles.of(lab.place)
    (tmp_path / "conf.d").mkdir()
    control = Path(tempfile.mkdtemp(prefix="cm", dir="/tmp"))  # a unix socket path: 104 bytes at most
    (tmp_path / "conf.d" / "swarm.conf").write_text(textwrap.dedent(f"""\
        Host swarm-a
          HostName {lab.manager.ip}
          User root
          IdentityFile {files.key}
          IdentitiesOnly yes
          IdentityAgent none
          StrictHostKeyChecking no
          UserKnownHostsFile /dev/null
          ControlMaster auto
          ControlPath {control}/%C
          ControlPersist 120
        """))
    env = _users_ssh(tmp_path, f"Include {tmp_path}/conf.d/*.conf\n", "ssh://swarm-a")
    stack = f"sa{uuid.uuid4().hex[:6]}"
    path = str(_stack_file(tmp_path, 0))
    master = [str(tmp_path / "bin" / "ssh"), "-O", "check", "swarm-a"]
    try:
        out = run_stackctl("ls", env=env, timeout=60)
        assert out.returncode == 0, out.stderr
        # stackctl's ssh read the whole configuration: it started the ControlMaster
        assert subprocess.run(master, capture_output=True, timeout=30).returncode == 0
        nodes = run_docker("node", "ls", "--format", "{{.Hostname}}", env=env)
        assert nodes.returncode == 0, nodes.stderr  # docker: the same settings work
        out = run_stackctl("deploy", stack, "-c", path, "--resolve-image", "never", "--timeout", "90s",
                           env=env, timeout=150)
        assert out.returncode == 0, out.stdout + out.stderr
        diff = run_stackctl("diff", stack, "-c", path, "--resolve-image", "never", env=env)
        assert diff.returncode == 0, diff.stdout + diff.stderr
        mine, theirs = _stacks_seen(env)
        assert stack in mine and mine == theirs
        _same_services(env, stack)
        ps = run_stackctl("ps", stack, "--format", "json", env=env)
        assert ps.returncode == 0 and f"{stack}_app" in ps.stdout, ps.stderr
    finally:
        run_stackctl("rm", stack, env={"DOCKER_HOST": lab.manager.host})
        subprocess.run([*master[:2], "exit", master[3]], capture_output=True, timeout=30)
        shutil.rmtree(control, ignore_errors=True)


def test_a_proxyjump_through_another_namespace(lab: LabLayout, tmp_path: Path) -> None:
    """(b) mgr-1 reached through mgr-2's sshd (ProxyJump), with strict host key checking, for every
    command and for stackctl.yml's `host:`; mgr-1's sshd saw the connections come from mgr-2."""
    files = ssh.SshFiles.of(lab.place)
    target, jump = lab.node("mgr-1"), lab.node("mgr-2")
    env = _users_ssh(tmp_path, f"""\
        Host swarm-b
          HostName {target.ip}
          User root
          ProxyJump jump-host
        Host jump-host
          HostName {jump.ip}
          User root
        Host *
          IdentityFile {files.key}
          IdentitiesOnly yes
          IdentityAgent none
          StrictHostKeyChecking yes
          UserKnownHostsFile {files.known_hosts}
        """, "ssh://swarm-b")
    log = files.log(target)
    jumped = f"Accepted publickey for root from {jump.ip} "
    before = log.read_text().count(jumped)
    stack = f"sb{uuid.uuid4().hex[:6]}"
    _stack_file(tmp_path, 0)
    (tmp_path / "stackctl.yml").write_text(textwrap.dedent(f"""\
        version: "1"
        stack: {stack}
        files: [stack.yml]
        environments:
          bastion:
            host: ssh://swarm-b
        """))
    project = str(tmp_path / "stackctl.yml")
    shell = {**env, "DOCKER_HOST": lab.manager.host}  # stackctl.yml's host wins over the shell's
    try:
        out = run_stackctl("deploy", "--env", "bastion", "--project", project, "--resolve-image", "never",
                           "--timeout", "60s", env=shell, timeout=150)
        assert out.returncode == 0, out.stdout + out.stderr
        diff = run_stackctl("diff", "--env", "bastion", "--project", project, "--resolve-image", "never",
                            env=shell)
        assert diff.returncode == 0, diff.stdout + diff.stderr
        mine, theirs = _stacks_seen(env)  # DOCKER_HOST=ssh://swarm-b, for both
        assert stack in mine and mine == theirs
        _same_services(env, stack)
        assert log.read_text().count(jumped) > before  # through mgr-2's namespace, not straight from here
    finally:
        run_stackctl("rm", stack, env={"DOCKER_HOST": lab.manager.host})


def _stranger_key(tmp_path: Path) -> Path:
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True,
                   capture_output=True, timeout=30)
    return key


def test_a_changed_host_key_is_refused_and_said(lab: LabLayout, tmp_path: Path) -> None:
    """(c) known_hosts holds another key for the host: docker and stackctl refuse; stackctl says the
    key changed, in one line. An unknown host key under strict checking: the same, 'unknown'."""
    files = ssh.SshFiles.of(lab.place)
    stranger_pub = " ".join(Path(f"{_stranger_key(tmp_path)}.pub").read_text().split()[:2])
    known = tmp_path / "known_hosts"
    known.write_text(f"{lab.manager.ip} {stranger_pub}\n")
    env = _users_ssh(tmp_path, f"""\
        Host swarm-c
          HostName {lab.manager.ip}
          User root
          IdentityFile {files.key}
          IdentitiesOnly yes
          IdentityAgent none
          StrictHostKeyChecking yes
          UserKnownHostsFile {known}
        """, "ssh://swarm-c")
    theirs = run_docker("stack", "ls", env=env)
    assert theirs.returncode != 0 and "REMOTE HOST IDENTIFICATION HAS CHANGED" in theirs.stderr
    line = _one_line_refusal(env, tmp_path, f"the host key of {lab.manager.ip} changed")
    assert str(known) in line and "ssh-keygen" in line
    known.write_text("")  # nothing known: strict checking refuses too
    theirs = run_docker("stack", "ls", env=env)
    assert theirs.returncode != 0 and "Host key verification failed" in theirs.stderr
    _one_line_refusal(env, tmp_path, f"the host key of {lab.manager.ip} is unknown")


def test_a_key_the_server_does_not_know_is_refused_and_said(lab: LabLayout, tmp_path: Path) -> None:
    """(d) the user's IdentityFile is not in the server's authorized_keys: both refuse; stackctl says
    authentication was refused, in one line."""
    env = _users_ssh(tmp_path, f"""\
        Host swarm-d
          HostName {lab.manager.ip}
          User root
          IdentityFile {_stranger_key(tmp_path)}
          IdentitiesOnly yes
          IdentityAgent none
          StrictHostKeyChecking no
          UserKnownHostsFile /dev/null
        """, "ssh://swarm-d")
    theirs = run_docker("stack", "ls", env=env)
    assert theirs.returncode != 0 and "Permission denied (publickey)" in theirs.stderr
    line = _one_line_refusal(env, tmp_path, "ssh to swarm-d: authentication refused")
    assert "Permission denied (publickey)" in line and "authorized_keys" in line


def test_nothing_listening_is_said(lab: LabLayout, tmp_path: Path) -> None:
    """Port (from the configuration) where no sshd listens: both fail; stackctl says refused, in one line."""
    env = _users_ssh(tmp_path, f"""\
        Host swarm-e
          HostName {lab.manager.ip}
          Port 2299
        """, "ssh://root@swarm-e")
    theirs = run_docker("stack", "ls", env=env)
    assert theirs.returncode != 0 and "Connection refused" in theirs.stderr
    line = _one_line_refusal(env, tmp_path, "ssh to root@swarm-e: connection refused")
    assert "port 2299" in line
