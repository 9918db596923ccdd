"""`stackctl deploy`: load → convert → observe → plan → lock → apply → wait → history.

Every check that can fail runs before the first write (load, validation, conversion,
manager check, external references, placement, ports, immutable secrets). A plan without
changes writes nothing at all, not even the lock. Otherwise the deploy takes the stack's
lock, observes and plans again under it (another deploy may just have finished), applies,
and waits for the services it wrote unless --detach.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackctl.errors import EXIT_ERROR, EXIT_OK, ApplyError, StackctlError, UsageError
from stackctl.history import DEFAULT_KEEP as DEFAULT_HISTORY_MAX

if TYPE_CHECKING:
    from stackctl.engine import Engine

DEFAULT_LOCK_TIMEOUT = "60s"


@dataclass
class DeployOptions:
    prune: bool = False
    resolve_image: str = "always"
    with_registry_auth: bool = False
    detach: bool = False
    quiet: bool = False
    plan_only: bool = False
    timeout: str | float = "10m"
    rollback_on_failure: bool = False
    fmt: str = "text"
    context: str | None = None
    host: str | None = None  # an environment's engine (stackctl.yml `host:`); None: the shell's
    debug: bool = False
    lock_timeout: str | float = DEFAULT_LOCK_TIMEOUT
    show_plan: bool | None = None  # None: only when stdout is a terminal
    record_history: bool = True
    files: list[str] | None = None  # recorded in the revision history
    note: str = ""  # recorded in the revision history ("rollback to 3"...)
    history_max: int = DEFAULT_HISTORY_MAX  # revisions kept in the swarm (0: no limit)
    keep_versions: int = 2  # unused versions of each rotated secret/config kept for rollback
    environ: Mapping[str, str] | None = None  # for `environment: VAR` secrets (None: the shell)
    # rollback: "secrets"/"configs" -> base name -> the version the revision's services used
    pinned_objects: Mapping[str, Mapping[str, str]] | None = None
    sources: Sequence[Any] | None = None  # the parsed files (LoadedStack.docs): the plan's FILE:LINE


def load_files(files: list[str], env_files: list[str], environ: Mapping[str, str] | None = None) -> Any:
    """LoadedStack for the files (warnings printed); LoadError/ValidationError on problems.

    `environ`: the interpolation variables (project.resolve_env_args; None: the shell's).
    """
    if not files:
        raise UsageError("specify a Compose file (with --compose-file)")
    from stackctl.pipeline import load_stack
    from stackctl.render.diagnostics import print_warnings

    loaded = load_stack(list(files), env_files=list(env_files), environ=environ, validate=True)
    errors = [d for d in loaded.warnings if d.severity == "error"]
    if errors:
        from stackctl.errors import ValidationError

        raise ValidationError("", errors)
    print_warnings(loaded.warnings)
    return loaded


def check_stack_name(stack: str) -> str:
    name = stack.strip().strip("\"'")
    if not name:
        raise UsageError(f'invalid stack name: "{stack}"')
    import re

    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name):
        raise UsageError(f'invalid stack name: "{stack}" (letters, digits, "-", "_", "." only)')
    return name


def check_flags(resolve_image: str, fmt: str) -> None:
    """Bad flag values are usage errors (exit 64), found before any file is read."""
    if resolve_image not in ("always", "changed", "never"):
        raise UsageError(f"invalid --resolve-image {resolve_image!r} (always, changed or never)")
    if fmt not in ("text", "json"):
        raise UsageError(f"unknown --format {fmt!r} (text or json)")


def convert(stack: str, config: Mapping[str, Any], environ: Mapping[str, str] | None = None,
            read_file: Callable[[str], bytes] | None = None) -> Any:
    from stackctl.convert import convert_stack
    from stackctl.render.diagnostics import print_warnings

    desired = convert_stack(config, stack, environ=environ, read_file=read_file)
    print_warnings(getattr(desired, "warnings", []) or [])
    return desired


def plan_for(engine: Engine, desired: Any, stack: str, *, prune: bool, strict: bool = True,
             pins: Mapping[str, Mapping[str, str]] | None = None,
             sources: Sequence[Any] | None = None) -> Any:
    """`sources`: LoadedStack.docs, so the plan says FILE:LINE (None: a stored config)."""
    from stackctl.observe import observe_stack
    from stackctl.plan import make_plan

    observed = observe_stack(engine, stack)
    return make_plan(desired, observed, prune=prune, strict=strict, pins=pins, sources=sources)


def _printer(fmt: str, quiet: bool) -> Callable[[str], None]:
    if fmt == "json":
        return lambda text: print(text, file=sys.stderr, flush=True)
    if quiet:
        return lambda text: None
    return lambda text: print(text, flush=True)


def _event_printer(out: Callable[[str], None]) -> Callable[[Any], None]:
    def on_event(event: Any) -> None:
        if event.kind == "warning":
            print(event.text(), file=sys.stderr, flush=True)
        else:
            out(event.text())

    return on_event


def _up_to_date(plan: Any, opts: Any, out: Callable[[str], None]) -> int:
    """Nothing to write: say so (or print the empty deploy document) and succeed."""
    if opts.fmt == "json":
        _print_json(_deploy_doc(plan))
    else:
        out(f"Stack {plan.stack} is up to date: nothing to do.")
    return EXIT_OK


def deploy_config(stack: str, config: Mapping[str, Any], working_dir: str,
                  options: DeployOptions | None = None, *, engine: Engine | None = None,
                  **overrides: Any) -> int:
    """Deploy an already-loaded stack config (the merged dict `docker stack config` prints).

    Used by `deploy` and by the rollback command (which redeploys a stored revision).
    Options may be given as a DeployOptions or as keyword overrides of its fields.
    """
    from stackctl.apply.wait import parse_duration

    opts = options or DeployOptions()
    for key, value in overrides.items():
        if not hasattr(opts, key):
            raise TypeError(f"unknown deploy option {key!r}")
        setattr(opts, key, value)
    stack = check_stack_name(stack)
    check_flags(opts.resolve_image, opts.fmt)
    wait_timeout = parse_duration(opts.timeout)
    lock_timeout = parse_duration(opts.lock_timeout)
    out = _printer(opts.fmt, opts.quiet)
    show_plan = sys.stdout.isatty() if opts.show_plan is None else opts.show_plan

    if opts.keep_versions < 0:
        raise UsageError("--keep-versions must be 0 or more")
    if opts.history_max < 0:
        raise UsageError("--history-max must be 0 (no limit) or more")
    if opts.pinned_objects:
        # The pinned versions hold the content: files or variables gone since do not matter.
        desired = convert(stack, config, _AnyVariable(opts.environ), _file_or_nothing)
    else:
        desired = convert(stack, config, opts.environ)
    pins = opts.pinned_objects
    from stackctl.engine import open_engine, require_manager
    from stackctl.render.plan import print_plan

    if engine is None:
        engine = open_engine(opts.context, opts.debug, host=opts.host)
    require_manager(engine)
    plan = plan_for(engine, desired, stack, prune=opts.prune, strict=False, pins=pins,
                    sources=opts.sources)
    _print_plan_warnings(plan)
    if opts.plan_only:
        print_plan(plan, fmt=opts.fmt, debug=opts.debug)
        plan.check()
        return EXIT_OK
    plan.check()
    if not plan.has_changes:
        return _up_to_date(plan, opts, out)

    from stackctl.lock import StackLock

    def on_wait(info: Any) -> None:
        print(f"Waiting for the deploy lock of stack {stack}, held by {info.describe()}...",
              file=sys.stderr, flush=True)

    lock = StackLock(engine, stack, timeout=lock_timeout, on_wait=on_wait)
    lock.acquire()
    try:
        # Under the lock: the swarm may have changed while we waited for it.
        plan = plan_for(engine, desired, stack, prune=opts.prune, strict=False, pins=pins,
                    sources=opts.sources)
        plan.check()
        if show_plan and opts.fmt != "json" and plan.has_changes and not opts.quiet:
            print_plan(plan, debug=opts.debug)
            print()
        if not plan.has_changes:
            return _up_to_date(plan, opts, out)
        try:
            result = _apply(engine, plan, opts, out)
        except ApplyError as err:  # something may have been written: that is a (failed) revision
            _record_history(engine, stack, config, plan, getattr(err, "result", None), opts, working_dir,
                            status="failed", failure=str(err))
            raise
        if not opts.rollback_on_failure:
            lock.release()
        code, outcomes = _wait(engine, result, opts, wait_timeout)  # undoes on failure if asked
        if code == EXIT_OK:
            _collect_old_versions(engine, plan, result, opts, out)
        _record_history(engine, stack, config, plan, result, opts, working_dir, code=code)
        if opts.fmt == "json":
            _print_json(_deploy_doc(plan, result, outcomes))
        return code
    finally:
        lock.release()


def _print_plan_warnings(plan: Any) -> None:
    from stackctl.render.diagnostics import print_warnings

    print_warnings(plan.warnings)


def _deploy_doc(plan: Any, result: Any = None, outcomes: list[Any] | None = None) -> dict[str, Any]:
    """`deploy --format json`: schema stackctl.deploy/v3 (docs/json-output.md)."""
    from stackctl.render.plan import plan_json

    return {"schema": "stackctl.deploy/v3", "plan": plan_json(plan),
            "applied": result.to_json() if result is not None else None,
            "services": [o.to_json() for o in outcomes or []]}


def _print_json(doc: Any) -> None:
    import json

    print(json.dumps(doc, indent=2, ensure_ascii=False))


def _apply(engine: Engine, plan: Any, opts: DeployOptions, out: Callable[[str], None]) -> Any:
    from stackctl.apply import apply_plan, undo

    try:
        return apply_plan(engine, plan, resolve_image=opts.resolve_image,
                          with_registry_auth=opts.with_registry_auth, on_event=_event_printer(out),
                          check_manager=False)
    except ApplyError as err:
        result = getattr(err, "result", None)
        if opts.rollback_on_failure and result is not None and result.writes:
            out("Deploy failed: undoing what was applied")
            problems = undo(engine, result, on_event=_event_printer(out))
            err.diagnostics.extend(_diag(p) for p in problems)
        raise


def _diag(text: str) -> Any:
    from stackctl.errors import Diagnostic

    return Diagnostic(text)


def _wait(engine: Engine, result: Any, opts: DeployOptions, timeout: float) -> tuple[int, list[Any]]:
    """Wait for the services this deploy wrote (unless --detach); (exit code, outcomes).

    stackctl.apply.rollout does the watching, the verdict, Ctrl-C/SIGTERM handling and, with
    --rollback-on-failure, the undo of the whole deploy (and the wait for it).
    """
    if opts.detach or not result.service_names:
        return EXIT_OK, []
    from stackctl.apply.rollout import follow_rollout

    stream = sys.stderr if opts.fmt == "json" else sys.stdout
    report = follow_rollout(engine, result, timeout=timeout, rollback_on_failure=opts.rollback_on_failure,
                            quiet=opts.quiet, stream=stream)
    return report.exit_code, report.outcomes


class _AnyVariable(dict):  # type: ignore[type-arg]
    """Every variable counts as set (empty when unknown): for a rollback to pinned versions."""

    def __init__(self, environ: Mapping[str, str] | None) -> None:
        import os

        super().__init__(os.environ if environ is None else environ)

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> str:
        return ""


def _file_or_nothing(path: str) -> bytes:
    """A secret/config file's bytes, or none when it is gone (the pinned version has the content)."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _collect_old_versions(engine: Engine, plan: Any, result: Any, opts: DeployOptions,
                          out: Callable[[str], None]) -> None:
    """After a successful deploy: remove unused old versions of rotated secrets/configs."""
    from stackctl.apply import collect_old_versions

    try:
        removed, problems = collect_old_versions(engine, plan, keep=opts.keep_versions,
                                                 on_event=_event_printer(out))
        result.removed.extend(removed)  # shown in `deploy --format json` under applied.removed
    except StackctlError as err:
        problems = [str(err)]
    for text in problems:
        print(f"warning: {text}", file=sys.stderr)


