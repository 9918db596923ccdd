"""The deploy service layer: load → convert → observe → plan → lock → apply → wait → history.

One typed function, `deploy(request, options, on_event=...)`, that the `deploy`, `rollback` and
`promote` commands call (and `diff` calls its first half, `load_stack_files`/`convert`/`plan_for`).
It prints nothing: whatever it has to say goes to `on_event` as a typed event (below, and the
executor's ApplyEvent and the rollout's RolloutEvent), which the command hands to render/ to print.

Every check that can fail runs before the first write (load, validation, conversion, manager check,
external references, placement, ports, immutable secrets). A plan without changes writes nothing at
all, not even the lock. Otherwise the deploy takes the stack's lock, observes and plans again under
it (another deploy may just have finished), applies (services in `depends_on` order unless
`deps_order=False`), and waits for the services it wrote unless `detach`. The lock is held until the
wait is over, so a second deploy of the stack starts writing only after this one converged. One
exception: a detached deploy whose only write is one service update takes no lock (the update is
guarded by the service's version; see `_single_guarded_write`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stackctl.errors import (
    EXIT_ERROR,
    EXIT_OK,
    ApplyError,
    Diagnostic,
    EngineError,
    StackctlError,
    UsageError,
)
from stackctl.resolve import RESOLVE_MODES

if TYPE_CHECKING:
    from stackctl.apply.convergence import ServiceOutcome
    from stackctl.apply.executor import ApplyResult
    from stackctl.apply.rollout import RolloutReport
    from stackctl.engine import Engine
    from stackctl.history import Revision
    from stackctl.load.source import SourceDoc
    from stackctl.lock import LockInfo
    from stackctl.model.depends import Ordering
    from stackctl.pipeline import LoadedStack
    from stackctl.plan import Plan
    from stackctl.plan.images import RegistryAnswer
    from stackctl.resolve import ImageResolver
    from stackctl.secrets.sensitive import Sensitive

DEFAULT_LOCK_TIMEOUT = "10m"  # as long as the default --timeout: the lock now covers the wait


# --- what goes in and out ------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployRequest:
    """What to deploy: a loaded stack model (the dict `stackctl config` prints) and where it came from."""

    stack: str
    config: Mapping[str, Any]
    working_dir: str = "."
    files: tuple[str, ...] = ()  # recorded in the revision history
    environ: Mapping[str, str] | None = None  # for `environment: VAR` secrets (None: the shell)
    note: str = ""  # recorded in the revision history ("rollback to 3"...)
    # rollback: "secrets"/"configs" -> base name -> the version the revision's services used
    pinned_objects: Mapping[str, Mapping[str, str]] | None = None
    sources: Sequence[SourceDoc] | None = None  # the parsed files: the plan says FILE:LINE (None: stored)
    rollout: Mapping[str, Any] | None = None  # a fan-out rollout's id, env, target, wave: recorded in history
    # the agent's git origin, recorded in the revision: url (no credentials), commit, author, subject
    git: Mapping[str, str] | None = None
    # values from encrypted env files (LoadedStack.sensitive): the plan and the history show digests
    sensitive: Sensitive | None = None


@dataclass
class DeployOptions:
    """How to deploy (the command line's flags)."""

    prune: bool = False
    resolve_image: str = "always"
    with_registry_auth: bool = False
    detach: bool = False
    plan_only: bool = False
    timeout: str | float = "10m"
    rollback_on_failure: bool = False
    context: str | None = None
    host: str | None = None  # an environment's engine (stackctl.yml `host:`); None: the shell's
    debug: bool = False
    lock_timeout: str | float = DEFAULT_LOCK_TIMEOUT
    record_history: bool = True
    history_max: int = 10  # revisions of the stack kept in the swarm (0: no limit)
    keep_versions: int = 2  # unused versions of each rotated secret/config kept for rollback
    deps_order: bool = True  # False: --no-deps-order, every service at once as the reference does


@dataclass
class DeployOutcome:
    """What a deploy did and its exit code (docs/exit-codes.md)."""

    stack: str
    exit_code: int
    plan: Plan | None = None
    ordering: Ordering | None = None
    applied: ApplyResult | None = None
    rollout: RolloutReport | None = None
    lock_waited: float = 0.0  # seconds spent waiting for another deploy's lock

    @property
    def outcomes(self) -> list[ServiceOutcome]:
        return list(self.rollout.outcomes) if self.rollout is not None else []

    def to_json(self) -> dict[str, Any]:
        """`deploy --format json`: schema stackctl.deploy/v3 (docs/json-output.md)."""
        from stackctl.render.plan import plan_json

        plan = plan_json(self.plan) if self.plan is not None else None
        if plan is not None and self.ordering is not None:
            plan["order"] = [list(tier) for tier in self.ordering.tiers]
        return {"schema": "stackctl.deploy/v3", "plan": plan,
                "applied": self.applied.to_json() if self.applied is not None else None,
                "services": [o.to_json() for o in self.outcomes]}


# --- events (the command's callback renders them) ------------------------------------------------


@dataclass(frozen=True)
class Warnings:
    """Warnings of loading, converting or planning (never change the exit code)."""

    diagnostics: tuple[Diagnostic, ...]


@dataclass(frozen=True)
class PlanReady:
    """The plan about to be applied (`final`: made under the lock) or, with `plan_only`, the answer."""

    plan: Plan
    ordering: Ordering | None
    final: bool = False
    plan_only: bool = False


@dataclass(frozen=True)
class UpToDate:
    plan: Plan


@dataclass(frozen=True)
class LockWaiting:
    """Another deploy holds the stack's lock; we wait for it at most `timeout` seconds."""

    stack: str
    holder: LockInfo
    timeout: float


@dataclass(frozen=True)
class LockTaken:
    """We got the lock after waiting `waited` seconds; the plan is made again."""

    stack: str
    waited: float


@dataclass(frozen=True)
class Notice:
    """A line to say: `level` is "info" (stdout) or "warning" (stderr)."""

    text: str
    level: str = "info"


EventCallback = Callable[[object], None]


def _ignore(event: object) -> None:
    return None


# --- the stages -----------------------------------------------------------------------------------


def check_stack_name(stack: str) -> str:
    name = stack.strip().strip("\"'")
    if not name:
        raise UsageError(f'invalid stack name: "{stack}"')
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name):
        raise UsageError(f'invalid stack name: "{stack}" (letters, digits, "-", "_", "." only)')
    return name


