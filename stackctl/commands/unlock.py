"""`stackctl unlock STACK`: remove the deploy lock a dead deploy left in the swarm."""

from __future__ import annotations

import sys

from stackctl.errors import EXIT_OK


def run(*, stack: str, context: str | None = None, debug: bool = False) -> int:
    from stackctl.commands.deploy import check_stack_name
    from stackctl.engine import connect, require_manager
    from stackctl.lock import unlock

    stack = check_stack_name(stack)
    client = connect(context, debug)
    require_manager(client)
    info = unlock(client, stack)
    if info is None:
        print(f"Stack {stack} is not locked.", file=sys.stderr)
    else:
        print(f"Removed the deploy lock of stack {stack} (held by {info.describe()}).")
    return EXIT_OK
