"""Error translation: docker SDK, requests/urllib3 and ssh failures become `EngineError`s in the user's words.

`translate` is the one place an exception from below the gateway becomes an EngineError carrying
the HTTP status and the engine's message (the rest of stackctl decides on status codes, never on
message text); `describe_connect_failure` says why a first connection failed (TLS set-up above all),
`ssh_problem` why an ssh:// connection did, `registry_verdict` what a failed manifest lookup says of an
image. Exceptions are recognised by type through `sys.modules` (never by importing the SDK: only the
gateway imports it, and a type whose module is not loaded cannot be in an error chain).
"""

from __future__ import annotations

import errno
import re
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from stackctl.errors import DOWN, LOST, OTHER, REFUSED, TIMEOUT, EngineError

if TYPE_CHECKING:
    from stackctl.engine.ssh import SshExited

def ssh_problem(name: str, returncode: int | None, stderr: str) -> str | None:
    """One sentence naming why `ssh ... docker system dial-stdio` to `name` (USER@HOST[:PORT]) failed
    and what to do (None: it did not fail). `returncode` None: no `ssh` command here.

    ssh says why only in words on its stderr (exit status 255 for all of its own failures), so its
    words decide here: the gateway's error translation is the one place that reads such text."""
    if returncode == 0:
        return None
    if returncode is None:
        return (f"cannot reach {name}: no `ssh` command on this machine (stackctl reaches ssh:// hosts "
                "through the system ssh, as the docker CLI does): install the OpenSSH client "
                "(openssh-client)")
    host = name.split("@")[-1]
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not set(ln.strip()) <= {"@"}]
    last = lines[-1] if lines else f"exit status {returncode}"
    changed = re.search(r"Host key for (\S+) has changed", stderr)
    if changed or "IDENTIFICATION HAS CHANGED" in stderr:
        who = changed.group(1) if changed else host
        offending = re.search(r"Offending \S+ key in (\S+?):\d+", stderr)
        where, file = (f" ({offending.group(1)})", f"-f {offending.group(1)} ") if offending else ("", "")
        return (f"ssh to {name}: the host key of {who} changed: it is not the key known_hosts{where} holds "
                "for it (a reinstalled server, or someone in between): if the change is expected, remove "
                f"the old key (ssh-keygen {file}-R {who}), then check and accept the new one")
    if "Host key verification failed" in stderr or "host key is known for" in stderr:
        unknown = re.search(r"host key is known for (\S+?) and", stderr)
        who = unknown.group(1) if unknown else host
        return (f"ssh to {name}: the host key of {who} is unknown (not in known_hosts, and strict host key "
                f"checking is on): check its fingerprint and add it (ssh-keyscan {who} >> "
                "~/.ssh/known_hosts, or connect once with `ssh`)")
    if "Permission denied" in stderr or "Too many authentication failures" in stderr:
        return (f"ssh to {name}: authentication refused: the server accepted none of the keys offered "
                f"({last}): add this client's public key to the remote's authorized_keys, or offer the right "
                "key (IdentityFile or an agent, in ~/.ssh/config)")
    if "Could not resolve hostname" in stderr:
        return (f"ssh to {name}: unknown host name ({last}): check the host in DOCKER_HOST or the context "
                "(or HostName in ~/.ssh/config)")
    if "Connection refused" in stderr:
        return (f"ssh to {name}: connection refused ({last}): is sshd running there, and on that port "
                "(ssh://HOST:PORT, or Port in ~/.ssh/config)?")
    if "timed out" in stderr:
        return (f"ssh to {name}: connection timed out ({last}): is the host up and reachable from here "
                "(address, firewall, VPN, ProxyJump in ~/.ssh/config)?")
    if returncode == 127 or re.search(r"docker: (command )?not found", stderr):
        return (f"ssh to {name} works, but the remote has no `docker` command on its PATH: install the "
                "docker CLI there (or put it on the PATH of non-interactive ssh sessions)")
    if "Cannot connect to the Docker daemon" in stderr:
        return (f"ssh to {name} works, but the remote `docker` cannot reach its engine ({last}): is dockerd "
                "running there?")
    if returncode == 255:
        return f"ssh to {name} failed: {last}"
    return f"ssh to {name}: `docker system dial-stdio` ended on the remote ({last})"


