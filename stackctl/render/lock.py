"""The deploy lock's words: its events while a deploy takes it (stackctl/lock.py says them as
`LockEvent`s and prints nothing) and the outcome of `stackctl unlock`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from stackctl.lock import LockInfo, LockTakenOver


def taken_over_line(event: LockTakenOver) -> str:
    """The stderr line when a deploy takes over the lock of a holder that no longer runs (a lock busy
    with a live holder is said by the deploy's own LockWaiting, render/deploy.py)."""
    return (f"taking over the deploy lock of stack {event.stack}: its holder ({event.holder.holder}) "
            "is no longer running")


def print_unlocked(stack: str, removed: LockInfo | None, *, out: TextIO | None = None,
                   err: TextIO | None = None) -> None:
    """`stackctl unlock STACK`: what was removed (stdout), or that there was nothing (stderr)."""
    if removed is None:
        print(f"Stack {stack} is not locked.", file=err or sys.stderr)
    else:
        print(f"Removed the deploy lock of stack {stack} (held by {removed.describe()}).",
              file=out or sys.stdout)
