"""The engine connection: the only module that imports the docker SDK.

Connection the docker way: DOCKER_HOST (unix, tcp + DOCKER_TLS_VERIFY/DOCKER_CERT_PATH,
ssh), DOCKER_CONTEXT or --context, API version negotiated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from stackctl.errors import EngineError


def _context_host(name: str) -> dict[str, Any]:
    """Endpoint of a docker CLI context (~/.docker/contexts/meta/<sha256(name)>/meta.json)."""
    import hashlib

    if name == "default":
        return {}
    cfg_dir = Path(os.environ.get("DOCKER_CONFIG", Path.home() / ".docker"))
    meta = cfg_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest() / "meta.json"
    try:
        data = json.loads(meta.read_text())
    except OSError as err:
        raise EngineError(f"docker context {name!r} not found ({meta})") from err
    endpoint = data.get("Endpoints", {}).get("docker", {})
    tls_dir = cfg_dir / "contexts" / "tls" / hashlib.sha256(name.encode()).hexdigest() / "docker"
    out: dict[str, Any] = {"host": endpoint.get("Host")}
    if tls_dir.is_dir():
        out["tls_dir"] = str(tls_dir)
        out["tls_verify"] = not endpoint.get("SkipTLSVerify", False)
    return out


def _tls_from_env(environ: Any) -> Any:
    """DOCKER_TLS_VERIFY / DOCKER_CERT_PATH as the docker CLI reads them, checked up front so a
    missing file is named (the SDK's own message does not say which)."""
    import docker

    cert_path = environ.get("DOCKER_CERT_PATH") or None
    verify_var = environ.get("DOCKER_TLS_VERIFY")
    verify = verify_var is not None and verify_var != ""
    if not (cert_path or verify):
        return False
    folder = Path(cert_path or Path.home() / ".docker")
    needed = ["cert.pem", "key.pem"] + (["ca.pem"] if verify else [])
    missing = [name for name in needed if not (folder / name).is_file()]
    if missing:
        raise EngineError(
            f"TLS is on (DOCKER_TLS_VERIFY/DOCKER_CERT_PATH) but {folder} has no {', '.join(missing)} "
            "(DOCKER_CERT_PATH must name a folder holding ca.pem, cert.pem and key.pem)"
        )
    return docker.tls.TLSConfig(
        client_cert=(str(folder / "cert.pem"), str(folder / "key.pem")),
        ca_cert=str(folder / "ca.pem") if verify else None,
        verify=verify,
    )


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


def _version_tuple(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (0,)


def _describe_failure(err: BaseException, host: str) -> str:
    """One clear sentence for the usual ways a connection fails."""
    text = str(err)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        import re

        reason = re.search(r"certificate verify failed: ([^(\)']+)", text)
        why = reason.group(1).strip() if reason else "certificate verify failed"
        return (f"cannot verify the TLS certificate of the Docker engine at {host}: {why} "
                "(is DOCKER_CERT_PATH's ca.pem the CA that signed the engine's certificate, and does "
                "the certificate name this host?)")
    if "ALERT_BAD_CERTIFICATE" in text or "alert bad certificate" in text or "CERTIFICATE_REQUIRED" in text:
        return (f"the Docker engine at {host} refused stackctl's TLS client certificate (TLS alert: bad "
                "certificate): DOCKER_CERT_PATH's cert.pem must be signed by a CA the engine trusts")
    if "HTTP request to an HTTPS server" in text:
        return (f"the Docker engine at {host} speaks TLS only: set DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH "
                "to a folder with ca.pem, cert.pem and key.pem")
    if "SSL" in text or "TLS" in text or "tls" in text:
        return f"TLS handshake with the Docker engine at {host} failed: {_short(text)}"
    return f"cannot reach the Docker engine at {host}: {_short(text)}"


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


def describe_engine_failure(err: BaseException) -> str | None:
    """A clear sentence when a command failed because the engine went away or refused a call
    after connecting (dockerd stopped, restarted, unreachable); None for anything else."""
    import sys

    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    requests_exc = sys.modules.get("requests.exceptions")
    if requests_exc is not None:
        if isinstance(err, requests_exc.Timeout):
            return (f"the Docker engine at {host} stopped answering (timed out); what was already sent "
                    "stays applied: rerun the command once the engine answers again")
        if isinstance(err, requests_exc.ConnectionError):
            return (f"lost the connection to the Docker engine at {host} ({_short(str(err))}; did it stop or "
                    "restart?); what was already sent stays applied: rerun the command once the engine is "
                    "back (a rerun deploy converges)")
    docker_errors = sys.modules.get("docker.errors")
    if docker_errors is not None and isinstance(err, docker_errors.APIError):
        explanation = err.explanation or str(err)
        if isinstance(explanation, bytes):
            explanation = explanation.decode(errors="replace")
        return f"the Docker engine at {host} refused a request: {explanation}"
    return None


def connect(context: str | None = None, debug: bool = False, timeout: int = 60) -> Any:
    """A docker.DockerClient for DOCKER_HOST / --context, with the API version negotiated."""
    import docker
    import requests
    from docker.errors import DockerException

    context = context or os.environ.get("DOCKER_CONTEXT")
    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    try:
        if context and context != "default":
            ctx = _context_host(context)
            host = ctx.get("host") or host
            tls: Any = False
            if ctx.get("tls_dir"):
                d = ctx["tls_dir"]
                tls = docker.tls.TLSConfig(
                    client_cert=(f"{d}/cert.pem", f"{d}/key.pem"),
                    ca_cert=f"{d}/ca.pem" if ctx.get("tls_verify") else None,
                    verify=ctx.get("tls_verify", True),
                )
            base_url = ctx.get("host")
        else:
            tls = _tls_from_env(os.environ)
            base_url = os.environ.get("DOCKER_HOST") or None
        # Negotiate the API version ourselves: the SDK's "auto" talks to the engine inside the
        # constructor, before the TLS trust can be pinned.
        # ssh:// goes through the system ssh binary, as the docker CLI does (~/.ssh/config, agents).
        use_ssh_client = bool(base_url and base_url.startswith("ssh://"))
        probe = docker.APIClient(base_url=base_url, tls=tls, timeout=timeout, use_ssh_client=use_ssh_client,
                                 version=docker.constants.MINIMUM_DOCKER_API_VERSION)
        _pin_tls_trust(probe)
        try:
            server = str(probe.version(api_version=False).get("ApiVersion") or "")
        finally:
            probe.close()
        version = docker.constants.DEFAULT_DOCKER_API_VERSION
        if server and _version_tuple(server) < _version_tuple(version):
            version = server
        client = docker.DockerClient(base_url=base_url, tls=tls, version=version, timeout=timeout,
                                     use_ssh_client=use_ssh_client)
        _pin_tls_trust(client.api)
        client.ping()
    except (DockerException, requests.exceptions.RequestException) as err:
        raise EngineError(_describe_failure(err, host)) from None
    if debug:
        _install_debug_logging(client)
    return client


def _install_debug_logging(client: Any) -> None:
    """--debug: one stderr line per engine call (method, path, status); bodies are never logged."""
    import sys

    session = client.api

    def hook(resp: Any, *args: Any, **kwargs: Any) -> None:
        req = resp.request
        print(f"debug: {req.method} {req.path_url} -> {resp.status_code}", file=sys.stderr)

    session.hooks["response"].append(hook)


def require_manager(client: Any) -> dict[str, Any]:
    """Fail before any write when the engine is not a swarm manager."""
    info = client.info()
    swarm = info.get("Swarm") or {}
    if not swarm.get("ControlAvailable"):
        raise EngineError(
            "this node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" "
            "to connect this node to swarm and try again"
        )
    return info
