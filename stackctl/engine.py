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


def connect(context: str | None = None, debug: bool = False, timeout: int = 60) -> Any:
    """A docker.DockerClient for DOCKER_HOST / --context, with the API version negotiated."""
    import docker
    from docker.errors import DockerException

    context = context or os.environ.get("DOCKER_CONTEXT")
    try:
        if context and context != "default":
            ctx = _context_host(context)
            tls: Any = False
            if ctx.get("tls_dir"):
                d = ctx["tls_dir"]
                tls = docker.tls.TLSConfig(
                    client_cert=(f"{d}/cert.pem", f"{d}/key.pem"),
                    ca_cert=f"{d}/ca.pem" if ctx.get("tls_verify") else None,
                    verify=ctx.get("tls_verify", True),
                )
            client = docker.DockerClient(base_url=ctx["host"], tls=tls, version="auto", timeout=timeout)
        else:
            client = docker.from_env(version="auto", timeout=timeout)
        client.ping()
    except DockerException as err:
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        raise EngineError(f"cannot reach the Docker engine at {host}: {err}",
                          ) from None
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