def _ssh_failure_kind(returncode: int | None, stderr: str) -> str:
    """DOWN when the request cannot have reached the engine and a rerun may work (refused, timed
    out, engine down), OTHER for what needs the user (keys, names, a missing command), LOST when the
    connection broke after it was up (whether the last change took effect is unknown)."""
    if returncode is None or returncode == 127:
        return OTHER
    if returncode == 255:
        transient = "Connection refused" in stderr or "timed out" in stderr
        return DOWN if transient else OTHER
    return DOWN if "Cannot connect to the Docker daemon" in stderr else LOST


def ssh_exited(err: BaseException) -> SshExited | None:
    """The engine.ssh.SshExited in `err`'s chain, or None (found by type; the ssh transport is
    loaded only for ssh:// hosts)."""
    module = sys.modules.get("stackctl.engine.ssh")
    if module is None:
        return None
    kind: type[SshExited] = module.SshExited
    return next((item for item in _causes(err) if isinstance(item, kind)), None)


# TLS alerts (ssl.SSLError.reason) by which an engine refuses the client's certificate.
_CLIENT_CERT_REFUSED = frozenset({"SSLV3_ALERT_BAD_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED",
                                  "SSLV3_ALERT_CERTIFICATE_UNKNOWN", "TLSV1_ALERT_UNKNOWN_CA"})


def _causes(err: BaseException) -> Iterator[BaseException]:
    """`err` and every exception it wraps (causes, contexts, urllib3 reasons, arguments)."""
    seen: set[int] = set()
    todo: list[object] = [err]
    while todo:
        item = todo.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        yield item
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])


def describe_connect_failure(err: BaseException, host: str) -> str:
    """One clear sentence for the usual ways a first connection fails (TLS set-up above all),
    told by the types in the error chain."""
    import ssl

    docker_errors = sys.modules.get("docker.errors")
    if docker_errors is not None and isinstance(err, docker_errors.APIError) and err.status_code == 400:
        # A Go TLS server answers a plain HTTP request with 400 before any handler: the only
        # 400 the version probe can get.
        return (f"the Docker engine at {host} speaks TLS only: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH "
                "to a folder with ca.pem, cert.pem and key.pem")
    causes = list(_causes(err))
    for item in causes:
        if isinstance(item, ssl.SSLCertVerificationError):
            why = item.verify_message or "certificate verify failed"
            return (f"cannot verify the TLS certificate of the Docker engine at {host}: {why} "
                    "(is DOCKER_CERT_PATH's ca.pem the CA that signed the engine's certificate, and does "
                    "the certificate name this host?)")
    for item in causes:
        if isinstance(item, ssl.SSLError):
            if item.reason in _CLIENT_CERT_REFUSED:
                return (f"the Docker engine at {host} refused stackctl's TLS client certificate (TLS alert: "
                        f"{item.reason}): DOCKER_CERT_PATH's cert.pem must be signed by a CA the engine "
                        "trusts")
            return f"TLS handshake with the Docker engine at {host} failed: {item.reason or item}"
    return f"cannot reach the Docker engine at {host}: {_short(str(err))}"


def _short(text: str) -> str:
    """The innermost reason of a urllib3/requests error chain."""
    inner = re.findall(r"\(Caused by \w+\((.*)\)\)", text)
    if inner:
        text = inner[-1]
    for pattern in (r"Failed to establish a new connection: (?:\[Errno -?\d+\] )?([^'\"]*)",
                    r"FileNotFoundError\(\d+, '([^']*)'\)", r"ConnectionRefusedError\(\d+, '([^']*)'\)",
                    r"ConnectionResetError\(\d+, '([^']*)'\)", r"RemoteDisconnected\('([^']*)'\)",
                    r"BrokenPipeError\(\d+, '([^']*)'\)"):
        m = re.search(pattern, text)
        if m:
            return m.group(1)
    return text