def _record_history(engine: Engine, stack: str, config: Mapping[str, Any], plan: Any, result: Any,
                    opts: DeployOptions, working_dir: str, *, code: int | None = None, status: str = "",
                    failure: str = "") -> None:
    """Record the deploy as a revision whatever its outcome, once it wrote something (docs/exit-codes.md)."""
    from stackctl.history import describe_deploy, record_revision, status_for_exit

    if not opts.record_history or result is None or not result.writes:
        return
    writes = [*result.created, *result.updated, *result.removed]
    description = describe_deploy(stack, writes, plan, result.images, opts.note)
    if failure:
        description += f"; apply failed: {failure.splitlines()[0] if failure else ''}"
    try:
        record_revision(engine, stack, config, dict(result.images), files=opts.files, working_dir=working_dir,
                        note=opts.note, objects=plan.versions, keep=opts.history_max,
                        status=status or status_for_exit(code if code is not None else EXIT_ERROR),
                        description=description)
    except StackctlError as err:
        print(f"warning: the revision was not recorded: {err}", file=sys.stderr)


def run(*, stack: str | None, files: list[str], env_files: list[str], env: str | None = None,
        prune: bool = False, resolve_image: str = "always", with_registry_auth: bool = False,
        detach: bool = False, quiet: bool = False, plan_only: bool = False, timeout: str = "10m",
        rollback_on_failure: bool = False, fmt: str = "text", context: str | None = None, debug: bool = False,
        lock_timeout: str = DEFAULT_LOCK_TIMEOUT, keep_versions: int = 2,
        history_max: int = DEFAULT_HISTORY_MAX) -> int:
    from stackctl.project import resolve_env_args

    started = time.monotonic()
    check_flags(resolve_image, fmt)
    stack, files, env_files, environ, choice = resolve_env_args(
        env, files, env_files, stack, context=context, need_stack=True)
    stack = check_stack_name(stack or "")
    loaded = load_files(files, env_files, environ)
    opts = DeployOptions(prune=prune, resolve_image=resolve_image, with_registry_auth=with_registry_auth,
                         detach=detach, quiet=quiet, plan_only=plan_only, timeout=timeout,
                         rollback_on_failure=rollback_on_failure, fmt=fmt, context=choice.context,
                         host=choice.host, debug=debug, lock_timeout=lock_timeout, files=list(files),
                         keep_versions=keep_versions, environ=loaded.environ,
                         history_max=history_max, sources=loaded.docs)
    code = deploy_config(stack, loaded.config, loaded.working_dir, opts)
    if debug:
        print(f"debug: deploy took {time.monotonic() - started:.2f}s", file=sys.stderr)
    return code if code is not None else EXIT_ERROR
