"""`stackctl rm STACK...`: remove services, then secrets, configs and networks, and wait until the
networks are really gone, so that a deploy right afterwards does not race the teardown
(moby/moby#29293). Volumes and external objects are never removed; the command says what it kept.

Order: services (then wait until none of their tasks still runs: a network or secret in use by a
running task cannot be removed), secrets, configs, networks (retried while the engine still
reports them in use), then poll the network list until the stack's networks are absent.
`--detach` skips only that last poll. The stack's revision history (stackctl-history-STACK-N
configs) goes too, unless `--keep-history`: it would otherwise pile up across rm/deploy cycles.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
    client = connect_manager(context, debug)
    def say(msg: str) -> None:
        if fmt != "json":
            print(msg, flush=True)

    results = [_remove_stack(client.api, stack.strip(), detach=detach, keep_history=keep_history, say=say)
               for stack in stacks]
    code = 0
    for r in results:
        if not r.found:
            code = EXIT_ERROR
            if fmt != "json":
                print(f"error: {not_found(r.stack, client)}", file=sys.stderr)
        elif r.failed or r.networks_gone is False:
            code = EXIT_ERROR
            if fmt != "json":
                print(f"error: failed to remove some resources from stack: {r.stack}", file=sys.stderr)
    if fmt == "json":
        print_json({"schema": "stackctl.rm/v1", "stacks": [r.to_json() for r in results]})
    return code


def _remove_stack(api: Any, stack: str, *, detach: bool, keep_history: bool,
                  say: Callable[[str], None]) -> StackRemoval:
    from stackctl.history import HISTORY_LABEL

    result = StackRemoval(stack)
    label = stack_filters(stack)
    services = api_call("list services", lambda: api.services(filters=label))
    networks = api_call("list networks", lambda: api.networks(filters=label))
    secrets = api_call("list secrets", lambda: api.secrets(filters=label))
    configs = api_call("list configs", lambda: api.configs(filters=label))
    history = [] if keep_history else api_call(
        "list history", lambda: api.configs(filters={"label": [f"{HISTORY_LABEL}={stack}"]}))
    if not (services or networks or secrets or configs or history):
        result.found = False
        return result

    all_networks = api_call("list networks", lambda: api.networks()) if services else []
    result.kept = kept_objects(services, [n["Id"] for n in networks], all_networks,
                               [object_name(s) for s in secrets], [object_name(c) for c in configs])

    def remove(kind: str, obj: dict[str, Any], call: Callable[[str], Any], obj_id: str) -> bool:
        name = object_name(obj)
        say(f"Removing {kind} {name}")
        try:
            api_call(f"remove {kind} {name}", lambda: call(obj_id))
        except EngineError as err:
            if "not found" in str(err).lower():  # already gone: that is what we wanted
                result.removed[kind + "s"].append(name)
                return True
            result.failed.append({"kind": kind, "name": name, "error": str(err)})
            say(f"Failed to remove {kind} {name}: {err}")
            return False
        result.removed[kind + "s"].append(name)
        return True

    for svc in sorted(services, key=lambda s: natural_key(object_name(s))):
        remove("service", svc, api.remove_service, svc["ID"])
    if services:
        _wait_tasks_stopped(api, stack, say)
    for sec in sorted(secrets, key=lambda s: natural_key(object_name(s))):
        remove("secret", sec, api.remove_secret, sec["ID"])
    for cfg in sorted(configs, key=lambda c: natural_key(object_name(c))):
        remove("config", cfg, api.remove_config, cfg["ID"])
    for net in sorted(networks, key=lambda n: natural_key(object_name(n))):
        _remove_network(api, net, result, say)
    if history:
        say(f"Removing history of {stack} ({len(history)} revision{'s' if len(history) != 1 else ''})")
        for rev in sorted(history, key=lambda c: natural_key(object_name(c))):
            try:
                api_call("remove history", lambda rev=rev: api.remove_config(rev["ID"]))
            except EngineError as err:
                result.failed.append({"kind": "history", "name": object_name(rev), "error": str(err)})
                continue
            result.removed["history"].append(object_name(rev))

    if networks and not detach:
        result.networks_gone = _wait_networks_gone(api, stack, say)
    line = kept_line(result.kept)
    if line:
        say(line + " (not removed)")
    return result


def _wait_tasks_stopped(api: Any, stack: str, say: Callable[[str], None]) -> bool:
    """Poll until no task of the stack is still running (or about to)."""
    deadline = time.monotonic() + WAIT_SECONDS
    announced = False
    while True:
        tasks = api_call("list tasks", lambda: api.tasks(filters=stack_filters(stack)))
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


def _remove_network(api: Any, net: dict[str, Any], result: StackRemoval, say: Callable[[str], None]) -> None:
    """Remove one network, retrying while the engine still reports it in use (tasks tearing down)."""
    name = object_name(net)
    say(f"Removing network {name}")
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            api_call(f"remove network {name}", lambda: api.remove_network(net["Id"]))
            result.removed["networks"].append(name)
            return
        except EngineError as err:
            text = str(err).lower()
            if "not found" in text or "no such network" in text:
                result.removed["networks"].append(name)
                return
            if "in use" in text and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
                continue
            result.failed.append({"kind": "network", "name": name, "error": str(err)})
            say(f"Failed to remove network {name}: {err}")
            return


def _wait_networks_gone(api: Any, stack: str, say: Callable[[str], None]) -> bool:
    """Poll the manager's network list until none of the stack's networks is left."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        left = api_call("list networks", lambda: api.networks(filters=stack_filters(stack)))
        if not left:
            return True
        if time.monotonic() > deadline:
            names = ", ".join(object_name(n) for n in left)
            say(f"Warning: networks still present after {WAIT_SECONDS:.0f}s: {names}")
            return False
        time.sleep(POLL_SECONDS)