def _nothing_listens(err: BaseException) -> bool:
    """Whether a connection error wraps a refused connection or a missing socket (the request
    never reached an engine), found by type, not by text."""
    for item in _causes(err):
        if isinstance(item, ConnectionRefusedError | FileNotFoundError):
            return True
        if isinstance(item, OSError) and item.errno in (errno.ECONNREFUSED, errno.ENOENT):
            return True
    urllib3_exc = sys.modules.get("urllib3.exceptions")
    return urllib3_exc is not None and any(isinstance(item, urllib3_exc.NewConnectionError)
                                           for item in _causes(err))


def translate(err: BaseException, host: str = "") -> EngineError | None:
    """The one place engine, SDK and requests errors become EngineErrors (None: not one of those)."""
    if isinstance(err, EngineError):
        return err
    where = f" at {host}" if host else ""
    docker_errors = sys.modules.get("docker.errors")
    if docker_errors is not None and isinstance(err, docker_errors.APIError):
        reason = err.explanation or str(err)
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        reason = str(reason)
        return EngineError(f"Error response from daemon: {reason}", status=err.status_code, reason=reason,
                           failure=REFUSED)
    exited = ssh_exited(err)
    if exited is not None:  # ssh (or the remote `docker system dial-stdio`) ended the connection
        kind = _ssh_failure_kind(exited.returncode, exited.stderr)
        message = ssh_problem(exited.target.name, exited.returncode, exited.stderr) or str(exited)
        if kind == LOST:
            message += ": whether the last change took effect is unknown"
        lines = [ln.strip() for ln in exited.stderr.splitlines() if ln.strip()]
        return EngineError(message, reason=lines[-1] if lines else str(exited), failure=kind)
    requests_exc = sys.modules.get("requests.exceptions")
    if requests_exc is not None:
        if isinstance(err, requests_exc.Timeout):
            return EngineError(f"the Docker engine{where} did not answer in time (timed out): whether the "
                               "last change took effect is unknown", reason="timed out", failure=TIMEOUT)
        if isinstance(err, requests_exc.ConnectionError):
            short = _short(str(err))
            if _nothing_listens(err):
                return EngineError(f"the Docker engine{where} is not answering ({short}: did it stop?)",
                                   reason=short, failure=DOWN)
            return EngineError(f"lost the connection to the Docker engine{where} ({short}; did it stop or "
                               "restart?): whether the last change took effect is unknown",
                               reason=short, failure=LOST)
        if isinstance(err, requests_exc.RequestException):
            return EngineError(f"request to the Docker engine{where} failed: {err}", reason=str(err),
                               failure=OTHER)
    if docker_errors is not None and isinstance(err, docker_errors.DockerException):
        return EngineError(f"Docker engine{where}: {err}", reason=str(err), failure=OTHER)
    return None


MISSING, AUTH = "missing", "auth"


def registry_verdict(err: EngineError) -> str | None:
    """What a failed `image_digest` says of the image: MISSING (the registry answered 404: no such
    repository or tag), AUTH (it wants credentials, or refused the ones sent), or None (no answer:
    unreachable, timed out...). Engine 20.10 reports a registry's 401 to an anonymous lookup as a
    500 carrying the registry client's "no basic auth credentials": the one place a message decides."""
    if err.status == 404:
        return MISSING
    if err.status in (401, 403):
        return AUTH
    if err.status == 500 and "no basic auth credentials" in (err.reason or ""):
        return AUTH
    return None


def describe_engine_failure(err: BaseException) -> str | None:
    """The user's sentence for an engine failure that escaped a command (None: not one)."""
    failure = translate(err)
    if failure is None:
        return None
    if failure.failure == REFUSED:
        return f"the Docker engine refused a request: {failure.reason}"
    if failure.connection_failed:
        return f"{failure.message}; what was already sent stays applied: rerun the command once the engine " \
               "answers again (a rerun deploy converges)"
    return failure.message
