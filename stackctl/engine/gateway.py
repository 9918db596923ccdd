"""The engine gateway: the only module that talks to the docker SDK.

`Engine` wraps one SDK client. It uses the SDK's public API where the SDK has one and its
low-level `APIClient` where it does not (raw JSON specs, log streams); every failure of
either, or of requests below them, goes through `engine.errors.translate` and comes out as an
`EngineError` carrying the HTTP status and the engine's message, so the rest of stackctl
decides on status codes and never on message text.

`connect(host, tls, context)` takes its settings as arguments (`engine.endpoint` resolves them
from an environment as the docker CLI does), and `open_engine` joins the two for commands.
ssh:// hosts go through the system `ssh` as the docker CLI's do (`engine.ssh`, this gateway's
transport).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar, cast

from stackctl.engine.endpoint import DEFAULT_HOST, TlsFiles, context_endpoint, endpoint_from
from stackctl.engine.errors import describe_connect_failure, ssh_exited, translate
from stackctl.errors import EngineError, UsageError

if TYPE_CHECKING:
    from requests import Response

T = TypeVar("T")

# Kinds `Engine.objects/inspect/create/update/remove` know, with the path segment of each.
KINDS = {"service": "services", "task": "tasks", "node": "nodes", "network": "networks",
         "secret": "secrets", "config": "configs", "volume": "volumes", "container": "containers"}
# What a DELETE of an object still used by tasks gets: 400 (swarmkit's FailedPrecondition for a
# network, InvalidArgument for a secret/config, measured on engine 20.10, API 1.41), 403 and 409
# (newer engines: "active endpoints", "in use"). Retried while tasks shut down.
IN_USE_STATUSES = frozenset({400, 403, 409})


class SwarmInfo(TypedDict, total=False):
    """`Swarm` of `GET /info` (what stackctl reads of it)."""

    ControlAvailable: bool
    LocalNodeState: str
    NodeID: str


class EngineInfo(TypedDict, total=False):
    """`GET /info` (what stackctl reads of it)."""

    Swarm: SwarmInfo
    SystemTime: str
    ServerVersion: str


class CreatedJson(TypedDict, total=False):
    """The engine's answer to a create or an update (`ID` for services, `Id` for the others)."""

    ID: str
    Id: str
    Warnings: list[str] | None


# --- connecting -------------------------------------------------------------------------------


def _tls_config(tls: TlsFiles | None) -> object:
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


def _new_client(docker: ModuleType, host: str, tls: TlsFiles | None, timeout: int) -> Any:
    """The SDK client for `host`, on the lowest API version until the ping has negotiated one.

    ssh:// hosts never use the SDK's own ssh transport (paramiko, or its `use_ssh_client` shell-out):
    `engine.ssh` runs the system `ssh` exactly as the docker CLI does, one process per connection,
    mounted as the client's only adapter."""
    minimum = docker.constants.MINIMUM_DOCKER_API_VERSION
    if not host.startswith("ssh://"):
        return docker.DockerClient(base_url=host, tls=_tls_config(tls), timeout=timeout, version=minimum)
    from stackctl.engine import ssh as engine_ssh

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

    def merged(url: object, proxies: object, stream: object, verify: object,
               cert: object) -> dict[str, object]:
        settings: dict[str, object] = merge(url, proxies, stream, verify, cert)
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

    def one_pool(url: object, proxies: object = None) -> object:
        return by_url(base, proxies)

    adapter.get_connection = one_pool
    api.trust_env = False


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (0,)


def _load_sdk() -> ModuleType:
    """The docker SDK, without paramiko.

    The SDK imports paramiko whenever it is installed (~0.25 s, most of `import docker`), only to
    offer its own ssh transport, which stackctl never uses (`engine.ssh` runs the system ssh). So a
    paramiko installed for something else is kept out of the first import."""
    if "docker" not in sys.modules:
        blocked = sys.modules.setdefault("paramiko", None) is None  # type: ignore[arg-type]
        try:
            import docker
        finally:
            if blocked and sys.modules.get("paramiko", 0) is None:
                del sys.modules["paramiko"]
    import docker

    sdk: ModuleType = docker
    return sdk


