"""`stackctl ls`: stacks found by their namespace label, whoever deployed them.

Counts services, networks, secrets and configs; a stack whose services are gone but whose other
objects remain is still listed (the reference hides it).
"""

from __future__ import annotations

from stackctl.commands._options import LIST_FORMATS, check_format
from stackctl.commands._stackquery import api_call, connect_manager
from stackctl.names import NAMESPACE_LABEL as STACK_LABEL
from stackctl.observe import stack_summaries
from stackctl.render.tables import LS_HEADERS, ls_cells, ls_json, print_json, print_table


def run(*, fmt: str = "table", context: str | None = None, debug: bool = False,
        no_trunc: bool = False) -> int:
    fmt = check_format(fmt, LIST_FORMATS)
    engine = connect_manager(context, debug)
    by_label = {"label": [STACK_LABEL]}
    services = api_call("list services", lambda: engine.objects("service", by_label))
    networks = api_call("list networks", lambda: engine.objects("network", by_label))
    secrets = api_call("list secrets", lambda: engine.objects("secret", by_label))
    configs = api_call("list configs", lambda: engine.objects("config", by_label))
    stacks = stack_summaries(services, networks, secrets, configs)
    if fmt == "json":
        print_json(ls_json(stacks))
        return 0
    print_table(LS_HEADERS, [ls_cells(s) for s in stacks], no_trunc=no_trunc, wide=fmt == "wide")
    return 0
