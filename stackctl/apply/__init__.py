"""Stage 7, apply: the package face. The executor is `apply/executor.py` (ordered, concurrent
writes and undo), the dependency gates `apply/ordering.py`, the convergence rules
`apply/convergence.py`, the waiting `apply/wait.py` and `apply/rollout.py`. Nothing here prints:
progress goes to the caller's callbacks."""

from stackctl.apply.executor import (
    RESOLVE_MODES,
    UNCHANGED,
    AppliedObject,
    ApplyEvent,
    ApplyResult,
    apply_plan,
    collect_old_versions,
    undo,
)

__all__ = [
    "RESOLVE_MODES",
    "UNCHANGED",
    "AppliedObject",
    "ApplyEvent",
    "ApplyResult",
    "apply_plan",
    "collect_old_versions",
    "undo",
]
