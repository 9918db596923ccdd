"""Placement constraints as swarm reads them: parse one, match a node, explain a mismatch.

The one place that knows the rules, used by validate (is the constraint well formed), plan
(can any node take the service) and apply's rollout wait (which nodes a global service runs
on). Swarm's semantics, which these follow:

- `KEY==VALUE` or `KEY!=VALUE`; spaces around the parts are ignored. Attribute keys
  (`node.role`) and the `node.labels.` / `engine.labels.` prefixes are case-insensitive; a
  label's own name is case-sensitive. Values compare case-insensitively.
- A label the node does not have reads as "" (so `node.labels.x!=y` holds on a node without x).
- `node.ip` compares the node's address with an IP address or a CIDR subnet.
- A key the swarm does not know matches no node.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stackctl.observe import ObservedNode

NODE_KEYS = ("node.id", "node.hostname", "node.ip", "node.role", "node.platform.os", "node.platform.arch")
LABEL_PREFIXES = ("node.labels.", "engine.labels.")
NODE_ROLES = ("manager", "worker")

_EXPR = re.compile(r"^\s*([^=!<>\s]+)\s*(==|!=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Constraint:
    """One parsed constraint. `key` keeps the file's spelling (a label name is case-sensitive)."""

    key: str
    op: str  # "==" or "!="
    value: str

    @property
    def attribute(self) -> str:
        """The lower-cased attribute (`node.role`), or the label prefix for a label key."""
        lowered = self.key.lower()
        for prefix in LABEL_PREFIXES:
            if lowered.startswith(prefix):
                return prefix
        return lowered

    @property
    def label(self) -> str:
        """The label name of a `node.labels.`/`engine.labels.` key ("" for attribute keys)."""
        prefix = self.attribute
        return self.key[len(prefix):] if prefix in LABEL_PREFIXES else ""

    def __str__(self) -> str:
        return f"{self.key}{self.op}{self.value}"


def parse_constraint(expr: str) -> Constraint | None:
    """The constraint in `expr`; None when it is not `KEY==VALUE` / `KEY!=VALUE`."""
    match = _EXPR.match(expr)
    if not match:
        return None
    key, op, value = match.groups()
    return Constraint(key, op, value)


def constraint_problem(expr: str) -> tuple[str, str | None] | None:
    """(message, hint) when the swarm would reject `expr`; None when it is well formed."""
    parsed = parse_constraint(expr)
    if parsed is None:
        return (f"invalid placement constraint {expr!r}",
                "use KEY==VALUE or KEY!=VALUE, e.g. node.role==manager")
    if not parsed.value:
        return f"placement constraint {expr!r} has no value", "e.g. node.role==manager"
    attribute = parsed.attribute
    if attribute in LABEL_PREFIXES:
        if not parsed.label:
            return f"placement constraint {expr!r} names no label", "e.g. node.labels.zone==east"
        return None
    if attribute not in NODE_KEYS:
        close = difflib.get_close_matches(attribute, [*NODE_KEYS, *LABEL_PREFIXES], n=1)
        hint = f"did you mean '{close[0]}'?" if close else (
            "keys: " + ", ".join(NODE_KEYS) + ", node.labels.*, engine.labels.*")
        return f"unknown placement constraint key {parsed.key!r}", hint
    if attribute == "node.role" and parsed.value.lower() not in NODE_ROLES:
        return f"node.role must be manager or worker (got {parsed.value!r})", None
    if attribute == "node.ip" and _network(parsed.value) is None:
        return f"node.ip needs an IP address or CIDR (got {parsed.value!r})", None
    return None


def is_spread_key(key: str) -> bool:
    """Whether a placement preference can spread over `key` (a node attribute or label)."""
    return key.lower().startswith(LABEL_PREFIXES) or key.lower() in NODE_KEYS


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _node_value(node: ObservedNode, constraint: Constraint) -> str | None:
    attribute = constraint.attribute
    if attribute == "node.labels.":
        return node.labels.get(constraint.label, "")
    if attribute == "engine.labels.":
        return node.engine_labels.get(constraint.label, "")
    values = {"node.id": node.id, "node.hostname": node.hostname, "node.role": node.role,
              "node.platform.os": node.os, "node.platform.arch": node.arch}
    return values.get(attribute)


def holds(node: ObservedNode, constraint: Constraint) -> bool:
    """Whether `node` satisfies one constraint, as the swarm's scheduler decides it."""
    wanted = constraint.op == "=="
    if constraint.attribute == "node.ip":
        network = _network(constraint.value)
        if network is None:
            return False
        try:
            inside = ipaddress.ip_address(node.addr) in network
        except ValueError:
            inside = False
        return inside == wanted
    have = _node_value(node, constraint)
    if have is None:
        return False  # a key the swarm does not know matches no node
    return (have.lower() == constraint.value.lower()) == wanted


def node_matches(node: ObservedNode, constraints: Iterable[str]) -> bool:
    """Every constraint holds on `node`. An unparseable one is not judged here: validate
    reports it and the engine refuses the service."""
    for expr in constraints:
        parsed = parse_constraint(expr)
        if parsed is not None and not holds(node, parsed):
            return False
    return True


def describe_node(node: ObservedNode) -> str:
    """`wrk-1 (worker, zone=east)`: what a mismatch message shows of each node."""
    labels = ", ".join(f"{k}={v}" for k, v in sorted(node.labels.items())) or "no labels"
    return f"{node.hostname} ({node.role}, {labels})"


def explain_mismatch(constraints: Sequence[str], nodes: Sequence[ObservedNode]) -> str:
    """Why no node in `nodes` satisfies `constraints`: the ones no node meets, else all of them."""
    failing = [c for c in constraints if not any(node_matches(n, [c]) for n in nodes)]
    if failing:
        return "no node satisfies the placement constraint " + " and ".join(f"`{c}`" for c in failing)
    return "no node satisfies all the placement constraints " + ", ".join(f"`{c}`" for c in constraints)
