"""`stackctl history STACK`: the revisions recorded by successful deploys (stored in the swarm)."""

from __future__ import annotations

import json

from stackctl.errors import EXIT_OK, EngineError, UsageError


def run(*, stack: str, fmt: str = "table", context: str | None = None, debug: bool = False) -> int:
    """Exit 1 when the stack has no revision, as ps/services/rm do for a stack that is not there."""
    from stackctl.commands._stackquery import engine_name
    from stackctl.engine import connect
    from stackctl.history import list_revisions

    if fmt not in ("table", "json"):
        raise UsageError(f"unknown --format {fmt!r} (table or json)")
    client = connect(context, debug)
    revisions = list_revisions(client, stack)
    if not revisions:
        raise EngineError(f"no recorded revisions in stack: {stack} (engine: {engine_name(client)}; "
                          "stackctl records one per successful deploy)")
    if fmt == "json":
        print(json.dumps({"schema": "stackctl.history/v1", "stack": stack,
                          "revisions": [r.summary() for r in revisions]}, indent=2))
        return EXIT_OK
    from stackctl.render.tables import print_table

    rows = []
    for r in revisions:
        images = ", ".join(sorted({img for img in r.images.values() if img}))
        where = f"{r.user}@{r.host}" if r.user or r.host else ""
        rows.append([str(r.revision), r.time, where, r.note or "deploy", images])
    print_table(["REVISION", "TIME", "BY", "NOTE", "IMAGES"], rows)
    return EXIT_OK
