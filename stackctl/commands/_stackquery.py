"""Engine access shared by the troubleshooting commands (ps, ls, services, rm, logs).

Every call goes through `api_call`, so an engine refusal (an EngineError from the gateway)
reads as one clear line naming what was being done, never a traceback. Lists are fetched with
label filters: a fixed number of calls per command, never one per service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from stackctl.errors import EngineError

if TYPE_CHECKING:
    from stackctl.engine import Engine

T = TypeVar("T")

def connect_manager(context: str | None, debug: bool) -> Engine:
    """The gateway to the swarm manager (fails clearly on a worker or a non-swarm engine)."""
    from stackctl.engine import open_engine, require_manager

    engine = open_engine(context, debug)
    api_call("read engine info", lambda: require_manager(engine))
    return engine


def api_call(what: str, fn: Callable[[], T]) -> T:
    """Run one engine call; its failure becomes `EngineError("cannot <what>: <reason>")`."""
    try:
        return fn()
    except EngineError as err:
        if err.status is None and not err.reason:
            raise  # already a sentence of ours (not a manager...)
        raise err.during(what) from None


def engine_name(engine: Engine) -> str:
    """The engine asked, as DOCKER_HOST spells it: says which swarm "nothing" was found on
    (a forgotten `eval "$(stackctl lab env)"` silently asks another engine)."""
    return engine.host or "the default engine"


def not_found(stack: str, engine: Engine | None = None) -> EngineError:
    """`nothing found in stack: NAME (engine: unix:///var/run/docker.sock)`: exit 1."""
    where = f" (engine: {engine_name(engine)})" if engine is not None else ""
    return EngineError(f"nothing found in stack: {stack}{where}")
