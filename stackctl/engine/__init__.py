"""The engine: where to connect, what its failures mean, and the one gateway that talks to it.

- `endpoint`: the docker CLI's endpoint resolution (--context, --host, DOCKER_HOST, contexts, TLS files).
- `errors`: SDK, requests and ssh failures translated into `EngineError`s in the user's words.
- `gateway`: `Engine`, the only code that imports the docker SDK (`connect`, `open_engine`).
- `ssh`: ssh:// hosts through the system `ssh` (the gateway's transport).

Callers import from `stackctl.engine`; the names below are the package's interface.
"""

from stackctl.engine.endpoint import Endpoint, TlsFiles, endpoint_from
from stackctl.engine.errors import (
    AUTH,
    MISSING,
    describe_engine_failure,
    registry_verdict,
    ssh_problem,
    translate,
)
from stackctl.engine.gateway import (
    Engine,
    EngineInfo,
    LogStream,
    connect,
    open_engine,
    remove_retrying,
    require_manager,
)

__all__ = [
    "AUTH", "MISSING", "Endpoint", "Engine", "EngineInfo", "LogStream", "TlsFiles", "connect",
    "describe_engine_failure", "endpoint_from", "open_engine", "registry_verdict", "remove_retrying",
    "require_manager", "ssh_problem", "translate",
]
