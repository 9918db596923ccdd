"""`stackctl ps STACK`: every task of the stack with node, state, age and the full error.

By default each slot's current task is shown with its *failed* predecessors (the reference's
` \\_ ` lines); cleanly shut-down history (rolling updates, scale-downs) is left out. `--all`
shows every task the engine still keeps, as `docker stack ps` does.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime, timezone

from stackctl.commands._options import LIST_FORMATS, check_format
from stackctl.commands._stackquery import api_call, connect_manager, not_found
from stackctl.errors import UsageError
from stackctl.names import in_stack, scope
from stackctl.render.tables import print_json, print_ps, ps_json
from stackctl.render.tasks import task_rows
from stackctl.swarm.api import as_nodes, as_services, as_tasks
from stackctl.swarm.services import service_statuses
from stackctl.swarm.stacks import stack_filters
from stackctl.swarm.states import DESIRED_STATE_FILTERS

# `ps --filter` keys, as the reference documents them (engine semantics: same key ORed, keys ANDed).
PS_FILTER_KEYS = ("id", "name", "node", "desired-state", "label")


def parse_filters(raw: Sequence[str]) -> dict[str, list[str]]:
    """`KEY=VALUE` strings → engine filter dict; unknown keys are a usage error, like the reference."""
    out: dict[str, list[str]] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise UsageError(f"bad format of filter (expected name=value): {item!r}")
        if key not in PS_FILTER_KEYS:
            raise UsageError(f"invalid filter {key!r}",)
        if key == "desired-state" and value not in DESIRED_STATE_FILTERS:
            raise UsageError(f"invalid filter 'desired-state={value}' "
                             f"(expected one of: {', '.join(DESIRED_STATE_FILTERS)})")
        out.setdefault(key, []).append(value)
    return out


def scope_names(stack: str, filters: dict[str, list[str]]) -> dict[str, list[str]]:
    """`name=web` also matches `STACK_web`: users type the service name as the file spells it.

    The engine matches task names by prefix and ORs the values of one key, so adding the
    prefixed form keeps `name=shop_web` and `name=shop_web.1` working as before.
    """
    names = filters.get("name")
    if not names:
        return filters
    scoped = list(names)
    for name in names:
        if not in_stack(stack, name):
            scoped.append(scope(stack, name))
    return {**filters, "name": scoped}


def run(*, stack: str, filters: list[str], no_trunc: bool = False, quiet: bool = False,
        all_tasks: bool = False, fmt: str = "table", context: str | None = None, debug: bool = False) -> int:
    fmt = check_format(fmt, LIST_FORMATS)
    user_filters = scope_names(stack, parse_filters(filters))
    engine = connect_manager(context, debug)

    tasks = as_tasks(api_call("list tasks",
                              lambda: engine.objects("task", stack_filters(stack, user_filters))))
    services = as_services(api_call("list services", lambda: engine.objects("service", stack_filters(stack))))
    # Convergence is judged on all the stack's tasks, not only those the user's filter kept.
    all_stack_tasks = tasks if not user_filters else as_tasks(api_call(
        "list tasks", lambda: engine.objects("task", stack_filters(stack))))
    if not tasks and not services and not all_stack_tasks:
        raise not_found(stack, engine)
    nodes = as_nodes(api_call("list nodes", lambda: engine.objects("node")))

    now = datetime.now(timezone.utc)
    rows = task_rows(tasks, services, nodes, now=now, all_tasks=all_tasks)
    statuses = service_statuses(services, all_stack_tasks, nodes)
    if user_filters.get("name"):  # the summary counts the services a name filter picks, not the stack
        shown = {t.get("ServiceID") for t in tasks}
        prefixes = tuple(user_filters["name"])
        statuses = [s for s in statuses if s.id in shown or s.name.startswith(prefixes)]

    if quiet:
        for r in rows:
            print(r.id if no_trunc else r.id[:12])
        return 0
    if fmt == "json":
        print_json(ps_json(stack, rows, statuses, now))
        return 0
    print_ps(rows, statuses, no_trunc=no_trunc, stream=sys.stdout, wide=fmt == "wide")
    return 0
