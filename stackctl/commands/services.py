"""`stackctl services STACK`: mode, replicas running/desired, image and ports of each service."""

from __future__ import annotations

from stackctl.commands._options import LIST_FORMATS, check_format
from stackctl.commands._stackquery import api_call, connect_manager, not_found
from stackctl.render.tables import SERVICES_HEADERS, print_json, print_table, services_cells, services_json
from stackctl.swarm.api import as_nodes, as_services, as_tasks
from stackctl.swarm.services import service_statuses
from stackctl.swarm.stacks import stack_filters


def run(*, stack: str, quiet: bool = False, fmt: str = "table", context: str | None = None,
        debug: bool = False, no_trunc: bool = False) -> int:
    fmt = check_format(fmt, LIST_FORMATS)
    engine = connect_manager(context, debug)
    services = api_call("list services", lambda: engine.objects("service", stack_filters(stack)))
    if not services:
        raise not_found(stack, engine)
    tasks = api_call("list tasks", lambda: engine.objects("task", stack_filters(stack)))
    nodes = api_call("list nodes", lambda: engine.objects("node"))  # global: one task per eligible node
    statuses = service_statuses(as_services(services), as_tasks(tasks), as_nodes(nodes))
    if quiet:
        for s in statuses:
            print(s.id if no_trunc else s.id[:12])  # as `ps -q`: short unless --no-trunc
        return 0
    if fmt == "json":
        print_json(services_json(stack, statuses))
        return 0
    print_table(SERVICES_HEADERS, [services_cells(s, no_trunc=no_trunc) for s in statuses], no_trunc=no_trunc,
                wide=fmt == "wide")
    return 0
