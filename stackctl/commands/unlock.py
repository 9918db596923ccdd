"""`stackctl unlock STACK`: remove the deploy lock a dead deploy left in the swarm."""

from __future__ import annotations

from stackctl.errors import EXIT_OK


def run(*, stack: str, context: str | None = None, debug: bool = False) -> int:
    from stackctl.deploy import check_stack_name
    from stackctl.engine import open_engine, require_manager
    from stackctl.lock import unlock
    from stackctl.render.lock import print_unlocked

    stack = check_stack_name(stack)
    engine = open_engine(context, debug)
    require_manager(engine)
    print_unlocked(stack, unlock(engine, stack))
    return EXIT_OK
