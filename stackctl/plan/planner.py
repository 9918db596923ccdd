"""make_plan: the ordered actions that make the swarm match the files; a pure function."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stackctl.load.source import SourceDoc
from stackctl.observe import ObservedStack
from stackctl.plan.checks import check_volumes
from stackctl.plan.images import RegistryAnswer
from stackctl.plan.model import KIND_ORDER, REMOVE, Action, Plan
from stackctl.plan.networks import plan_networks
from stackctl.plan.rotation import plan_file_objects, repoint_services
from stackctl.plan.services import plan_service

if TYPE_CHECKING:
    from stackctl.convert import DesiredStack


def make_plan(desired: DesiredStack, observed: ObservedStack, *, prune: bool, strict: bool = True,
              pins: Mapping[str, Mapping[str, str]] | None = None,
              sources: Sequence[SourceDoc] | None = None,
              registry: Mapping[str, RegistryAnswer] | None = None) -> Plan:
    """The ordered actions that make the swarm match `desired`; PlanError on blocking problems.

    With `strict=False` the problems stay in `plan.errors` (diff renders them with the plan).
    `pins` ("secrets"/"configs" -> base name -> version name) makes the services use those
    existing versions whatever the files hold now (rollback to a recorded revision).
    `sources`: the parsed stack files (`LoadedStack.docs`), so that service changes carry their
    compose key, the files' units and FILE:LINE; without them (a stored config) no FILE:LINE.
    Objects of the stack the files no longer have are REMOVE actions with `prune`, else `plan.kept`.
    `registry`: the registry's answers per image (`plan/images.py`, asked by the deploy service layer):
    a tag moved since the service was pinned is an image change, a missing image a blocking problem.
    """
    stack = desired.stack
    plan = Plan(stack=stack, prune=prune, observed=observed)
    services: dict[str, dict[str, Any]] = desired.services
    pins = pins or {}
    plan_networks(plan, desired, observed, services)
    plan.versions["secrets"] = plan_file_objects(
        plan, "secret", desired.secrets, desired.external_secrets, observed.secrets, observed.all_secrets,
        services, observed, pins.get("secrets") or {})
    plan.versions["configs"] = plan_file_objects(
        plan, "config", desired.configs, desired.external_configs, observed.configs, observed.all_configs,
        services, observed, pins.get("configs") or {})
    services = repoint_services(services, plan.versions)
    check_volumes(plan, desired.volumes, observed)
    for name in sorted(services):
        plan.actions.append(plan_service(plan, name, services[name], observed, sources, registry))
    for name in sorted(set(observed.services) - set(services)):
        svc = observed.services[name]
        plan.drop(Action("service", name, REMOVE, id=svc.id, version=svc.version, current=svc.spec))
    plan.actions.sort(key=lambda a: (KIND_ORDER.index(a.kind), a.action == REMOVE, a.name))
    if sources:  # the pre-checks' problems about the files, at their FILE:LINE
        from stackctl.plan.sources import locate_problems

        locate_problems(plan.errors, sources)
        locate_problems(plan.warnings, sources)
    if strict:
        plan.check()
    return plan
