"""Checks that must pass before anything is written: placement, published ports, volumes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackctl.errors import Diagnostic
from stackctl.observe import ObservedNode, ObservedService, ObservedStack
from stackctl.placement import describe_node, explain_mismatch
from stackctl.plan.model import Plan, short_name
from stackctl.swarm.modes import tasks_wanted
from stackctl.swarm.nodes import constraints_of, matches


def check_placement(name: str, spec: Mapping[str, Any], nodes: list[ObservedNode], plan: Plan) -> None:
    """Can the swarm place the service's tasks (swarm/nodes.py: `eligible` now, `matches` ever)?

    An error when no node at all satisfies the placement (constraints, platforms), or too few for
    max replicas per node: the file asks for what this swarm cannot give. A warning when the nodes
    that satisfy it are down, drained or paused now: the swarm keeps the tasks pending until one is
    back (the file is right; the swarm is short of nodes for a while)."""
    if not nodes:
        return
    wanted = tasks_wanted(spec)
    if wanted == 0:
        return
    placement = (spec.get("TaskTemplate") or {}).get("Placement") or {}
    constraints = constraints_of(spec)
    where = f"services.{short_name(name, plan.stack)}.deploy"
    matching = [n for n in nodes if matches(n, spec)]
    eligible = [n for n in matching if n.schedulable]  # swarm/nodes.eligible, on the nodes that match
    if not matching:
        plan.errors.append(Diagnostic(
            f"service {name}: {explain_mismatch(constraints, nodes)}; nodes: "
            + "; ".join(describe_node(n) for n in nodes),
            path=where + ".placement.constraints",
            hint="add the label to a node (docker node update --label-add KEY=VALUE NODE) "
                 "or fix the constraint",
        ))
        return
    if not eligible:
        plan.warnings.append(Diagnostic(
            f"service {name}: no node that can take its tasks is ready and active, they will wait (nodes: "
            + "; ".join(f"{n.hostname} ({n.state}, {n.availability})" for n in matching) + ")",
            path=where, severity="warning",
        ))
        return
    max_per_node = int(placement.get("MaxReplicas") or 0)
    if not (max_per_node and wanted):
        return
    need = -(-wanted // max_per_node)

    def too_few(chosen: list[ObservedNode]) -> str:
        return (f"service {name}: {wanted} replicas with max_replicas_per_node {max_per_node} need {need} "
                f"eligible nodes, but only {len(chosen)} satisfy the placement "
                f"({', '.join(n.hostname for n in chosen)}); nodes: "
                + "; ".join(describe_node(n) for n in nodes))

    if len(matching) < need:
        plan.errors.append(Diagnostic(too_few(matching), path=where + ".placement.max_replicas_per_node"))
    elif len(eligible) < need:
        plan.warnings.append(Diagnostic(too_few(eligible) + " ready and active now; the other tasks wait",
                                        path=where, severity="warning"))


def _published(spec: Mapping[str, Any]) -> list[tuple[int, str, str]]:
    out = []
    for port in (spec.get("EndpointSpec") or {}).get("Ports") or []:
        published = int(port.get("PublishedPort") or 0)
        if published:
            out.append((published, port.get("Protocol") or "tcp", port.get("PublishMode") or "ingress"))
    return out


def publishes_ports(spec: Mapping[str, Any]) -> bool:
    """Whether a service spec publishes a port (so other services' ports must be checked)."""
    return bool(_published(spec))


def check_ports(name: str, spec: Mapping[str, Any], others: list[ObservedService], plan: Plan) -> None:
    """A published port another service holds: an error, a warning when both publish in host mode."""
    for published, proto, mode in _published(spec):
        for other in others:
            for o_pub, o_proto, o_mode in _published(other.spec):
                if (o_pub, o_proto) != (published, proto):
                    continue
                owner = f" (stack {other.stack})" if other.stack else ""
                text = (f"service {name}: port {published}/{proto} is already published by service "
                        f"{other.name}{owner}")
                path = f"services.{short_name(name, plan.stack)}.ports"
                if mode == "host" and o_mode == "host":
                    plan.warnings.append(Diagnostic(text + " in host mode: their tasks cannot share a node",
                                                    path=path, severity="warning"))
                else:
                    plan.errors.append(Diagnostic(text, path=path, hint=_port_hint(other)))


def _port_hint(other: ObservedService) -> str:
    if other.stack:
        return (f"publish another port, or remove stack {other.stack} first (stackctl rm {other.stack}), "
                f"or deploy this file as stack {other.stack}")
    return f"publish another port, or remove service {other.name} first"


def check_volumes(plan: Plan, volumes: Mapping[str, Any], observed: ObservedStack) -> None:
    """Warn when an existing volume differs from the file: the swarm never changes one."""
    for name, vol in sorted(volumes.items()):
        if vol.get("External"):
            continue
        current = observed.volumes.get(name)
        if current is None:
            continue
        want_driver = vol.get("Driver") or "local"
        want_opts = {k: str(v) for k, v in (vol.get("DriverOpts") or {}).items()}
        have_driver = current.spec.get("Driver") or "local"
        have_opts = {k: str(v) for k, v in (current.spec.get("Options") or {}).items()}
        if (want_driver, want_opts) != (have_driver, have_opts):
            plan.warnings.append(Diagnostic(
                f"volume {name} exists on the manager with driver {have_driver} options "
                f"{have_opts or '{}'}, but the file declares driver {want_driver} "
                f"options {want_opts or '{}'}; "
                "the swarm never changes an existing volume (remove it to apply)",
                severity="warning"))