def stack_for(stack: str | None, loaded: LoadedStack) -> str:
    """The stack to deploy: the one given (already checked), else the name the files declare."""
    if stack:
        return stack
    if not loaded.declared_name:
        raise UsageError("give a stack name (or an environment with --env, or name: in a file "
                         "without version:)")
    return check_stack_name(loaded.declared_name)


def load_stack_files(files: list[str], env_files: list[str], environ: Mapping[str, str] | None = None,
                     on_event: EventCallback = _ignore) -> LoadedStack:
    """The validated stack model of `files`; LoadError/ValidationError on problems, warnings as events.

    `environ`: the interpolation variables (project.resolve_env_args; None: the shell's).
    """
    if not files:
        raise UsageError("specify a Compose file (with --compose-file)")
    from stackctl.errors import ValidationError
    from stackctl.pipeline import load_stack

    loaded = load_stack(list(files), env_files=list(env_files), environ=environ, validate=True)
    errors = [d for d in loaded.warnings if d.severity == "error"]
    if errors:
        raise ValidationError("", errors)
    if loaded.warnings:
        on_event(Warnings(tuple(loaded.warnings)))
    return loaded


def convert(stack: str, config: Mapping[str, Any], environ: Mapping[str, str] | None = None,
            read_file: Callable[[str], bytes] | None = None, on_event: EventCallback = _ignore,
            sensitive: Sensitive | None = None) -> Any:
    """The DesiredStack of the model (Engine API specs); its warnings as an event. `sensitive`:
    values from encrypted env files, which no problem or warning quotes (digests instead)."""
    from stackctl.convert import convert_stack
    from stackctl.errors import ConvertError

    try:
        desired = convert_stack(config, stack, environ=environ, read_file=read_file)
    except ConvertError as err:
        if sensitive:
            err.message = sensitive.hide(err.message)
            err.diagnostics = sensitive.hide_diagnostics(err.diagnostics)
        raise
    if desired.warnings:
        warnings = sensitive.hide_diagnostics(desired.warnings) if sensitive else desired.warnings
        on_event(Warnings(tuple(warnings)))
    return desired


