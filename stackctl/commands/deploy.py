"""`stackctl deploy`: CLI wiring for the deploy service layer (stackctl/deploy.py).

Resolves the environment and files, loads them, and hands the model to `stackctl.deploy.deploy`
with a printer from render/ as its event callback; prints the JSON document with --format json.
"""

from __future__ import annotations

import sys
import time

from stackctl.commands._options import TEXT_FORMATS, check_format, check_resolve_image
from stackctl.deploy import DEFAULT_LOCK_TIMEOUT, DeployOptions, DeployOutcome, DeployRequest
from stackctl.errors import UsageError


def check_flags(resolve_image: str, fmt: str, *durations: str, keep_versions: int = 0,
                history_max: int = 0) -> str:
    """Bad flag values are usage errors (exit 64), found before any file is read or engine asked
    (docs/exit-codes.md): --resolve-image, --format, the durations (--timeout, --lock-timeout),
    --keep-versions and --history-max. Returns --format."""
    from stackctl.units import parse_timeout

    check_resolve_image(resolve_image)
    fmt = check_format(fmt, TEXT_FORMATS)
    for duration in durations:
        parse_timeout(duration)
    if keep_versions < 0:
        raise UsageError("--keep-versions must be 0 or more")
    if history_max < 0:
        raise UsageError("--history-max must be 0 or more (0: no limit)")
    return fmt


def finish(outcome: DeployOutcome, fmt: str, plan_only: bool) -> int:
    """The command's exit code; the deploy document on stdout with --format json."""
    if fmt == "json" and not plan_only:
        import json

        print(json.dumps(outcome.to_json(), indent=2, ensure_ascii=False))
    return outcome.exit_code


def refuse_for_targets(env: str, *, stack: str | None = None, files: list[str] | None = None,
                       env_files: list[str] | None = None, context: str | None = None) -> None:
    """What an environment of many swarms takes from stackctl.yml only (each target names its swarm)."""
    given = [flag for flag, value in (("STACK", stack), ("-c", files), ("--env-file", env_files),
                                      ("--context", context)) if value]
    if given:
        raise UsageError(f"environment {env!r} lists targets: {', '.join(given)} cannot be given with it "
                         "(set them in stackctl.yml, per target)")


def run(*, stack: str | None, files: list[str], env_files: list[str], env: str | None = None,
        prune: bool = False, resolve_image: str = "always", with_registry_auth: bool = False,
        detach: bool = False, quiet: bool = False, plan_only: bool = False, timeout: str = "10m",
        rollback_on_failure: bool = False, fmt: str = "text", context: str | None = None, debug: bool = False,
        lock_timeout: str = DEFAULT_LOCK_TIMEOUT, keep_versions: int = 2, no_deps_order: bool = False,
        history_max: int = 10, targets: str | None = None, wave: int | None = None,
        resume: bool = False) -> int:
    from stackctl.commands import fanout
    from stackctl.deploy import check_stack_name, deploy, load_stack_files, stack_for
    from stackctl.project import resolve_env_args
    from stackctl.render.deploy import DeployPrinter

    started = time.monotonic()
    fmt = check_flags(resolve_image, fmt, timeout, lock_timeout, keep_versions=keep_versions,
                      history_max=history_max)
    fanout.check_limits(env, targets, wave, resume)
    rollout = fanout.rollout_of(env)
    if rollout is not None:  # an environment of many swarms: wave by wave (docs/fan-out.md)
        refuse_for_targets(rollout.env, stack=stack, files=files, env_files=env_files, context=context)
        opts = DeployOptions(prune=prune, resolve_image=resolve_image, with_registry_auth=with_registry_auth,
                             detach=detach, plan_only=plan_only, timeout=timeout,
                             rollback_on_failure=rollback_on_failure, debug=debug, lock_timeout=lock_timeout,
                             keep_versions=keep_versions, deps_order=not no_deps_order,
                             history_max=history_max)
        return fanout.deploy(rollout, opts, fmt=fmt, quiet=quiet, targets=targets, wave=wave, resume=resume)
    if targets or wave is not None or resume:
        raise UsageError(f"--targets, --wave and --resume need an environment with targets: "
                         f"({env!r} has none)")
    stack, files, env_files, environ, choice = resolve_env_args(
        env, files, env_files, stack, context=context)
    stack = check_stack_name(stack) if stack is not None else None
    printer = DeployPrinter(fmt=fmt, quiet=quiet, debug=debug)
    loaded = load_stack_files(files, env_files, environ, on_event=printer)
    stack = stack_for(stack, loaded)
    request = DeployRequest(stack, loaded.config, loaded.working_dir, files=tuple(files),
                            environ=loaded.environ, sources=tuple(loaded.docs), sensitive=loaded.sensitive)
    opts = DeployOptions(prune=prune, resolve_image=resolve_image, with_registry_auth=with_registry_auth,
                         detach=detach, plan_only=plan_only, timeout=timeout,
                         rollback_on_failure=rollback_on_failure, context=choice.context, host=choice.host,
                         debug=debug, lock_timeout=lock_timeout, keep_versions=keep_versions,
                         deps_order=not no_deps_order, history_max=history_max)
    code = finish(deploy(request, opts, on_event=printer), fmt, plan_only)
    if debug:
        print(f"debug: deploy took {time.monotonic() - started:.2f}s", file=sys.stderr)
    return code
