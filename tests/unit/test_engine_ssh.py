"""ssh:// hosts without a lab: the docker CLI's ssh command line, ssh's failures as one line each
(their words as OpenSSH 9 prints them), and the transport end to end through a stand-in `ssh` on
PATH that answers HTTP on its stdin/stdout as `docker system dial-stdio` does."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest

from stackctl import engine
from stackctl.engine import errors as engine_errors
from stackctl.engine.ssh import SshTarget
from stackctl.errors import DOWN, LOST, OTHER, EngineError, UsageError

# --- the command line ---------------------------------------------------------------------------


def test_the_docker_clis_command_line() -> None:
    """What docker 28 runs (measured with a logging `ssh` on PATH)."""
    tail = ["docker", "system", "dial-stdio"]
    assert SshTarget.parse("ssh://root@10.0.0.1").argv() == [
        "ssh", "-o", "ConnectTimeout=30", "-T", "-l", "root", "--", "10.0.0.1", *tail]
    assert SshTarget.parse("ssh://deploy@swarm.example:2222").argv() == [
        "ssh", "-o", "ConnectTimeout=30", "-T", "-l", "deploy", "-p", "2222", "--", "swarm.example", *tail]
    # no user, no port: ~/.ssh/config's User and Port apply
    assert SshTarget.parse("ssh://bastioned").argv() == ["ssh", "-o", "ConnectTimeout=30", "-T", "--",
                                                         "bastioned", *tail]
    assert SshTarget.parse("ssh://me@box/run/docker.sock").argv()[-5:] == [
        "docker", "--host", "unix:///run/docker.sock", "system", "dial-stdio"]


@pytest.mark.parametrize("url", ["ssh://", "ssh://me:secret@box", "ssh://box:port", "ssh://box?x=1"])
def test_bad_ssh_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        SshTarget.parse(url)


def test_a_bad_ssh_url_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="ssh://"):
        engine.connect("ssh://me:secret@box")


# --- ssh's failures, one line each ----------------------------------------------------------------

CHANGED = """\
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @
@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@
IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!
The fingerprint for the ED25519 key sent by the remote host is
SHA256:QuhlWtoGuQ4+1VstDqSGNvVYG5qno1lETnuawc6mADA.
Please contact your system administrator.
Add correct host key in /home/ci/.ssh/known_hosts to get rid of this message.
Offending ED25519 key in /home/ci/.ssh/known_hosts:3
  remove with:
  ssh-keygen -f "/home/ci/.ssh/known_hosts" -R "10.0.0.1"
Host key for 10.0.0.1 has changed and you have requested strict checking.
Host key verification failed.
"""


@pytest.mark.parametrize(("code", "stderr", "words", "kind"), [
    (255, CHANGED, ["host key of 10.0.0.1 changed", "ssh-keygen -f /home/ci/.ssh/known_hosts -R 10.0.0.1"],
     OTHER),
    (255, "No ED25519 host key is known for 10.0.0.1 and you have requested strict checking.\n"
          "Host key verification failed.\n", ["host key of 10.0.0.1 is unknown", "ssh-keyscan 10.0.0.1"],
     OTHER),
    (255, "Host key verification failed.\nConnection closed by UNKNOWN port 65535\n",  # behind a ProxyJump
     ["host key of 10.0.0.1 is unknown"], OTHER),
    (255, "Warning: Permanently added '10.0.0.1' (ED25519) to the list of known hosts.\n"
          "root@10.0.0.1: Permission denied (publickey).\n", ["authentication refused", "authorized_keys"],
     OTHER),
    (255, "Received disconnect from 10.0.0.1 port 22:2: Too many authentication failures\n",
     ["authentication refused"], OTHER),
    (127, "sh: 1: docker: not found\n", ["no `docker` command on its PATH", "install the docker CLI"], OTHER),
    (127, "bash: line 1: docker: command not found\n", ["no `docker` command"], OTHER),
    (255, "ssh: connect to host 10.0.0.1 port 22: Connection refused\n", ["connection refused", "sshd"],
     DOWN),
    (255, "ssh: connect to host 10.0.0.1 port 22: Connection timed out\n", ["connection timed out"], DOWN),
    (255, "Connection timed out during banner exchange\nConnection to UNKNOWN port 65535 timed out\n",
     ["connection timed out"], DOWN),
    (255, "ssh: Could not resolve hostname nohost: Name or service not known\n", ["unknown host name"],
     OTHER),
    (1, "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
     ["cannot reach its engine", "dockerd"], DOWN),
    (255, "kex_exchange_identification: read: Connection reset by peer\n", ["failed: kex_exchange"], OTHER),
    (2, "error: unexpected EOF\n", ["dial-stdio` ended on the remote (error: unexpected EOF)"], LOST),
])
def test_ssh_failures_are_one_line_naming_cause_and_remedy(code: int, stderr: str, words: list[str],
                                                           kind: str) -> None:
    text = engine.ssh_problem("root@10.0.0.1", code, stderr)
    assert text is not None and "\n" not in text and text.startswith("ssh to root@10.0.0.1")
    for word in words:
        assert word in text
    assert engine_errors._ssh_failure_kind(code, stderr) == kind


def test_no_ssh_command_is_named() -> None:
    text = engine.ssh_problem("root@box", None, "")
    assert text is not None and "no `ssh` command" in text and "openssh-client" in text
    assert engine.ssh_problem("root@box", 0, "") is None


# --- end to end through a stand-in ssh ------------------------------------------------------------

FAKE_SSH = """\
import json, os, sys
with open(os.environ["FAKE_SSH_LOG"], "a") as log:
    log.write(json.dumps([os.getpid(), *sys.argv[1:]]) + "\\n")