def plan_for(engine: Engine, desired: Any, stack: str, *, prune: bool, strict: bool = True,
             pins: Mapping[str, Mapping[str, str]] | None = None,
             sources: Sequence[SourceDoc] | None = None, resolver: ImageResolver | None = None,
             resolve_image: str = "never", sensitive: Sensitive | None = None) -> Plan:
    """Observe the stack and plan the way to `desired`; `sources` (the parsed files) give FILE:LINE.

    With a `resolver` and `resolve_image` always/changed, the registry is asked about the images
    first (stackctl/resolve.py): a tag pushed anew is an image change, a missing image a blocking
    problem of the plan. `sensitive`: values from encrypted env files, shown as digests."""
    from stackctl.observe import observe_stack
    from stackctl.plan import make_plan
    from stackctl.plan.checks import publishes_ports

    # Other stacks' services matter only to a stack that publishes ports (the conflict check).
    observed = observe_stack(engine, stack,
                             other_services=any(publishes_ports(s) for s in desired.services.values()))
    registry: dict[str, RegistryAnswer] = {}
    if resolver is not None and resolve_image != "never":
        from stackctl.resolve import images_to_resolve

        registry = resolver.lookup_all(images_to_resolve(resolve_image, desired.services, observed))
    plan = make_plan(desired, observed, prune=prune, strict=strict, pins=pins, sources=sources,
                     registry=registry)
    from stackctl.plan.sensitive import redact_plan

    return redact_plan(plan, sensitive)  # also for entries the swarm's labels mark


def image_resolver(engine: Engine, resolve_image: str, with_registry_auth: bool) -> ImageResolver | None:
    """The command's registry lookups (None with `--resolve-image never`: the registry is not asked)."""
    if resolve_image == "never":
        return None
    from stackctl.resolve import ImageResolver

    return ImageResolver(engine, send_auth=with_registry_auth)


def ordering_for(config: Mapping[str, Any], stack: str) -> Ordering | None:
    """The `depends_on` order of the stack's services; None when nothing depends on anything."""
    from stackctl.model.depends import Ordering, dependency_graph

    graph = dependency_graph(config)  # validation already refused cycles
    if not graph.edges:
        return None
    return Ordering.of(graph, stack)


def deploy(request: DeployRequest, options: DeployOptions | None = None, *, engine: Engine | None = None,
           on_event: EventCallback | None = None) -> DeployOutcome:
    """Deploy `request.config` as stack `request.stack`; the outcome carries the exit code.

    Raises StackctlError for problems found before or while writing (the CLI renders them);
    a rollout that does not converge is an outcome with its exit code, not an exception. No
    error quotes a value of `request.sensitive` (its digest instead).
    """
    if on_event is not None and request.sensitive:
        on_event = _hiding(on_event, request.sensitive)
    try:
        return _deploy(request, options, engine=engine, on_event=on_event)
    except StackctlError as err:
        if request.sensitive:
            err.message = request.sensitive.hide(err.message)
            err.diagnostics = request.sensitive.hide_diagnostics(err.diagnostics)
        raise


def _hiding(on_event: EventCallback, sensitive: Sensitive) -> EventCallback:
    """`on_event` behind one filter: every event's text (its str fields, lists of str and of
    Diagnostics: warnings, notices, engine messages) with the sensitive values as digests, so no
    event of the deploy (or of the rollout it runs) can quote one."""
    import dataclasses

    from stackctl.errors import Diagnostic

    def hide(value: object) -> object:
        if isinstance(value, str):  # a short value only as the whole text: `1/1 running` stays
            return sensitive.hide(value, words=False)
        if isinstance(value, list | tuple) and value and all(isinstance(v, Diagnostic) for v in value):
            return type(value)(sensitive.hide_diagnostics(list(value)))
        if isinstance(value, list | tuple) and value and all(isinstance(v, str) for v in value):
            return type(value)(sensitive.hide(v, words=False) for v in value)
        return value

    def filtered(event: object) -> None:
        if dataclasses.is_dataclass(event) and not isinstance(event, type):
            changes = {f.name: hidden for f in dataclasses.fields(event)
                       if (hidden := hide(value := getattr(event, f.name))) is not value}
            if changes:
                event = dataclasses.replace(event, **changes)
        on_event(event)

    return filtered


