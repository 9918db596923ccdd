"""`rm` as a plan: the stack with nothing desired, pruned by the deploy executor (Terraform's destroy).

`remove_stack(engine, stack)` observes the stack, plans the removal of every object carrying its
label (services, then secrets and configs, then networks: the executor's order, with the one
"still in use" retry of `engine.remove_retrying` while the tasks shut down), applies it with
`keep_going` (what can be removed is), removes the revision history unless `keep_history`, and waits
until the stack's networks are really gone unless `detach`, so that a deploy right afterwards does
not race the teardown (moby/moby#29293). Volumes and external objects are never removed: the
outcome lists what was kept. Prints nothing: events go to `on_event` (the executor's ApplyEvents
and `Notice`s), the command renders them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackctl.deploy import EventCallback, Notice
from stackctl.errors import ApplyError, EngineError
from stackctl.observe import KeptObjects, kept_objects
from stackctl.swarm.api import as_services
from stackctl.swarm.stacks import natural_key, object_name, stack_filters

if TYPE_CHECKING:
    from stackctl.apply.executor import ApplyResult
    from stackctl.engine import Engine

WAIT_SECONDS = 60.0  # bound on the "in use" retries and on waiting for the networks to go
POLL_SECONDS = 0.5


@dataclass
class StackRemoval:
    """What `rm` did to one stack (`stackctl rm --format json`: schema stackctl.rm/v1)."""

    stack: str
    found: bool = True
    removed: dict[str, list[str]] = field(
        default_factory=lambda: {"services": [], "secrets": [], "configs": [], "networks": [], "history": []})
    failed: list[dict[str, str]] = field(default_factory=list)
    kept: KeptObjects = field(default_factory=KeptObjects)
    networks_gone: bool | None = None

    @property
    def ok(self) -> bool:
        return self.found and not self.failed and self.networks_gone is not False

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "found": self.found, "removed": self.removed, "failed": self.failed,
                "kept": self.kept.to_json(), "networks_gone": self.networks_gone}


def _ignore(event: object) -> None:
    return None


def remove_stack(engine: Engine, stack: str, *, detach: bool = False, keep_history: bool = False,
                 on_event: EventCallback | None = None) -> StackRemoval:
    """Remove `stack` from the swarm; the outcome says what was removed, kept and what failed."""
    from stackctl.apply.executor import apply_plan
    from stackctl.convert import DesiredStack
    from stackctl.names import HISTORY_LABEL
    from stackctl.observe import observe_stack
    from stackctl.plan import make_plan

    emit = on_event or _ignore
    removal = StackRemoval(stack)
    observed = observe_stack(engine, stack)
    history = [] if keep_history else _listed(
        engine, lambda: engine.objects("config", {"label": [f"{HISTORY_LABEL}={stack}"]}), "list history")
    if not (observed.services or observed.networks or observed.secrets or observed.configs or history):
        removal.found = False
        return removal
    removal.kept = kept_objects(as_services([{"Spec": s.spec} for s in observed.services.values()]),
                                [n.id for n in observed.networks.values()],
                                [{"Id": n.id, "Name": n.name} for n in observed.all_networks.values()],
                                list(observed.secrets), list(observed.configs))
    plan = make_plan(DesiredStack(stack=stack), observed, prune=True, strict=False)
    try:
        result = apply_plan(engine, plan, resolve_image="never", on_event=emit, check_manager=False,
                            remove_retry=WAIT_SECONDS, keep_going=True)
    except ApplyError as err:
        result = err.result  # type: ignore[attr-defined]
    _account(removal, result)
    if history:
        plural = "s" if len(history) != 1 else ""
        emit(Notice(f"Removing history of {stack} ({len(history)} revision{plural})"))
        for rev in sorted(history, key=lambda c: natural_key(object_name(c))):
            try:
                engine.remove("config", rev["ID"])
            except EngineError as err:
                if err.not_found:
                    continue
                removal.failed.append({"kind": "history", "name": object_name(rev), "error": str(err)})
                continue
            removal.removed["history"].append(object_name(rev))
    if observed.networks and not detach:
        removal.networks_gone = _wait_networks_gone(engine, stack, emit)
    return removal


def _account(removal: StackRemoval, result: ApplyResult) -> None:
    for obj in result.removed:
        removal.removed[obj.kind + "s"].append(obj.name)
    removal.failed += [dict(f) for f in result.failures]
    for kind in removal.removed:
        removal.removed[kind].sort(key=natural_key)


def _listed(engine: Engine, call: Any, what: str) -> list[dict[str, Any]]:
    try:
        return list(call())
    except EngineError as err:
        raise err.during(what) from None


def _wait_networks_gone(engine: Engine, stack: str, emit: EventCallback) -> bool:
    """Poll the manager's network list until none of the stack's networks is left."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        left = _listed(engine, lambda: engine.objects("network", stack_filters(stack)), "list networks")
        if not left:
            return True
        if time.monotonic() > deadline:
            names = ", ".join(object_name(n) for n in left)
            emit(Notice(f"Warning: networks still present after {WAIT_SECONDS:.0f}s: {names}"))
            return False
        time.sleep(POLL_SECONDS)
