"""`stackctl promote --from A --to B`: deploy B's stack with the images A runs right now.

"The image running" in A, most faithful first:

1. the digest in the running tasks' `Spec.ContainerSpec.Image` (`name:tag@sha256:...`): the
   swarm resolved it from a registry when A was deployed and every task of that spec runs
   exactly that manifest, on every node, so the pin is portable;
2. without a digest (no registry, as on the lab, or `--resolve-image never`), the image ID
   of each running task's container, read from the engine of the node that runs it (the
   manager's API does not know it). The pin is then the bare ID `sha256:...`, which the
   engine runs without pulling, but only on nodes that hold that exact image; all running
   tasks of a service must agree, or there is no single "what was tested" to ship.
   Node engines are reached through $STACKCTL_NODE_HOST (a template with `{hostname}` and
   `{addr}`, e.g. `tcp://{addr}:2376`), else the lab's per-node socket when it exists.

Anything else (a service with no running task, a node engine that cannot be reached)
stops the promotion before anything is deployed: shipping an unpinned tag would defeat
the point.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from stackctl.errors import Diagnostic, EngineError, PlanError, UsageError
from stackctl.images import has_digest, task_image
from stackctl.names import NAMESPACE_LABEL, descope

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.fanout.spec import Rollout

NODE_HOST_ENV = "STACKCTL_NODE_HOST"
LAB_NODE_HOST = "unix:///run/stackctl-lab/{hostname}/docker.sock"


@dataclass(frozen=True)
class Pin:
    service: str  # descoped name
    declared: str  # image in the target environment's file
    pinned: str  # what the target will run
    source: str  # "digest" | "image-id"
    seen_on: tuple[str, ...]  # nodes whose running tasks were checked


@dataclass
class RunningImages:
    """What one service of the source runs: its running tasks' spec images and container image IDs."""

    running: int = 0  # running tasks
    specs: set[str] = field(default_factory=set)  # their spec images (`name:tag@sha256:…` when pinned)
    ids: dict[str, set[str]] = field(default_factory=dict)  # container image ID -> nodes that run it
    unreachable: set[str] = field(default_factory=set)  # nodes whose engine could not be asked


def _node_engine(hostname: str, addr: str) -> Engine | None:
    from stackctl.engine import connect

    template = os.environ.get(NODE_HOST_ENV)
    if not template:
        path = LAB_NODE_HOST.format(hostname=hostname).removeprefix("unix://")
        if not os.path.exists(path):
            return None
        template = LAB_NODE_HOST
    try:
        return connect(template.format(hostname=hostname, addr=addr), timeout=20)
    except EngineError:  # reported by the caller as "unreachable"
        return None


def running_images(engine: Engine, stack: str) -> dict[str, RunningImages]:
    """Per descoped service: the spec images and container image IDs of its running tasks."""
    services = engine.objects("service", {"label": f"{NAMESPACE_LABEL}={stack}"})
    if not services:
        raise PlanError(f"stack {stack!r} has no services to promote from")
    nodes = {n["ID"]: n for n in engine.objects("node")}
    node_engines: dict[str, Engine | None] = {}
    out: dict[str, RunningImages] = {}
    for service in services:
        full = service["Spec"]["Name"]
        name = descope(stack, full)
        tasks = engine.objects("task", {"service": service["ID"], "desired-state": "running"})
        info = RunningImages()
        for task in tasks:
            status = task.get("Status") or {}
            if status.get("State") != "running":
                continue
            info.running += 1
            spec_image = task_image(task["Spec"])
            info.specs.add(spec_image)
            node = nodes.get(task.get("NodeID", ""), {})
            hostname = (node.get("Description") or {}).get("Hostname", task.get("NodeID", "?"))
            addr = (node.get("Status") or {}).get("Addr", "")
            container_id = (status.get("ContainerStatus") or {}).get("ContainerID")
            if has_digest(spec_image) or not container_id:
                continue
            if hostname not in node_engines:
                node_engines[hostname] = _node_engine(hostname, addr)
            node_engine = node_engines[hostname]
            if node_engine is None:
                info.unreachable.add(hostname)
                continue
            try:
                image_id = node_engine.inspect("container", container_id)["Image"]
            except EngineError:
                info.unreachable.add(hostname)
                continue
            info.ids.setdefault(image_id, set()).add(hostname)
        out[name] = info
    for node_engine in node_engines.values():
        if node_engine is not None:
            node_engine.close()
    return out