def _deploy(request: DeployRequest, options: DeployOptions | None, *, engine: Engine | None,
            on_event: EventCallback | None) -> DeployOutcome:
    from stackctl.units import parse_timeout

    opts = options or DeployOptions()
    emit = on_event or _ignore
    stack = check_stack_name(request.stack)
    assert opts.resolve_image in RESOLVE_MODES, opts.resolve_image  # commands/_options.check_resolve_image
    assert opts.keep_versions >= 0, opts.keep_versions  # commands/deploy.check_flags
    wait_timeout = parse_timeout(opts.timeout)
    lock_timeout = parse_timeout(opts.lock_timeout)

    pins = request.pinned_objects
    if pins:
        # The pinned versions hold the content: files or variables gone since do not matter.
        desired = convert(stack, request.config, _AnyVariable(request.environ), _file_or_nothing, emit,
                          request.sensitive)
    else:
        desired = convert(stack, request.config, request.environ, on_event=emit, sensitive=request.sensitive)
    ordering = ordering_for(request.config, stack) if opts.deps_order else None
    from stackctl.engine import open_engine, require_manager

    if engine is None:
        engine = open_engine(opts.context, opts.debug, host=opts.host)
    require_manager(engine)
    resolver = image_resolver(engine, opts.resolve_image, opts.with_registry_auth)
    plan = plan_for(engine, desired, stack, prune=opts.prune, strict=False, pins=pins,
                    sources=request.sources, resolver=resolver, resolve_image=opts.resolve_image,
                    sensitive=request.sensitive)
    if plan.warnings:
        emit(Warnings(tuple(plan.warnings)))
    hints = resolver.auth_hints() if resolver is not None else []
    if opts.plan_only:
        emit(PlanReady(plan, ordering, plan_only=True))
        plan.check()
        return DeployOutcome(stack, EXIT_OK, plan, ordering)
    plan.check()
    if not plan.has_changes:
        emit(UpToDate(plan))
        return DeployOutcome(stack, EXIT_OK, plan, ordering)

    if _single_guarded_write(plan, opts):
        # One service update and nothing else, not waited for: the update carries the version it was
        # planned from (the engine refuses it, "out of sequence", if anyone changed the service
        # since; the executor then plans it again), so no stack lock is needed to keep it correct,
        # and the deploy writes the service and its revision only (bench/README.md, "Writes").
        outcome = DeployOutcome(stack, EXIT_OK, plan, ordering)
        _write_and_wait(engine, request, outcome, opts, ordering, wait_timeout, emit, resolver, hints)
        return outcome

    from stackctl.lock import DEFAULT_TTL, LockBusy, LockEvent, StackLock

    asked = time.monotonic()
    waited = False

    def on_lock(event: LockEvent) -> None:
        nonlocal waited
        if isinstance(event, LockBusy):
            waited = True
            emit(LockWaiting(stack, event.holder, lock_timeout))
        else:
            emit(event)  # LockTakenOver: render/lock.py words it

    # The lock covers the wait: a deploy that may wait long says so, so that no one takes it as dead.
    ttl = max(DEFAULT_TTL, 2 * wait_timeout + 60.0)
    lock = StackLock(engine, stack, timeout=lock_timeout, on_event=on_lock, ttl=ttl)
    lock.acquire()
    outcome = DeployOutcome(stack, EXIT_OK, plan, ordering)
    if waited:
        outcome.lock_waited = time.monotonic() - asked
        emit(LockTaken(stack, outcome.lock_waited))
    try:
        # Under the lock: the swarm may have changed while we waited for it.
        plan = outcome.plan = plan_for(engine, desired, stack, prune=opts.prune, strict=False, pins=pins,
                                       sources=request.sources, resolver=resolver,
                                       resolve_image=opts.resolve_image, sensitive=request.sensitive)
        plan.check()
        if not plan.has_changes:
            emit(UpToDate(plan))
            return outcome
        _write_and_wait(engine, request, outcome, opts, ordering, wait_timeout, emit, resolver, hints)
        return outcome
    finally:
        lock.release()


