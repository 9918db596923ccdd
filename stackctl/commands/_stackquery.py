"""Engine access shared by the troubleshooting commands (ps, ls, services, rm, logs).

Every call goes through `api_call`, so an engine refusal becomes an EngineError with one clear
line, never a traceback. Lists are fetched with label filters: a fixed number of calls per
command, never one per service.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from stackctl.errors import EngineError, StackctlError, UsageError

T = TypeVar("T")

TABLE_FORMATS = ("table", "json")
TEXT_FORMATS = ("text", "json")


def check_format(fmt: str, allowed: Iterable[str]) -> str:
    """Normalise `--format`; `text` and `table` are the same thing for these commands."""
    allowed = tuple(allowed)
    value = (fmt or "").strip().lower()
    if value in ("text", "table") and ("text" in allowed or "table" in allowed):
        return "json" if value == "json" else allowed[0]
    if value not in allowed:
        raise UsageError(f"invalid --format {fmt!r} (expected one of: {', '.join(allowed)})")
    return value


def connect_manager(context: str | None, debug: bool) -> Any:
    """A client for the swarm manager (fails clearly on a worker or a non-swarm engine)."""
    from stackctl.engine import connect, require_manager

    client = connect(context, debug)
    api_call("read engine info", lambda: require_manager(client))
    return client


def api_call(what: str, fn: Callable[[], T]) -> T:
    """Run one engine call; its failure becomes `EngineError("cannot <what>: <reason>")`."""
    from docker.errors import APIError, DockerException
    from requests.exceptions import RequestException

    try:
        return fn()
    except StackctlError:
        raise
    except APIError as err:
        reason = err.explanation or str(err)
        if isinstance(reason, bytes):
            reason = reason.decode(errors="replace")
        raise EngineError(f"cannot {what}: {reason}") from None
    except (DockerException, RequestException) as err:
        raise EngineError(f"cannot {what}: {err}") from None


def engine_name(client: Any) -> str:
    """The engine a client talks to, as DOCKER_HOST spells it: says which swarm "nothing" was found on
    (a forgotten `eval "$(stackctl lab env)"` silently asks another engine)."""
    api = getattr(client, "api", client)
    socket_path = getattr(getattr(api, "_custom_adapter", None), "socket_path", None)
    if socket_path:
        return f"unix://{socket_path}"
    return str(getattr(api, "base_url", "") or "unknown engine")


def not_found(stack: str, client: Any = None) -> EngineError:
    """`nothing found in stack: NAME (engine: unix:///var/run/docker.sock)`: exit 1."""
    where = f" (engine: {engine_name(client)})" if client is not None else ""
    return EngineError(f"nothing found in stack: {stack}{where}")
