"""`stackctl rm STACK...`: CLI wiring for stackctl/destroy.py (a plan with nothing desired, applied by
the deploy executor). Prints what was removed and kept; `--format json` prints schema stackctl.rm/v1.
"""

from __future__ import annotations

import sys

from stackctl.commands._options import TEXT_FORMATS, check_format
from stackctl.commands._stackquery import connect_manager, not_found
from stackctl.errors import EXIT_ERROR, EXIT_OK
from stackctl.render.tables import kept_line, print_json


def run(*, stacks: list[str], detach: bool = False, fmt: str = "text", context: str | None = None,
        debug: bool = False, keep_history: bool = False) -> int:
    from stackctl.destroy import remove_stack
    from stackctl.render.deploy import DeployPrinter

    fmt = check_format(fmt, TEXT_FORMATS)
    engine = connect_manager(context, debug)
    printer = DeployPrinter(quiet=fmt == "json")
    results = []
    for stack in stacks:
        removal = remove_stack(engine, stack.strip(), detach=detach, keep_history=keep_history,
                               on_event=printer)
        line = kept_line(removal.kept)
        if line and fmt != "json":
            print(line + " (not removed)", flush=True)
        results.append(removal)
    code = EXIT_OK
    for r in results:
        if r.ok:
            continue
        code = EXIT_ERROR
        if fmt == "json":
            continue
        for failure in r.failed:
            print(f"Failed to remove {failure['kind']} {failure['name']}: {failure['error']}",
                  file=sys.stderr)
        if not r.found:
            print(f"error: {not_found(r.stack, engine)}", file=sys.stderr)
        else:
            print(f"error: failed to remove some resources from stack: {r.stack}", file=sys.stderr)
    if fmt == "json":
        print_json({"schema": "stackctl.rm/v1", "stacks": [r.to_json() for r in results]})
    return code