def rollback_request(rev: Revision, stack: str, *, engine: Engine,
                     rollout: Mapping[str, Any] | None = None) -> DeployRequest:
    """The deploy that restores a recorded revision (`stackctl rollback`, a fan-out wave's rollback):
    its stack, its files' place, and the secret/config versions its services used (docs/rotation.md).

    Values from encrypted env files (stored as digests) are taken back from the stack's services
    on `engine`'s swarm (history.restore_sensitive: HistoryError when one is gone); `engine` is
    required, so a rollback can never deploy a digest placeholder as a value."""
    from stackctl.history import restore_sensitive

    config, sensitive = restore_sensitive(engine, stack, rev)
    return DeployRequest(stack, config, rev.working_dir or rev.cwd, files=tuple(rev.files),
                         note=f"rollback to {rev.revision}", pinned_objects=rev.objects or None,
                         rollout=rollout, sensitive=sensitive)


def _single_guarded_write(plan: Plan, opts: DeployOptions) -> bool:
    """A detached deploy whose only write is one service update guarded by the service's version."""
    from stackctl.plan.model import UPDATE

    if not opts.detach:
        return False  # the lock covers the wait (and a rollback after it)
    writes = [a for a in plan.actions if a.writes]
    return (len(writes) == 1 and writes[0].kind == "service" and writes[0].action == UPDATE
            and writes[0].version is not None)


def _write_and_wait(engine: Engine, request: DeployRequest, outcome: DeployOutcome, opts: DeployOptions,
                    ordering: Ordering | None, wait_timeout: float, emit: EventCallback,
                    resolver: ImageResolver | None, hints: Sequence[str]) -> None:
    """Apply the final plan, wait for it, collect old versions and record the revision."""
    plan = outcome.plan
    assert plan is not None  # planned before the writes
    emit(PlanReady(plan, ordering, final=True))
    for hint in hints:
        emit(Notice(f"warning: {hint}", "warning"))
    started = time.monotonic()
    try:
        result = outcome.applied = _apply(engine, plan, opts, ordering, wait_timeout, emit, resolver)
    except ApplyError as err:  # something may have been written: that is a (failed) revision
        _record_history(engine, request, plan, getattr(err, "result", None), opts, emit,
                        code=getattr(err, "exit_code", EXIT_ERROR), failure=str(err))
        raise
    remaining = max(0.1, wait_timeout - (time.monotonic() - started)) if wait_timeout > 0 else 0
    try:
        outcome.rollout = _wait(engine, result, opts, ordering, remaining, emit)
    except EngineError as err:  # the wait could not go on: the writes are a (failed) revision
        if not err.connection_failed:  # an engine that went away cannot record it
            _record_history(engine, request, plan, result, opts, emit, code=err.exit_code,
                            failure=str(err), stage="wait")
        raise
    outcome.exit_code = outcome.rollout.exit_code
    if outcome.exit_code != EXIT_OK and hints:  # "No such image" on the nodes: say why
        emit(Notice("hint: the registry wants credentials the nodes did not get: "
                    "deploy with --with-registry-auth", "warning"))
    if outcome.exit_code == EXIT_OK:
        _collect_old_versions(engine, plan, result, opts, emit)
    # --- history: the one place a deploy records its revision, whatever its outcome ----------
    _record_history(engine, request, plan, result, opts, emit, code=outcome.exit_code)


def _apply(engine: Engine, plan: Plan, opts: DeployOptions, ordering: Ordering | None, timeout: float,
           emit: EventCallback, resolver: ImageResolver | None = None) -> ApplyResult:
    """Write the plan (in dependency order); with --rollback-on-failure undo what a failure left."""
    from stackctl.apply.executor import apply_plan, undo
    from stackctl.apply.ordering import DependencyGate

    gate = DependencyGate(engine, ordering, timeout=timeout, on_event=emit) if ordering is not None else None
    try:
        return apply_plan(engine, plan, resolve_image=opts.resolve_image,
                          with_registry_auth=opts.with_registry_auth, on_event=emit, check_manager=False,
                          tiers=ordering.tiers if ordering is not None else None, gate=gate,
                          resolver=resolver)
    except ApplyError as err:
        result: ApplyResult | None = getattr(err, "result", None)
        if opts.rollback_on_failure and result is not None and result.writes:
            how = " (in reverse dependency order)" if ordering is not None else ""
            emit(Notice(f"Deploy failed: undoing what was applied{how}"))
            problems = undo(engine, result, on_event=emit,
                            order=ordering.order if ordering is not None else None)
            err.diagnostics.extend(Diagnostic(p) for p in problems)
        raise


