"""Where to connect: the docker CLI's endpoint resolution, as plain data (no SDK here).

`endpoint_from` reads an environment the way the docker CLI does (--context over --host over
DOCKER_HOST over DOCKER_CONTEXT over the current context of ~/.docker/config.json, else the
default socket), with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH; `context_endpoint` reads a named
context's host and TLS files. The gateway (`engine.gateway.connect`) dials what they give.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

from stackctl.errors import EngineError, UsageError

DEFAULT_HOST = "unix:///var/run/docker.sock"


class ContextEndpointJson(TypedDict, total=False):
    """`Endpoints.docker` of a context's meta.json (what stackctl reads of it)."""

    Host: str
    SkipTLSVerify: bool


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


def context_endpoint(name: str, config_dir: str | None) -> Endpoint:
    """Host and TLS files of a docker CLI context (~/.docker/contexts/meta/<sha256(name)>/meta.json)."""
    base = Path(config_dir or Path.home() / ".docker") / "contexts"
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = base / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError) as err:
        raise EngineError(f"docker context {name!r} not found ({meta})") from err
    endpoints = data.get("Endpoints") if isinstance(data, dict) else None
    found = endpoints.get("docker") if isinstance(endpoints, dict) else None
    endpoint = cast(ContextEndpointJson, found if isinstance(found, dict) else {})
    tls_dir = base / "tls" / digest / "docker"
    tls = TlsFiles(str(tls_dir), not endpoint.get("SkipTLSVerify", False)) if tls_dir.is_dir() else None
    return Endpoint(host=endpoint.get("Host") or DEFAULT_HOST, tls=tls, context=name)
