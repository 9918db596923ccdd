"""`stackctl rm STACK...`: remove services, then secrets, configs and networks, and wait until the
networks are really gone, so that a deploy right afterwards does not race the teardown
(moby/moby#29293). Volumes and external objects are never removed; the command says what it kept.

Order: services (then wait until none of their tasks still runs: a network or secret in use by a
running task cannot be removed), secrets, configs, networks (retried while the engine still
refuses them while in use), then poll the network list until the stack's networks are absent.
`--detach` skips only that last poll. The stack's revision history (stackctl-history-STACK-N
configs, which carry the stack namespace label so `docker stack rm` takes them too) goes as well,
unless `--keep-history`: it would otherwise pile up across rm/deploy cycles.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackctl.commands._stackquery import TEXT_FORMATS, api_call, check_format, connect_manager, not_found
from stackctl.errors import EXIT_ERROR, EngineError
from stackctl.inspect_tasks import (
    TERMINAL_STATES,
    KeptObjects,
    kept_objects,
    natural_key,
    object_name,
    stack_filters,
)
from stackctl.render.tables import kept_line, print_json

if TYPE_CHECKING:
    from stackctl.engine import Engine

WAIT_SECONDS = 60.0  # bound on each wait (tasks stopping, networks disappearing)
POLL_SECONDS = 0.5


@dataclass
class StackRemoval:
    stack: str
    found: bool = True
    removed: dict[str, list[str]] = field(
        default_factory=lambda: {"services": [], "secrets": [], "configs": [], "networks": [], "history": []})
    failed: list[dict[str, str]] = field(default_factory=list)
    kept: KeptObjects = field(default_factory=KeptObjects)
    networks_gone: bool | None = None

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "found": self.found, "removed": self.removed, "failed": self.failed,
                "kept": self.kept.to_json(), "networks_gone": self.networks_gone}


def run(*, stacks: list[str], detach: bool = False, fmt: str = "text", context: str | None = None,
        debug: bool = False, keep_history: bool = False) -> int:
    fmt = check_format(fmt, TEXT_FORMATS)
    engine = connect_manager(context, debug)

    def say(msg: str) -> None:
        if fmt != "json":
            print(msg, flush=True)

    results = [_remove_stack(engine, stack.strip(), detach=detach, keep_history=keep_history, say=say)
               for stack in stacks]
    code = 0
    for r in results:
        if not r.found:
            code = EXIT_ERROR
            if fmt != "json":
                print(f"error: {not_found(r.stack, engine)}", file=sys.stderr)
        elif r.failed or r.networks_gone is False:
            code = EXIT_ERROR
            if fmt != "json":
                print(f"error: failed to remove some resources from stack: {r.stack}", file=sys.stderr)
    if fmt == "json":
        print_json({"schema": "stackctl.rm/v1", "stacks": [r.to_json() for r in results]})
    return code


def _remove_stack(engine: Engine, stack: str, *, detach: bool, keep_history: bool,
                  say: Callable[[str], None]) -> StackRemoval:
    from stackctl.engine import remove_retrying
    from stackctl.history import HISTORY_LABEL, is_history

    result = StackRemoval(stack)
    label = stack_filters(stack)
    services = api_call("list services", lambda: engine.objects("service", label))
    networks = api_call("list networks", lambda: engine.objects("network", label))
    secrets = api_call("list secrets", lambda: engine.objects("secret", label))
    labelled = api_call("list configs", lambda: engine.objects("config", label))
    # Revisions carry the namespace label too (so `docker stack rm` takes them): sort them out.
    configs = [c for c in labelled if not is_history((c.get("Spec") or {}).get("Labels"))]
    history: list[dict[str, Any]] = []
    if not keep_history:  # also the revisions recorded before they carried the namespace label
        by_history = {"label": [f"{HISTORY_LABEL}={stack}"]}
        history = api_call("list history", lambda: engine.objects("config", by_history))
    if not (services or networks or secrets or configs or history):
        result.found = False
        return result

    all_networks = api_call("list networks", lambda: engine.objects("network")) if services else []
    result.kept = kept_objects(services, [n["Id"] for n in networks], all_networks,
                               [object_name(s) for s in secrets], [object_name(c) for c in configs])

    def remove(kind: str, obj: dict[str, Any], retry_seconds: float = 0.0) -> bool:
        """Remove one object; one already gone counts as removed (that is what we wanted)."""
        name = object_name(obj)
        say(f"Removing {kind} {name}")
        try:
            api_call(f"remove {kind} {name}",
                     lambda: remove_retrying(engine, kind, obj.get("ID") or obj["Id"], retry_seconds))
        except EngineError as err:
            result.failed.append({"kind": kind, "name": name, "error": str(err)})
            say(f"Failed to remove {kind} {name}: {err}")
            return False
        result.removed[kind + "s"].append(name)
        return True

    for svc in sorted(services, key=lambda s: natural_key(object_name(s))):
        remove("service", svc)
    if services:
        _wait_tasks_stopped(engine, stack, say)
    for sec in sorted(secrets, key=lambda s: natural_key(object_name(s))):
        remove("secret", sec)
    for cfg in sorted(configs, key=lambda c: natural_key(object_name(c))):
        remove("config", cfg)
    for net in sorted(networks, key=lambda n: natural_key(object_name(n))):
        remove("network", net, WAIT_SECONDS)  # retried while tasks tearing down still use it
    if history:
        say(f"Removing history of {stack} ({len(history)} revision{'s' if len(history) != 1 else ''})")
        for rev in sorted(history, key=lambda c: natural_key(object_name(c))):
            try:
                api_call("remove history", lambda rev=rev: engine.remove("config", rev["ID"]))
            except EngineError as err:
                result.failed.append({"kind": "history", "name": object_name(rev), "error": str(err)})
                continue
            result.removed["history"].append(object_name(rev))

    if networks and not detach:
        result.networks_gone = _wait_networks_gone(engine, stack, say)
    line = kept_line(result.kept)
    if line:
        say(line + " (not removed)")
    return result


def _wait_tasks_stopped(engine: Engine, stack: str, say: Callable[[str], None]) -> bool:
    """Poll until no task of the stack is still running (or about to)."""
    deadline = time.monotonic() + WAIT_SECONDS
    announced = False
    while True:
        tasks = api_call("list tasks", lambda: engine.objects("task", stack_filters(stack)))
        live = [t for t in tasks if (t.get("Status") or {}).get("State") not in TERMINAL_STATES]
        if not live:
            return True
        if time.monotonic() > deadline:
            say(f"Warning: {len(live)} task(s) of stack {stack} still running after {WAIT_SECONDS:.0f}s")
            return False
        if not announced:
            say(f"Waiting for {len(live)} task(s) to stop")
            announced = True
        time.sleep(POLL_SECONDS)


def _wait_networks_gone(engine: Engine, stack: str, say: Callable[[str], None]) -> bool:
    """Poll the manager's network list until none of the stack's networks is left."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        left = api_call("list networks", lambda: engine.objects("network", stack_filters(stack)))
        if not left:
            return True
        if time.monotonic() > deadline:
            names = ", ".join(object_name(n) for n in left)
            say(f"Warning: networks still present after {WAIT_SECONDS:.0f}s: {names}")
            return False
        time.sleep(POLL_SECONDS)