def connect(host: str | None = None, tls: TlsFiles | None = None, context: str | None = None, *,
            config_dir: str | None = None, debug: bool = False, timeout: int = 60) -> Engine:
    """An Engine on `host` (or the docker CLI context `context`), API version negotiated."""
    if not host and context and context != "default":
        ctx = context_endpoint(context, config_dir)
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
        message = failure.message if ssh_exited(err) is not None else describe_connect_failure(err, host)
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


# --- the gateway -------------------------------------------------------------------------------


def _request_args(params: Mapping[str, object] | None, headers: Mapping[str, str] | None,
                  timeout: float | None) -> dict[str, object]:
    """The keyword arguments of one raw request (only what is set: the client's defaults otherwise)."""
    kwargs: dict[str, object] = {"params": dict(params or {})}
    if headers:
        kwargs["headers"] = dict(headers)
    if timeout:
        kwargs["timeout"] = timeout
    return kwargs


class LogStream:
    """A raw log response: `read(n)` bytes (multiplexed unless the service has a TTY), `close()`."""

    def __init__(self, response: Response, engine: Engine) -> None:
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
        except Exception as err:
            failure = translate(err, self.host)
            if failure is None:
                raise
            raise failure from None

    # raw calls (the low-level client: JSON bodies exactly as given)
    def get(self, path: str, params: Mapping[str, object] | None = None, *,
            headers: Mapping[str, str] | None = None, timeout: float | None = None) -> Any:
        def call() -> Any:
            resp = self._api._get(self._api._url(path), **_request_args(params, headers, timeout))
            self._api._raise_for_status(resp)
            return resp.json()

        return self._call(call)

    def post(self, path: str, body: object = None, params: Mapping[str, object] | None = None, *,
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

    def delete(self, path: str, params: Mapping[str, object] | None = None) -> None:
        def call() -> None:
            resp = self._api._delete(self._api._url(path), params=dict(params or {}))
            self._api._raise_for_status(resp)

        self._call(call)

    def stream(self, path: str, params: Mapping[str, object] | None = None) -> LogStream:
        """A streamed GET without the socket timeout (for `logs --follow`)."""
        def call() -> Response:
            resp: Response = self._api._get(self._api._url(path), params=dict(params or {}), stream=True)
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
        params: dict[str, object] = {"filters": json.dumps(dict(filters or {}))}
        if since is not None:
            params["since"] = since

        def call() -> Response:
            url = self._api._url("/events")
            resp: Response = self._api._get(url, params=params, stream=True, timeout=None)
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
    def info(self) -> EngineInfo:
        info: EngineInfo = self._call(self._api.info)
        return info

    def objects(self, kind: str, filters: Mapping[str, object] | None = None) -> list[dict[str, Any]]:
        """Objects of one kind (service, task, node, network, secret, config, volume)."""
        flt = dict(filters) if filters else None
        if kind == "volume":
            return list((self._call(lambda: self._api.volumes(filters=flt)) or {}).get("Volumes") or [])
        method = getattr(self._api, KINDS[kind])
        return list(self._call(lambda: method(filters=flt)) or [])

    def inspect(self, kind: str, ident: str) -> dict[str, Any]:
        method = getattr(self._api, f"inspect_{kind}")
        return dict(self._call(lambda: method(ident)))

    def create(self, kind: str, spec: Mapping[str, object], *, headers: Mapping[str, str] | None = None
               ) -> CreatedJson:
        """POST the spec as it is; the engine's answer (`ID` or `Id`, `Warnings`)."""
        return cast(CreatedJson, self.post(f"/{KINDS[kind]}/create", spec, headers=headers) or {})

    def update(self, kind: str, ident: str, version: int, spec: Mapping[str, object], *,
               headers: Mapping[str, str] | None = None) -> CreatedJson:
        return cast(CreatedJson, self.post(f"/{KINDS[kind]}/{ident}/update", spec, {"version": version},
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

    def service_logs(self, service_id: str, params: Mapping[str, object]) -> LogStream:
        return self.stream(f"/services/{service_id}/logs", params)

    def log_calls(self) -> None:
        """--debug: one stderr line per engine call (method, path, status); bodies are never logged."""
        def hook(resp: Response, *args: object, **kwargs: object) -> None:
            req = resp.request
            print(f"debug: {req.method} {req.path_url} -> {resp.status_code}", file=sys.stderr)

        self._api.hooks["response"].append(hook)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
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


def require_manager(engine: Engine) -> EngineInfo:
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
