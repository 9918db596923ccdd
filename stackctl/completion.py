"""Shell completion: `stackctl completion bash|zsh|fish` and the names it completes.

The scripts are typer's: at each Tab the shell runs `stackctl` again with
`_STACKCTL_COMPLETE=complete_<shell>` set, and `cli.main` answers from the command tree
(commands, options) or from the engine (stack and service names). An engine that does not
answer within COMPLETION_TIMEOUT seconds completes nothing: a Tab must never hang the shell.
"""

from __future__ import annotations

from typing import Any

from stackctl.errors import UsageError
from stackctl.names import descope

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_STACKCTL_COMPLETE"
COMPLETION_TIMEOUT = 2  # seconds per engine call
STACK_LABEL = "com.docker.stack.namespace"


def script(shell: str) -> str:
    """The script to source (bash, zsh) or to save under fish's completions directory."""
    name = (shell or "").strip().lower()
    if name not in SHELLS:
        raise UsageError(f"unsupported shell {shell!r} (expected one of: {', '.join(SHELLS)})")
    from typer.completion import get_completion_script  # type: ignore[attr-defined]  # re-exported

    return get_completion_script(prog_name="stackctl", complete_var=COMPLETE_VAR, shell=name) + "\n"


def answer_completion_request() -> None:
    """Register typer's per-shell completers before the app reads `_STACKCTL_COMPLETE`."""
    from typer.completion import completion_init  # type: ignore[attr-defined]  # re-exported

    completion_init()


def _services(filters: dict[str, Any]) -> list[dict[str, Any]]:
    """Services matching `filters`, or none when the engine cannot be asked quickly."""
    try:
        from stackctl.engine import open_engine

        with open_engine(timeout=COMPLETION_TIMEOUT) as engine:  # DOCKER_HOST, contexts: as any command
            return engine.objects("service", filters)
    except Exception:  # noqa: BLE001 - completion offers nothing rather than an error mid-line
        return []


def stack_names() -> list[str]:
    """Stacks that have services on the engine (whoever deployed them)."""
    names = {((s.get("Spec") or {}).get("Labels") or {}).get(STACK_LABEL) for s in
             _services({"label": [STACK_LABEL]})}
    return sorted(n for n in names if n)


def service_names(stack: str) -> list[str]:
    """The stack's services as the file names them (without the `STACK_` prefix)."""
    if not stack:
        return []
    out = []
    for svc in _services({"label": [f"{STACK_LABEL}={stack}"]}):
        name = str((svc.get("Spec") or {}).get("Name") or "")
        out.append(descope(stack, name))
    return sorted(n for n in out if n)
