"""The service diff: desired and current spec through the one normaliser, field by field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stackctl.errors import Diagnostic
from stackctl.load.source import SourceDoc
from stackctl.names import IMAGE_LABEL
from stackctl.observe import ObservedStack
from stackctl.plan.checks import check_placement, check_ports
from stackctl.plan.digests import spec_digest
from stackctl.plan.drift import mark_drift
from stackctl.plan.fields import field_changes, normalize_service
from stackctl.plan.images import RegistryAnswer, check_missing, note_moved_tag
from stackctl.plan.model import CREATE, UNCHANGED, UPDATE, Action, Plan, short_name
from stackctl.plan.sources import service_changes
from stackctl.swarm.modes import service_mode


def plan_service(plan: Plan, name: str, spec: dict[str, Any], observed: ObservedStack,
                 sources: Sequence[SourceDoc] | None = None,
                 registry: Mapping[str, RegistryAnswer] | None = None) -> Action:
    """Create, update (the changed fields, drift marked) or unchanged, after the service checks.

    `sources`: the parsed stack files, to say the changes in compose keys with FILE:LINE.
    `registry`: what the registry said about the images (plan/images.py): a moved tag, a missing image."""
    registry = registry or {}
    short = short_name(name, plan.stack)
    current = observed.services.get(name)
    want = normalize_service(spec, observed)
    digest = spec_digest(want)
    check_placement(name, spec, observed.nodes, plan)
    check_ports(name, spec, observed.other_services, plan)
    if current is None:
        created = Action("service", name, CREATE, desired=spec, digest=digest)
        check_missing(plan, created, spec, short, registry, sources)
        return created
    have = normalize_service(current.spec, observed)
    act = Action("service", name, UNCHANGED, id=current.id, version=current.version, desired=spec,
                 current=current.spec, digest=digest)
    want_image = (spec.get("Labels") or {}).get(IMAGE_LABEL)
    have_image = current.labels.get(IMAGE_LABEL)
    act.image_changed = want_image is None or want_image != have_image
    if service_mode(spec) != service_mode(current.spec):
        plan.errors.append(Diagnostic(
            f"service {name}: the mode changes from {service_mode(current.spec)} to {service_mode(spec)}, "
            "which the swarm cannot do (service mode change is not allowed)",
            hint=f"remove the service first (docker service rm {name}), then deploy"))
    act.changes = field_changes(have, want)
    note_moved_tag(act, spec, registry)
    last = mark_drift(act, current, have, want, digest, observed)
    act.compose = service_changes(act.changes, have, want, short, sources, last=last)
    if act.changes:
        act.action = UPDATE
    check_missing(plan, act, spec, short, registry, sources)
    return act
