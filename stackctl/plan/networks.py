"""Networks: compare (the swarm cannot update one: a change is a warning), create, remove."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stackctl.errors import Diagnostic
from stackctl.names import user_labels
from stackctl.observe import ObservedStack
from stackctl.plan.fields import field_changes
from stackctl.plan.model import CREATE, REMOVE, UNCHANGED, Action, Plan

if TYPE_CHECKING:
    from stackctl.convert import DesiredStack

VXLAN_OPTION = "com.docker.network.driver.overlay.vxlanid_list"
NOT_USER_DEFINED_NETWORKS = {"default", "bridge", "host", "none"}


def normalize_network(body: Mapping[str, Any]) -> dict[str, Any]:
    """The user-controlled part of a network (create body or inspect result)."""
    ipam = body.get("IPAM") or {}
    pools = [
        {k: v for k, v in (p or {}).items() if k in ("Subnet", "IPRange") and v}
        for p in ipam.get("Config") or []
    ]
    out = {
        "Driver": body.get("Driver") or "overlay",
        "Options": {k: str(v) for k, v in (body.get("Options") or {}).items() if k != VXLAN_OPTION},
        "Internal": bool(body.get("Internal")),
        "Attachable": bool(body.get("Attachable")),
        "Labels": user_labels(body.get("Labels")),
        "IPAM": {"Driver": ipam.get("Driver") or "default", "Config": [p for p in pools if p]},
    }
    return out


def _ipam_comparable(desired: dict[str, Any], current: dict[str, Any]) -> None:
    """Pools the engine chose itself are not a change when the file names none."""
    if not desired["IPAM"]["Config"]:
        current["IPAM"]["Config"] = []


def plan_networks(plan: Plan, desired: DesiredStack, observed: ObservedStack,
                  services: Mapping[str, Any]) -> None:
    networks: dict[str, dict[str, Any]] = desired.networks
    for name in desired.external_networks:
        if name in NOT_USER_DEFINED_NETWORKS or name.startswith("container:"):
            continue
        net = observed.all_networks.get(name)
        if net is None:
            plan.errors.append(Diagnostic(
                f'network "{name}" is declared as external, but could not be found. '
                "You need to create a swarm-scoped network before the stack is deployed"))
        elif net.spec.get("Scope") != "swarm":
            plan.errors.append(Diagnostic(
                f'network "{name}" is declared as external, but it is not in the right scope: '
                f'"{net.spec.get("Scope")}" instead of "swarm"'))
    for name in sorted(networks):
        body = networks[name]
        current = observed.networks.get(name)
        if current is None:
            other = observed.all_networks.get(name)
            if other is not None:
                owner = f"stack {other.stack}" if other.stack else "no stack"
                plan.errors.append(Diagnostic(
                    f"network {name} already exists and belongs to {owner}, not to stack {plan.stack}",
                    hint="remove it, or declare it external"))
            plan.actions.append(Action("network", name, CREATE, desired=dict(body)))
            continue
        want, have = normalize_network(body), normalize_network(current.spec)
        _ipam_comparable(want, have)
        changes = field_changes(have, want)
        act = Action("network", name, UNCHANGED, changes=changes, id=current.id, desired=dict(body),
                     current=current.spec)
        if changes:
            act.warnings.append("recreate needed; not applied (the swarm cannot update a network: "
                                f"remove the stack or the network {name} to apply this)")
            plan.warnings.append(Diagnostic(
                f"network {name}: {', '.join(c.path for c in changes)} changed; recreate needed; not applied",
                severity="warning"))
        plan.actions.append(act)
    for name in sorted(set(observed.networks) - set(networks)):
        net = observed.networks[name]
        plan.drop(Action("network", name, REMOVE, id=net.id, current=net.spec))