if os.environ.get("FAKE_SSH_FAIL"):
    sys.stderr.write(os.environ["FAKE_SSH_FAIL"])
    sys.exit(255)
inp, out = sys.stdin.buffer, sys.stdout.buffer
while True:
    line = inp.readline()
    if not line:
        break
    path = line.split()[1].decode()
    length = 0
    while True:
        header = inp.readline()
        if header in (b"\\r\\n", b"\\n", b""):
            break
        key, _, value = header.decode().partition(":")
        if key.lower() == "content-length":
            length = int(value)
    inp.read(length)
    if path.endswith(os.environ.get("FAKE_SSH_DIE_ON") or "-"):
        sys.stderr.write("error: the engine went away\\n")
        sys.exit(2)
    if path == "/_ping":
        body, extra = b"OK", "Api-Version: 1.41\\r\\nSwarm: active/manager\\r\\n"
    else:
        body = json.dumps([{"ID": "n1", "Path": path}]).encode()
        extra = "Content-Type: application/json\\r\\n"
    out.write(f"HTTP/1.1 200 OK\\r\\nContent-Length: {len(body)}\\r\\n{extra}\\r\\n".encode() + body)
    out.flush()
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in `ssh` first on PATH; returns the file where it logs its arguments."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "ssh"
    script.write_text(f"#!{sys.executable}\n{FAKE_SSH}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    log = tmp_path / "ssh.log"
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    monkeypatch.delenv("FAKE_SSH_FAIL", raising=False)
    monkeypatch.delenv("FAKE_SSH_DIE_ON", raising=False)
    return log


def test_requests_go_through_one_ssh_per_connection(fake_ssh: Path) -> None:
    with engine.connect("ssh://deploy@swarm.example:2222", timeout=10) as eng:
        assert eng.api_version == "1.41" and eng.swarm == "active/manager"
        assert eng.objects("node") == [{"ID": "n1", "Path": "/v1.41/nodes"}]
        assert eng.get("/services")[0]["Path"] == "/v1.41/services"
    calls = [json.loads(line) for line in fake_ssh.read_text().splitlines()]
    # the ping and both calls on the one kept-alive connection: one ssh, the docker CLI's arguments
    assert [call[1:] for call in calls] == [["-o", "ConnectTimeout=30", "-T", "-l", "deploy", "-p", "2222",
                                             "--", "swarm.example", "docker", "system", "dial-stdio"]]
    with pytest.raises(ProcessLookupError):  # closing the engine ended (and reaped) its ssh
        os.kill(calls[0][0], 0)


def test_ssh_ending_during_a_request_is_a_lost_connection(fake_ssh: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SSH_DIE_ON", "/nodes")
    with engine.connect("ssh://root@box", timeout=10) as eng, pytest.raises(EngineError) as err:
        eng.objects("node")
    assert err.value.failure == LOST and err.value.connection_failed
    assert "(error: the engine went away)" in str(err.value) and "unknown" in str(err.value)


def test_an_ssh_failure_is_the_one_line_error(fake_ssh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_SSH_FAIL", "root@box: Permission denied (publickey).\n")
    with pytest.raises(EngineError) as err:
        engine.connect("ssh://root@box", timeout=10)
    assert str(err.value).startswith("ssh to root@box: authentication refused")
    assert err.value.failure == OTHER and "\n" not in str(err.value)


def test_no_ssh_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EngineError, match="no `ssh` command on this machine"):
        engine.connect("ssh://root@box", timeout=10)
