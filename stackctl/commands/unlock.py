"""`stackctl unlock STACK`: remove the deploy lock a dead deploy left in the swarm."""

from __future__ import annotations

import sys

from stackctl.errors import EXIT_OK


def run(*, stack: str, context: str | None = None, debug: bool = False) -> int:
    from stackctl.deploy import check_stack_name
    from stackctl.engine import open_engine, require_manager
    from stackctl.lock import unlock

    stack = check_stack_name(stack)
    engine = open_engine(context, debug)
    require_manager(engine)
    info = unlock(engine, stack)
    if info is None:
        print(f"Stack {stack} is not locked.", file=sys.stderr)
    else:
        print(f"Removed the deploy lock of stack {stack} (held by {info.describe()}).")
    return EXIT_OK
