"""The engine gateway: the only module that talks to the docker SDK.

`Engine` wraps one SDK client. It uses the SDK's public API where the SDK has one and its
low-level `APIClient` where it does not (raw JSON specs, log streams); every failure of
either, or of requests below them, goes through `translate` and comes out as an
`EngineError` carrying the HTTP status and the engine's message, so the rest of stackctl
decides on status codes and never on message text.

`connect(host, tls, context)` takes its settings as arguments; `endpoint_from` reads them
from an environment the way the docker CLI does (DOCKER_HOST over DOCKER_CONTEXT over the
current context of ~/.docker/config.json), and `open_engine` joins the two for commands.
ssh:// hosts go through the system `ssh` as the docker CLI's do (`engine_ssh`, this gateway's
transport); `translate` turns ssh's failures into one sentence each (`ssh_problem`).
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from stackctl.errors import DOWN, LOST, OTHER, REFUSED, TIMEOUT, EngineError, UsageError

T = TypeVar("T")

DEFAULT_HOST = "unix:///var/run/docker.sock"
# Kinds `Engine.objects/inspect/create/update/remove` know, with the path segment of each.
KINDS = {"service": "services", "task": "tasks", "node": "nodes", "network": "networks",
         "secret": "secrets", "config": "configs", "volume": "volumes", "container": "containers"}
# What a DELETE of an object still used by tasks gets: 400 (swarmkit's FailedPrecondition for a
# network, InvalidArgument for a secret/config, measured on engine 20.10, API 1.41), 403 and 409
# (newer engines: "active endpoints", "in use"). Retried while tasks shut down.
IN_USE_STATUSES = frozenset({400, 403, 409})


# --- connection settings ------------------------------------------------------------------


@dataclass(frozen=True)
class TlsFiles:
    """A folder holding cert.pem and key.pem (and ca.pem when `verify`), as DOCKER_CERT_PATH."""

    folder: str
    verify: bool = True


@dataclass(frozen=True)
class Endpoint:
    """Where to connect: a host (with TLS files or not) or a docker CLI context name."""

    host: str | None = None
    tls: TlsFiles | None = None
    context: str | None = None
    config_dir: str | None = None  # the docker CLI's config folder (contexts live there)


def docker_config_dir(environ: Mapping[str, str]) -> str:
    return environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")


def _tls_from_env(environ: Mapping[str, str]) -> TlsFiles | None:
    """DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as the docker CLI reads them."""
    cert_path = environ.get("DOCKER_CERT_PATH") or None
    verify = bool(environ.get("DOCKER_TLS_VERIFY"))
    if not (cert_path or verify):
        return None
    return TlsFiles(cert_path or str(Path.home() / ".docker"), verify)


def endpoint_from(environ: Mapping[str, str], *, context: str | None = None,
                  host: str | None = None) -> Endpoint:
    """The docker CLI's precedence: --context, else --host, else DOCKER_HOST, else DOCKER_CONTEXT,
    else the current context of config.json, else the default socket (the context "default" is
    DOCKER_HOST, or that socket)."""
    config_dir = docker_config_dir(environ)
    if context and host:
        raise UsageError("conflicting options: give either a host or --context, not both")
    if context and context != "default":
        return Endpoint(context=context, config_dir=config_dir)
    host = host or environ.get("DOCKER_HOST") or None  # the "default" context is DOCKER_HOST too
    if host:
        return Endpoint(host=host, tls=_tls_from_env(environ), config_dir=config_dir)
    named = environ.get("DOCKER_CONTEXT") or _current_context(config_dir)
    if named and named != "default":
        return Endpoint(context=named, config_dir=config_dir)
    return Endpoint(tls=_tls_from_env(environ), config_dir=config_dir)


def _current_context(config_dir: str) -> str | None:
    try:
        data = json.loads((Path(config_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    name = data.get("currentContext") if isinstance(data, dict) else None
    return str(name) if name else None


def _context_endpoint(name: str, config_dir: str | None) -> Endpoint:
    """Host and TLS files of a docker CLI context (~/.docker/contexts/meta/<sha256(name)>/meta.json)."""
    base = Path(config_dir or Path.home() / ".docker") / "contexts"
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = base / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError) as err:
        raise EngineError(f"docker context {name!r} not found ({meta})") from err
    endpoint = (data.get("Endpoints") or {}).get("docker") or {}
    tls_dir = base / "tls" / digest / "docker"
    tls = TlsFiles(str(tls_dir), not endpoint.get("SkipTLSVerify", False)) if tls_dir.is_dir() else None
    return Endpoint(host=endpoint.get("Host") or DEFAULT_HOST, tls=tls, context=name)


def _tls_config(tls: TlsFiles | None) -> Any:
    """The SDK's TLSConfig, with the missing files named up front (the SDK's message does not)."""
    if tls is None:
        return False
    import docker

    folder = Path(tls.folder)
    needed = ["cert.pem", "key.pem"] + (["ca.pem"] if tls.verify else [])
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise EngineError(
            f"TLS is on (DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) but {folder} has no {', '.join(missing)} "
            "(DOCKER_CERT_PATH must name a folder holding ca.pem, cert.pem and key.pem)")
    return docker.tls.TLSConfig(client_cert=(str(folder / "cert.pem"), str(folder / "key.pem")),
                                ca_cert=str(folder / "ca.pem") if tls.verify else None, verify=tls.verify)


def _new_client(docker: Any, host: str, tls: TlsFiles | None, timeout: int) -> Any:
    """The SDK client for `host`, on the lowest API version until the ping has negotiated one.

    ssh:// hosts never use the SDK's own ssh transport (paramiko, or its `use_ssh_client` shell-out):
    `engine_ssh` runs the system `ssh` exactly as the docker CLI does, one process per connection,
    mounted as the client's only adapter."""
    minimum = docker.constants.MINIMUM_DOCKER_API_VERSION
    if not host.startswith("ssh://"):
        return docker.DockerClient(base_url=host, tls=_tls_config(tls), timeout=timeout, version=minimum)
    from stackctl import engine_ssh

    try:
        target = engine_ssh.SshTarget.parse(host)
    except ValueError as err:
        raise UsageError(str(err)) from None
    # a placeholder the SDK accepts and never dials: the ssh adapter replaces every adapter
    client = docker.DockerClient(base_url="tcp://engine-over-ssh.invalid:2375", tls=False, timeout=timeout,
                                 version=minimum)
    engine_ssh.mount(client.api, target, timeout)
    client.api.base_url = engine_ssh.BASE_URL
    return client