def choose_pins(source_env: str, running: Mapping[str, RunningImages], config: Mapping[str, object]
                ) -> tuple[list[Pin], list[Diagnostic]]:
    """A pin per service of the target config, or the reasons why not."""
    pins: list[Pin] = []
    problems: list[Diagnostic] = []
    services = config.get("services")
    for name, service in (services.items() if isinstance(services, Mapping) else ()):
        declared = str(service.get("image", "") if isinstance(service, Mapping) else "")
        info = running.get(name)
        where = f"services.{name}"
        if info is None:
            problems.append(Diagnostic(f"{source_env} has no service {name!r}: nothing was tested",
                                       path=where))
            continue
        if not info.running:
            problems.append(Diagnostic(f"no running task in {source_env}", path=where,
                                       hint="promote from an environment that runs the service"))
            continue
        digests = sorted(s for s in info.specs if has_digest(s))
        if digests:
            if len(info.specs) > 1:
                problems.append(Diagnostic(
                    f"{source_env} runs several images ({', '.join(sorted(info.specs))})", path=where,
                    hint="it is in the middle of an update; promote when it has converged"))
                continue
            pins.append(Pin(name, declared, digests[0], "digest", ()))
            continue
        if info.unreachable:
            problems.append(Diagnostic(
                f"{source_env} runs {', '.join(sorted(info.specs))} without a digest, and the engine of "
                f"node {', '.join(sorted(info.unreachable))} cannot be reached to read the image ID",
                path=where, hint=f"deploy {source_env} with a registry (--resolve-image always), or set "
                f"{NODE_HOST_ENV}"))
            continue
        if len(info.ids) != 1:
            seen = "; ".join(f"{i[:19]} on {', '.join(sorted(n))}" for i, n in sorted(info.ids.items()))
            problems.append(Diagnostic(
                f"{source_env}'s running tasks use different images: {seen}", path=where,
                hint="the nodes hold different images under the same tag; nothing single was tested"))
            continue
        ((image_id, hosts),) = info.ids.items()
        pins.append(Pin(name, declared, image_id, "image-id", tuple(sorted(hosts))))
    return pins, problems


def pin_config(config: Mapping[str, object], pins: list[Pin]) -> dict[str, object]:
    """A copy of `config` whose pinned services run their pin."""
    import copy

    out = copy.deepcopy(dict(config))
    services = out.get("services")
    for pin in pins:
        assert isinstance(services, dict) and isinstance(services[pin.service], dict)  # choose_pins read them
        services[pin.service]["image"] = pin.pinned
    return out


