"""ssh:// engine hosts through the system `ssh`, as the docker CLI reaches them (the gateway's transport).

Every HTTP connection to the engine is one `ssh -o ConnectTimeout=30 -T [-l USER] [-p PORT] -- HOST
docker system dial-stdio` process (the docker CLI's exact command line) whose stdin and stdout are one
end of a socket pair; requests and urllib3 speak HTTP on the other end as on any socket, so timeouts,
keep-alive and streamed logs work as on a unix socket. The real `ssh` reads everything the user's
configuration says (~/.ssh/config, /etc/ssh/ssh_config.d/, `Include`, `ProxyJump`, `IdentityAgent`,
`ControlMaster`, known-hosts settings); stackctl adds nothing to it.

When ssh ends a connection before the engine answered, the exception carries ssh's exit status
and what it wrote on stderr (`SshExited`); `engine.errors.translate` (the one place that reads such
text) turns that into one sentence. Only the gateway (`engine/gateway.py`) imports this module.
"""

from __future__ import annotations

import http.client
import shlex
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO
from urllib.parse import unquote, urlparse

import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import urllib3.response
from requests import PreparedRequest
from urllib3.util.timeout import _TYPE_TIMEOUT

# The base URL the SDK client is given once the ssh adapter is mounted: a name, never resolved. It
# must not start with "http+docker://ssh", which the SDK takes for its own (paramiko) transport.
BASE_URL = "http+docker://engine-over-ssh"
CONNECT_TIMEOUT = 30  # seconds, ssh's ConnectTimeout: what the docker CLI passes
EXIT_WAIT = 3.0  # seconds to let ssh finish exiting once its end of the connection closed
STDERR_LIMIT = 8192  # bytes of ssh's stderr kept for the error message (its last lines)


@dataclass(frozen=True)
class SshTarget:
    """Where `ssh://[USER@]HOST[:PORT][/SOCKET]` points: ssh's arguments and the remote command."""

    hostname: str
    user: str | None = None
    port: int | None = None
    socket_path: str | None = None  # the remote engine's socket (`docker --host unix://PATH`)

    @classmethod
    def parse(cls, url: str) -> SshTarget:
        """ValueError for a URL that is not ssh://[USER@]HOST[:PORT][/PATH]."""
        parsed = urlparse(url)
        if parsed.scheme != "ssh" or not parsed.hostname:
            raise ValueError(f"invalid ssh host {url!r}: expected ssh://[USER@]HOST[:PORT]")
        if parsed.password is not None:
            raise ValueError(f"invalid ssh host {url!r}: ssh:// takes no password (use a key or ssh-agent)")
        if parsed.query or parsed.fragment:
            raise ValueError(f"invalid ssh host {url!r}: extra parts after the host")
        port = parsed.port  # ValueError for a bad port, with the SDK's own wording
        path = unquote(parsed.path) if parsed.path not in ("", "/") else None
        return cls(parsed.hostname, unquote(parsed.username) if parsed.username else None, port, path)

    @property
    def name(self) -> str:
        """USER@HOST[:PORT], as errors name it."""
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{self.hostname}{port}"

    def remote_command(self) -> list[str]:
        command = ["docker"]
        if self.socket_path:
            command += ["--host", shlex.quote(f"unix://{self.socket_path}")]
        return command + ["system", "dial-stdio"]

    def argv(self, ssh: str = "ssh") -> list[str]:
        """The command line the docker CLI (28) runs for this host."""
        args = [ssh, "-o", f"ConnectTimeout={CONNECT_TIMEOUT}", "-T"]
        if self.user:
            args += ["-l", self.user]
        if self.port:
            args += ["-p", str(self.port)]
        return args + ["--", self.hostname, *self.remote_command()]


class SshExited(ConnectionError):
    """ssh ended (or could not start) before the engine answered. `returncode` None: no `ssh` here."""

    def __init__(self, target: SshTarget, returncode: int | None, stderr: str) -> None:
        super().__init__(f"ssh to {target.name} exited with status {returncode}" if returncode is not None
                         else "no ssh command")
        self.target = target
        self.returncode = returncode
        self.stderr = stderr