# --- ssh: its failures in one line --------------------------------------------------------------


def ssh_problem(name: str, returncode: int | None, stderr: str) -> str | None:
    """One sentence naming why `ssh ... docker system dial-stdio` to `name` (USER@HOST[:PORT]) failed
    and what to do (None: it did not fail). `returncode` None: no `ssh` command here.

    ssh says why only in words on its stderr (exit status 255 for all of its own failures), so its
    words decide here: the gateway's error translation is the one place that reads such text."""
    import re

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


def _ssh_exited(err: BaseException) -> Any:
    """The engine_ssh.SshExited in `err`'s chain, or None (found by type)."""
    module = sys.modules.get("stackctl.engine_ssh")
    if module is None:
        return None
    return next((item for item in _causes(err) if isinstance(item, module.SshExited)), None)


def _pin_tls_trust(api: Any) -> None:
    """Verify the engine against DOCKER_CERT_PATH's CA, as the docker CLI does.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE replace a session's CA bundle on
    every request; with them set (common on managed machines) the engine's own CA was
    ignored and every TLS connection failed with "unable to get local issuer certificate".
    """
    ca = api.verify
    if not isinstance(ca, str):
        return
    merge = api.merge_environment_settings

    def merged(url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> Any:
        settings = merge(url, proxies, stream, verify, cert)
        if verify is None or verify is True:
            settings["verify"] = ca
        return settings

    api.merge_environment_settings = merged


def _local_socket_transport(api: Any) -> None:
    """On a unix socket: one pool of connections for every path, and no proxy look-ups.

    The SDK's unix adapter (docker 7.1) keys its connection pools by the whole request URL, so
    every `/services/<id>/update` or `DELETE /services/<id>` opened a new connection (and, past
    25 URLs, closed an old pool's): an update of 400 services made 400 connections. All paths go
    to the one socket, so one pool serves them (its 10 connections are more than the executor's 8
    writers). Proxies, netrc and CA-bundle variables mean nothing on a local socket (the SDK's
    adapter ignores the proxies requests computes), but requests read the whole environment for
    them on each call (~0.3 ms a request); `trust_env` off skips that."""
    adapter = getattr(api, "_custom_adapter", None)
    if adapter is None or not hasattr(adapter, "socket_path"):
        return
    by_url = adapter.get_connection
    base = str(api.base_url)

    def one_pool(url: Any, proxies: Any = None) -> Any:
        return by_url(base, proxies)

    adapter.get_connection = one_pool
    api.trust_env = False


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (0,)


def _load_sdk() -> Any:
    """The docker SDK, without paramiko.

    The SDK imports paramiko whenever it is installed (~0.25 s, most of `import docker`), only to
    offer its own ssh transport, which stackctl never uses (`engine_ssh` runs the system ssh). So a
    paramiko installed for something else is kept out of the first import."""
    if "docker" not in sys.modules:
        blocked = sys.modules.setdefault("paramiko", None) is None  # type: ignore[arg-type]
        try:
            import docker
        finally:
            if blocked and sys.modules.get("paramiko", 0) is None:
                del sys.modules["paramiko"]
        return docker
    import docker

    return docker


def connect(host: str | None = None, tls: TlsFiles | None = None, context: str | None = None, *,
            config_dir: str | None = None, debug: bool = False, timeout: int = 60) -> Engine:
    """An Engine on `host` (or the docker CLI context `context`), API version negotiated."""
    if not host and context and context != "default":
        ctx = _context_endpoint(context, config_dir)
        host, tls = ctx.host, ctx.tls
    host = host or DEFAULT_HOST
    docker = _load_sdk()
    client = None
    try:
        client = _new_client(docker, host, tls, timeout)
        api = client.api
        # Negotiate the API version ourselves: the SDK's "auto" talks to the engine inside the
        # constructor, before the TLS trust can be pinned. One `GET /_ping` (as the docker CLI does)
        # gives the engine's API version and its swarm role in its headers: `GET /version` and, for
        # the manager check, `GET /info` are each ~10 ms of engine time (bench/README.md). The ping
        # is unversioned, so the client that sent it (and its connection: one ssh handshake for an
        # ssh:// host) goes on with the negotiated version.
        _pin_tls_trust(api)
        resp = api._get(api._url("/_ping", versioned_api=False))
        api._raise_for_status(resp)
        server = str(resp.headers.get("Api-Version") or "")
        swarm = resp.headers.get("Swarm")
        if not server:  # an engine older than API 1.25 names no version in its ping
            server = str(api.version(api_version=False).get("ApiVersion") or "")
        version = docker.constants.DEFAULT_DOCKER_API_VERSION
        if server and _version_tuple(server) < _version_tuple(version):
            version = server
        api._version = version
        _local_socket_transport(api)
    except BaseException as err:
        if client is not None:
            client.close()  # for an ssh:// host: its ssh
        if isinstance(err, EngineError | UsageError) or not isinstance(err, Exception):
            raise
        failure = translate(err, host)
        if failure is None:
            raise
        message = failure.message if _ssh_exited(err) is not None else _describe_failure(err, host)
        raise EngineError(message, status=failure.status, reason=failure.reason,
                          failure=failure.failure) from None
    engine = Engine(client, host=host, swarm=swarm)
    if debug:
        engine.log_calls()
    return engine


def open_engine(context: str | None = None, debug: bool = False, *, host: str | None = None,
                environ: Mapping[str, str] | None = None, timeout: int = 60) -> Engine:
    """connect() with the settings of `environ` (default: this process's), as the docker CLI."""
    ep = endpoint_from(os.environ if environ is None else environ, context=context, host=host)
    return connect(ep.host, ep.tls, ep.context, config_dir=ep.config_dir, debug=debug, timeout=timeout)


# --- errors -----------------------------------------------------------------------------------


# TLS alerts (ssl.SSLError.reason) by which an engine refuses the client's certificate.
_CLIENT_CERT_REFUSED = frozenset({"SSLV3_ALERT_BAD_CERTIFICATE", "TLSV13_ALERT_CERTIFICATE_REQUIRED",
                                  "SSLV3_ALERT_CERTIFICATE_UNKNOWN", "TLSV1_ALERT_UNKNOWN_CA"})


def _causes(err: BaseException) -> Iterator[BaseException]:
    """`err` and every exception it wraps (causes, contexts, urllib3 reasons, arguments)."""
    seen: set[int] = set()
    todo: list[Any] = [err]
    while todo:
        item = todo.pop()
        if id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        yield item
        todo.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])