def print_pins(pins: list[Pin], source: str, target: str, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    print(f"Image pins ({source} -> {target}):", file=stream)
    width = max((len(p.service) for p in pins), default=0)
    for pin in pins:
        how = "registry digest" if pin.source == "digest" else f"image ID on {', '.join(pin.seen_on)}"
        print(f"  {pin.service:<{width}}  {pin.declared} -> {pin.pinned}  ({how})", file=stream)
    if any(p.source == "image-id" for p in pins):
        print("  note: an image-ID pin runs only on nodes that hold that exact image (no registry digest)",
              file=stream)
    print(file=stream)


def run(*, source: str, target: str, prune: bool = False, detach: bool = False, quiet: bool = False,
        plan_only: bool = False, timeout: str = "10m", rollback_on_failure: bool = False, fmt: str = "text",
        debug: bool = False, lock_timeout: str = "10m", with_registry_auth: bool = False,
        targets: str | None = None, wave: int | None = None) -> int:
    from stackctl.commands.deploy import check_flags, finish
    from stackctl.deploy import DeployOptions, DeployRequest, deploy
    from stackctl.engine import open_engine
    from stackctl.pipeline import load_stack
    from stackctl.project import environment_target
    from stackctl.render.deploy import DeployPrinter
    from stackctl.render.diagnostics import print_warnings

    if source == target:
        raise UsageError("--from and --to name the same environment")
    fmt = check_flags("always", fmt, timeout, lock_timeout)
    from stackctl.commands import fanout

    if fanout.rollout_of(source) is not None:
        raise UsageError(f"--from {source}: an environment of many swarms cannot be the source "
                         "(promote from one swarm: the one whose running images were tested)")
    rollout = fanout.rollout_of(target)
    if rollout is not None:  # pinned once, rolled out through the target's waves (docs/fan-out.md)
        return _promote_to_targets(source, rollout, fmt=fmt, quiet=quiet, plan_only=plan_only, prune=prune,
                                    detach=detach, timeout=timeout, rollback_on_failure=rollback_on_failure,
                                    debug=debug, lock_timeout=lock_timeout,
                                    with_registry_auth=with_registry_auth, targets=targets, wave=wave)
    if targets or wave is not None:
        raise UsageError(f"--targets and --wave need an environment with targets: ({target!r} has none)")
    src = environment_target(source)
    dst = environment_target(target)
    loaded = load_stack(dst.files, env_files=dst.env_files, environ=dst.environ(), validate=True)
    print_warnings(loaded.warnings)
    with open_engine(src.context, debug, host=None if src.context else src.host) as engine:
        running = running_images(engine, src.stack)
    pins, problems = choose_pins(source, running, loaded.config)
    if problems:
        raise PlanError(f"cannot promote {source} ({src.stack}) to {target} ({dst.stack}):", problems)
    stream = sys.stderr if fmt == "json" else sys.stdout
    if not quiet or plan_only:
        print_pins(pins, f"{source} ({src.stack})", f"{target} ({dst.stack})", stream)
    config = pin_config(loaded.config, pins)
    request = DeployRequest(dst.stack, config, loaded.working_dir, files=tuple(dst.files),
                            note=f"promoted from {source} ({src.stack})", sources=tuple(loaded.docs),
                            sensitive=loaded.sensitive)
    # The pins are the digests already: nothing to ask the registry; the nodes may need credentials.
    opts = DeployOptions(prune=prune, resolve_image="never", with_registry_auth=with_registry_auth,
                         detach=detach, plan_only=plan_only,
                         timeout=timeout, rollback_on_failure=rollback_on_failure, debug=debug,
                         lock_timeout=lock_timeout, context=dst.context,
                         host=None if dst.context else dst.host)
    outcome = deploy(request, opts, on_event=DeployPrinter(fmt=fmt, quiet=quiet, show_plan=True, debug=debug))
    return finish(outcome, fmt, plan_only)


def source_pins(source: str, config: Mapping[str, object], debug: bool) -> list[Pin]:
    """What `source` runs now, as a pin per service of `config` (PlanError when it cannot say)."""
    from stackctl.engine import open_engine
    from stackctl.project import environment_target

    src = environment_target(source)
    with open_engine(src.context, debug, host=None if src.context else src.host) as engine:
        running = running_images(engine, src.stack)
    pins, problems = choose_pins(source, running, config)
    if problems:
        raise PlanError(f"cannot promote {source} ({src.stack}):", problems)
    return pins


def _promote_to_targets(source: str, rollout: Rollout, *, fmt: str, quiet: bool, plan_only: bool, prune: bool,
                        detach: bool, timeout: str, rollback_on_failure: bool, debug: bool, lock_timeout: str,
                        with_registry_auth: bool, targets: str | None, wave: int | None) -> int:
    """The pins are read once from `source` and every target of the rollout gets exactly them."""
    from stackctl.commands import fanout
    from stackctl.deploy import DeployOptions
    from stackctl.pipeline import load_stack

    first = rollout.targets[0].env  # the images are the files' services: any target's model names them
    loaded = load_stack(first.files, env_files=first.env_files, environ=first.environ(), validate=True)
    pins = source_pins(source, loaded.config, debug)
    if not quiet or plan_only:
        print_pins(pins, source, f"{rollout.env} ({rollout.stack}, {len(rollout.targets)} targets)",
                   sys.stderr if fmt == "json" else sys.stdout)
    opts = DeployOptions(prune=prune, resolve_image="never", with_registry_auth=with_registry_auth,
                         detach=detach, plan_only=plan_only, timeout=timeout,
                         rollback_on_failure=rollback_on_failure, debug=debug, lock_timeout=lock_timeout)
    return fanout.deploy(rollout, opts, fmt=fmt, quiet=quiet, targets=targets, wave=wave, resume=False,
                         images={p.service: p.pinned for p in pins}, note=f"promoted from {source}")