def _timeout_seconds(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class SshConnection(urllib3.connection.HTTPConnection):
    """One HTTP connection: its socket is our end of a socket pair; ssh holds the other end."""

    def __init__(self, target: SshTarget, timeout: _TYPE_TIMEOUT = None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.target = target
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._exited: SshExited | None = None  # how the last ssh of this connection failed
        self._reading = False

    def _new_conn(self) -> socket.socket:
        self._finish(0.0, stop=True)
        self._exited = None
        ours, theirs = socket.socketpair()
        stderr = tempfile.TemporaryFile()  # a file, not a pipe: ssh can never block writing to it
        try:
            self._proc = subprocess.Popen(self.target.argv(), stdin=theirs.fileno(), stdout=theirs.fileno(),
                                          stderr=stderr)
        except FileNotFoundError:
            ours.close()
            stderr.close()
            raise SshExited(self.target, None, "") from None
        except BaseException:
            ours.close()
            stderr.close()
            raise
        finally:
            theirs.close()
        self._stderr = stderr
        ours.settimeout(_timeout_seconds(self.timeout))
        return ours

    def failure(self) -> SshExited | None:
        """Why ssh ended this connection: an SshExited when ssh (or the remote command) failed,
        None while it runs or when it ended cleanly (the engine closed the connection)."""
        self._finish(EXIT_WAIT, stop=False)
        return self._exited

    # urllib3's own getresponse narrows http.client's the same way (and silences the same check)
    def getresponse(self) -> urllib3.response.HTTPResponse:  # type: ignore[override]
        self._reading = True  # http.client closes the connection itself when the read fails
        try:
            return super().getresponse()
        except (OSError, http.client.HTTPException) as err:
            if isinstance(err, TimeoutError) and self._proc is not None and self._proc.poll() is None:
                raise  # ssh is still at it: the engine (or the network) is slow, not ssh
            failure = self.failure()
            if failure is not None:
                raise failure from err
            raise
        finally:
            self._reading = False

    def _finish(self, wait: float, *, stop: bool) -> None:
        """Let ssh exit within `wait` seconds (its end of the connection is closed or failed), keep
        what a failed one said; with `stop`, end one still running and forget it."""
        proc = self._proc
        if proc is None:
            return
        try:
            code = proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            if not stop:
                return
            proc.terminate()
            try:
                proc.wait(timeout=EXIT_WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            code = 0  # ended by us: not a failure
        if code != 0:
            self._exited = SshExited(self.target, code, self._stderr_tail())
        self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0, 2)
        self._stderr.seek(max(0, self._stderr.tell() - STDERR_LIMIT))
        return self._stderr.read().decode(errors="replace")

    def close(self) -> None:
        try:
            super().close()
        finally:
            # after a failed read ssh is on its way out with its reason: give it time to say it;
            # otherwise nothing is pending on this connection: end its ssh now
            self._finish(EXIT_WAIT if self._reading else 0.0, stop=True)


class SshConnectionPool(urllib3.connectionpool.HTTPConnectionPool):
    """urllib3's pool, making SshConnections."""

    def __init__(self, target: SshTarget, timeout: float, maxsize: int) -> None:
        super().__init__("localhost", timeout=timeout, maxsize=maxsize)
        self.target = target

    def _new_conn(self) -> SshConnection:
        self.num_connections += 1
        return SshConnection(self.target, timeout=self.timeout.connect_timeout)


class SshAdapter(requests.adapters.HTTPAdapter):
    """A requests adapter whose connections are ssh processes (one pool: one remote engine)."""

    def __init__(self, target: SshTarget, timeout: float, pool_size: int = 10) -> None:
        super().__init__(pool_connections=1, pool_maxsize=pool_size)
        self.target = target
        self.pool = SshConnectionPool(target, timeout, pool_size)

    def get_connection_with_tls_context(self, request: object, verify: object, proxies: object = None,
                                        cert: object = None) -> SshConnectionPool:
        return self.pool

    def get_connection(self, url: object, proxies: object = None) -> SshConnectionPool:
        return self.pool

    def request_url(self, request: PreparedRequest, proxies: object) -> str:
        return str(request.path_url)

    def close(self) -> None:
        self.pool.close()
        super().close()


def mount(session: requests.Session, target: SshTarget, timeout: float) -> SshAdapter:
    """Route every request of `session` (an SDK APIClient) through ssh to `target`; returns the adapter.
    The caller points the client's base URL at BASE_URL."""
    adapter = SshAdapter(target, timeout)
    for prefix in list(session.adapters):
        session.adapters.pop(prefix).close()
    session.mount(BASE_URL, adapter)
    session.trust_env = False  # proxies, netrc and CA bundles from the environment mean nothing here
    return adapter