def _describe_failure(err: BaseException, host: str) -> str:
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
    import re

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
    exited = _ssh_exited(err)
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


# --- the gateway -------------------------------------------------------------------------------


def _request_args(params: Mapping[str, Any] | None, headers: Mapping[str, str] | None,
                  timeout: float | None) -> dict[str, Any]:
    """The keyword arguments of one raw request (only what is set: the client's defaults otherwise)."""
    kwargs: dict[str, Any] = {"params": dict(params or {})}
    if headers:
        kwargs["headers"] = dict(headers)
    if timeout:
        kwargs["timeout"] = timeout
    return kwargs


class LogStream:
    """A raw log response: `read(n)` bytes (multiplexed unless the service has a TTY), `close()`."""

    def __init__(self, response: Any, engine: Engine) -> None:
        self._response = response
        self._engine = engine

    def read(self, size: int) -> bytes:
        data: bytes = self._engine._call(lambda: self._response.raw.read(size))
        return data

    def close(self) -> None:
        self._response.close()


class Engine:
    """One engine connection. Every method raises EngineError (see `translate`) for an engine failure."""

    def __init__(self, client: Any, *, host: str = "", swarm: str | None = None) -> None:
        self._client = client
        self._api = client.api
        self.host = host or str(getattr(self._api, "base_url", ""))
        # The engine's swarm role when connected, from the `Swarm` header of its ping ("active/manager",
        # "active/worker", "inactive"...; None when it sent none: 20.10 engines).
        self.swarm = swarm

    @property
    def api_version(self) -> str:
        """The Engine API version negotiated with the engine ("1.41")."""
        return str(self._api.api_version)

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except EngineError:
            raise
        except Exception as err:  # noqa: BLE001 - non-engine errors are re-raised as they are
            failure = translate(err, self.host)
            if failure is None:
                raise
            raise failure from None

    # raw calls (the low-level client: JSON bodies exactly as given)
    def get(self, path: str, params: Mapping[str, Any] | None = None, *,
            headers: Mapping[str, str] | None = None, timeout: float | None = None) -> Any:
        def call() -> Any:
            resp = self._api._get(self._api._url(path), **_request_args(params, headers, timeout))
            self._api._raise_for_status(resp)
            return resp.json()

        return self._call(call)

    def post(self, path: str, body: Any = None, params: Mapping[str, Any] | None = None, *,
             headers: Mapping[str, str] | None = None, timeout: float | None = None) -> Any:
        def call() -> Any:
            args = _request_args(params, headers, timeout)
            resp = self._api._post_json(self._api._url(path), data=body, **args)
            self._api._raise_for_status(resp)
            try:
                return resp.json()
            except ValueError:
                return None

        return self._call(call)

    def delete(self, path: str, params: Mapping[str, Any] | None = None) -> None:
        def call() -> None:
            resp = self._api._delete(self._api._url(path), params=dict(params or {}))
            self._api._raise_for_status(resp)

        self._call(call)

    def stream(self, path: str, params: Mapping[str, Any] | None = None) -> LogStream:
        """A streamed GET without the socket timeout (for `logs --follow`)."""
        def call() -> Any:
            resp = self._api._get(self._api._url(path), params=dict(params or {}), stream=True)
            self._api._raise_for_status(resp)
            return resp

        resp = self._call(call)
        try:
            self._api._disable_socket_timeout(self._api._get_raw_response_socket(resp))
        except Exception:  # noqa: BLE001 - only matters for long --follow sessions
            pass
        return LogStream(resp, self)

    def events(self, filters: Mapping[str, list[str]] | None = None,
               since: str | None = None) -> Iterator[dict[str, Any]]:
        """The engine's event stream (GET /events): one dict per event, as it happens, until the
        connection drops (then the iterator ends, or raises EngineError). The agent's drift follower."""
        params: dict[str, Any] = {"filters": json.dumps(dict(filters or {}))}
        if since is not None:
            params["since"] = since

        def call() -> Any:
            resp = self._api._get(self._api._url("/events"), params=params, stream=True, timeout=None)
            self._api._raise_for_status(resp)
            return resp

        resp = self._call(call)
        try:
            lines = resp.iter_lines(chunk_size=1)
            while True:
                line = self._call(lambda: next(lines, None))
                if line is None:
                    return
                if line.strip():
                    yield json.loads(line)
        finally:
            resp.close()

    # typed calls: the SDK's public API where it has one
    def info(self) -> dict[str, Any]:
        return self._call(self._api.info)

    def objects(self, kind: str, filters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Objects of one kind (service, task, node, network, secret, config, volume)."""
        flt = dict(filters) if filters else None
        if kind == "volume":
            return list((self._call(lambda: self._api.volumes(filters=flt)) or {}).get("Volumes") or [])
        method = getattr(self._api, KINDS[kind])
        return list(self._call(lambda: method(filters=flt)) or [])

    def inspect(self, kind: str, ident: str) -> dict[str, Any]:
        method = getattr(self._api, f"inspect_{kind}")
        return dict(self._call(lambda: method(ident)))

    def create(self, kind: str, spec: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
               ) -> dict[str, Any]:
        """POST the spec as it is; the engine's answer (`ID` or `Id`, `Warnings`)."""
        return dict(self.post(f"/{KINDS[kind]}/create", spec, headers=headers) or {})

    def update(self, kind: str, ident: str, version: int, spec: Mapping[str, Any], *,
               headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        return dict(self.post(f"/{KINDS[kind]}/{ident}/update", spec, {"version": version},
                              headers=headers) or {})

    def remove(self, kind: str, ident: str) -> None:
        method = getattr(self._api, f"remove_{kind}")
        self._call(lambda: method(ident))

    def image_digest(self, image: str, *, registry_auth: str | None = None,
                     timeout: float = 5.0) -> str | None:
        """The registry's manifest digest of `image` (`GET /distribution/NAME/json`), or None."""
        from urllib.parse import quote

        headers = {"X-Registry-Auth": registry_auth} if registry_auth else None
        body = self.get(f"/distribution/{quote(image, safe='/:@')}/json", headers=headers, timeout=timeout)
        return ((body or {}).get("Descriptor") or {}).get("digest")

    def registry_auth(self, image: str) -> str | None:
        """The X-Registry-Auth header for `image` from the docker CLI's credentials, or None."""
        from docker import auth

        try:
            registry, _ = auth.resolve_repository_name(image.split("@")[0])
            value = auth.get_config_header(self._api, registry)
        except Exception:  # noqa: BLE001 - no credentials: send none
            return None
        if not value:
            return None
        return value.decode() if isinstance(value, bytes) else str(value)

    def service_logs(self, service_id: str, params: Mapping[str, Any]) -> LogStream:
        return self.stream(f"/services/{service_id}/logs", params)

    def log_calls(self) -> None:
        """--debug: one stderr line per engine call (method, path, status); bodies are never logged."""
        def hook(resp: Any, *args: Any, **kwargs: Any) -> None:
            req = resp.request
            print(f"debug: {req.method} {req.path_url} -> {resp.status_code}", file=sys.stderr)

        self._api.hooks["response"].append(hook)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def remove_retrying(engine: Engine, kind: str, ident: str, seconds: float) -> bool:
    """Remove an object, retrying for `seconds` while the engine says it is still in use (tasks
    shutting down). True when removed, False when it was already gone."""
    deadline = time.monotonic() + max(0.0, seconds)
    delay = 0.25
    while True:
        try:
            engine.remove(kind, ident)
            return True
        except EngineError as err:
            if err.not_found:
                return False
            if err.status not in IN_USE_STATUSES or time.monotonic() >= deadline:
                raise
        time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
        delay = min(delay * 2, 2.0)


def require_manager(engine: Engine) -> dict[str, Any]:
    """Fail before any write when the engine is not a swarm manager.

    Returns the engine's info, or only `{"Swarm": {"ControlAvailable": True}}` when the ping at
    connect time just said "active/manager" (`GET /info` is ~10 ms of engine time; no caller
    needs more than the verdict). The ping's word is used once, right after connecting.
    """
    if getattr(engine, "swarm", None) == "active/manager":
        engine.swarm = None  # the ping's word holds for the first check only; later ones ask again
        return {"Swarm": {"ControlAvailable": True}}
    info = engine.info()
    swarm = info.get("Swarm") or {}
    if not swarm.get("ControlAvailable"):
        raise EngineError(
            "this node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" "
            "to connect this node to swarm and try again"
        )
    return info


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