def _wait(engine: Engine, result: ApplyResult, opts: DeployOptions, ordering: Ordering | None,
          timeout: float, emit: EventCallback) -> RolloutReport:
    """Wait for the services this deploy wrote (unless --detach); undo on failure if asked."""
    from stackctl.apply.rollout import RolloutReport, follow_rollout

    if opts.detach or not result.service_names:
        return RolloutReport(EXIT_OK)
    return follow_rollout(engine, result, timeout=timeout, rollback_on_failure=opts.rollback_on_failure,
                          on_event=emit, order=ordering.order if ordering is not None else None)


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
    from stackctl.secrets.decrypt import DecryptError, read_file

    try:
        return read_file(path)
    except (OSError, DecryptError):
        return b""


def _collect_old_versions(engine: Engine, plan: Plan, result: ApplyResult, opts: DeployOptions,
                          emit: EventCallback) -> None:
    """After a successful deploy: remove unused old versions of rotated secrets/configs."""
    from stackctl.apply.executor import collect_old_versions

    try:
        removed, problems = collect_old_versions(engine, plan, keep=opts.keep_versions, on_event=emit)
        result.removed.extend(removed)  # shown in `deploy --format json` under applied.removed
    except StackctlError as err:
        problems = [str(err)]
    for text in problems:
        emit(Notice(f"warning: {text}", "warning"))


def _record_history(engine: Engine, request: DeployRequest, plan: Plan, result: ApplyResult | None,
                    opts: DeployOptions, emit: EventCallback, *, code: int, failure: str = "",
                    stage: str = "apply") -> None:
    """A revision for every deploy that wrote something, with its status (docs/exit-codes.md)."""
    from stackctl.history import status_for_exit
    from stackctl.history_text import describe_deploy

    if not opts.record_history or result is None or not result.writes:
        return
    writes = [*result.created, *result.updated, *result.removed]
    description = describe_deploy(request.stack, writes, plan, result.images, request.note)
    if failure:
        description += f"; {stage} failed: {failure.splitlines()[0]}"
    try:
        record_request(engine, request, result.images, keep=opts.history_max, status=status_for_exit(code),
                       description=description, objects=plan.versions)
    except StackctlError as err:
        emit(Notice(f"warning: the revision was not recorded: {err}", "warning"))


def record_request(engine: Engine, request: DeployRequest, images: Mapping[str, str], *, keep: int,
                   status: str, description: str,
                   objects: Mapping[str, Mapping[str, str]] | None = None) -> int:
    """Record `request` as a revision of its stack (the one way a deploy's files reach the history:
    a deploy's own, and the agent's "found applied" one). Sensitive values are stored as their
    digest, never in clear (a rollback takes them back from the swarm). Raises StackctlError."""
    from stackctl.history import record_revision

    config = request.sensitive.redact_config(request.config) if request.sensitive else request.config
    sent = request.sensitive.scrub(dict(images)) if request.sensitive else dict(images)
    if request.sensitive:
        description = request.sensitive.hide(description)  # it names images and a failure's text
    return record_revision(engine, request.stack, config, sent,
                           files=list(request.files) or None, working_dir=request.working_dir,
                           note=request.note, objects=objects, keep=keep, status=status,
                           description=description, rollout=request.rollout, git=request.git)


__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DeployOptions",
    "DeployOutcome",
    "DeployRequest",
    "LockTaken",
    "LockWaiting",
    "Notice",
    "PlanReady",
    "UpToDate",
    "Warnings",
    "check_stack_name",
    "stack_for",
    "convert",
    "deploy",
    "load_stack_files",
    "ordering_for",
    "plan_for",
    "rollback_request",
]
