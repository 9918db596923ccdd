"""`stackctl history STACK`: the revisions recorded by successful deploys (stored in the swarm)."""

from __future__ import annotations

import json

from stackctl.errors import EXIT_OK, UsageError


def run(*, stack: str, fmt: str = "table", context: str | None = None, debug: bool = False) -> int:
    from stackctl.engine import open_engine
    from stackctl.history import list_revisions

    if fmt not in ("table", "json"):
        raise UsageError(f"unknown --format {fmt!r} (table or json)")
    engine = open_engine(context, debug)
    revisions = list_revisions(engine, stack)
    if fmt == "json":
        print(json.dumps([r.summary() for r in revisions], indent=2))
        return EXIT_OK
    if not revisions:
        print(f"stack {stack} has no recorded revisions")
        return EXIT_OK
    from stackctl.render.tables import print_table

    rows = []
    for r in revisions:
        images = ", ".join(sorted({img for img in r.images.values() if img}))
        where = f"{r.user}@{r.host}" if r.user or r.host else ""
        rows.append([str(r.revision), r.time, where, r.note or "deploy", images])
    print_table(["REVISION", "TIME", "BY", "NOTE", "IMAGES"], rows)
    return EXIT_OK
