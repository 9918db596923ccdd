"""The deploy service layer's multi-target driver: one environment, many swarms, wave by wave.

`roll_out(rollout, options, on_event=...) -> FanoutResult` is what `deploy --env`, `promote --to`
(and, later, the agent) call for an environment with `targets:` (docs/fan-out.md). Each target gets
the ordinary deploy of stackctl/deploy.py (plan → lock → apply → wait → history) on its own engine;
this module only decides which target goes when, and what a failure does:

1. A wave begins by reaching and planning every one of its targets (load its files, connect, check
   that it is a manager, plan, check the plan). A target that cannot be reached or planned fails the
   wave before anything of the wave is written, and is named.
2. The wave's targets are deployed, `max_parallel` at a time (threads: each has its own engine). Once
   one fails, no further target of the wave is started; those already running finish.
3. When every target converged, the wave bakes for `bake` (apply/wait.py's `bake_services`: the
   wait's rules, one task failure enough) on every target at once, then runs its gates in order.
4. A failure stops the rollout: later waves are never written. `on_failure` then rolls back the
   failing wave's targets (`rollback_wave`) or every target written so far (`rollback_all`) to the
   revision each had before the rollout (recorded in its history), through the rollback path.

Every target's revision records the rollout (`id`, `env`, `target`, `wave`, `action`), so
`find_resume` can tell which targets a rollout finished and which images it shipped. The driver
prints nothing: it sends typed events (below; a target's own deploy events come wrapped in
`TargetEvent`) to `on_event`; render/fanout.py prints them.
"""

from __future__ import annotations

import copy
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from stackctl.deploy import DeployOptions, DeployOutcome, DeployRequest
from stackctl.errors import (
    EXIT_DEPLOY_FAILED,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    ApplyError,
    EngineError,
    StackctlError,
    UsageError,
)
from stackctl.fanout.gates import GateResult, run_gate
from stackctl.fanout.spec import ROLLBACK_ALL, ROLLBACK_WAVE, Rollout, Target, Wave
from stackctl.names import descope

if TYPE_CHECKING:
    from stackctl.apply.convergence import ServiceOutcome
    from stackctl.engine import Engine
    from stackctl.plan import Plan

SCHEMA = "stackctl.rollout/v1"

# a target's status in a rollout
DEPLOYED = "deployed"
UP_TO_DATE = "up to date"
FAILED = "failed"
UNREACHABLE = "unreachable"
NOT_STARTED = "not started"
ROLLED_BACK = "rolled back"
PLANNED = "planned"
DONE_EARLIER = "done earlier"  # --resume: this rollout deployed it in an earlier run

EventCallback = Callable[[object], None]


def _ignore(event: object) -> None:
    return None


# --- what goes in and out --------------------------------------------------------------------------


@dataclass(frozen=True)
class FanoutOptions:
    """How to roll out: the deploy's own options (context/host come from each target) and more."""

    deploy: DeployOptions = field(default_factory=DeployOptions)
    rollout_id: str = ""  # "" for a new id; --resume passes the id it continues
    images: Mapping[str, str] | None = None  # service -> image for every target (promote, --resume)
    done: frozenset[str] = frozenset()  # targets an earlier run of this rollout finished (--resume)
    resume_wave: int = 0  # --resume: the waves before this one passed in an earlier run
    note: str = ""  # recorded in each revision ("promoted from staging")
    poll: float = 1.0  # seconds between the bake's looks
    # the agent: the shell's variables for interpolation (None: os.environ, as the CLI), the git origin
    # recorded in each revision, and how a file is named in history (its path in the repository)
    shell: Mapping[str, str] | None = None
    git: Mapping[str, str] | None = None
    files_as: Callable[[str], str] | None = None


@dataclass
class TargetResult:
    target: str
    wave: int
    status: str = NOT_STARTED
    exit_code: int = EXIT_OK
    summary: str = ""  # the plan's counts: "1 to create, 0 to update, 0 to remove"
    message: str = ""
    started: float | None = None  # epoch seconds
    ended: float | None = None
    previous_revision: int | None = None  # the revision to roll back to (before the rollout)
    wrote: bool = False
    rollback: str = ""  # what on_failure did here
    outcome: DeployOutcome | None = None

    @property
    def seconds(self) -> float | None:
        return (self.ended - self.started) if self.started is not None and self.ended is not None else None

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "wave": self.wave, "status": self.status, "exit_code": self.exit_code,
                "plan": self.summary, "message": self.message, "started": _stamp(self.started),
                "ended": _stamp(self.ended), "seconds": round(self.seconds, 3) if self.seconds is not None
                else None, "previous_revision": self.previous_revision, "wrote": self.wrote,
                "rollback": self.rollback or None,
                "deploy": self.outcome.to_json() if self.outcome is not None else None}


@dataclass
class WaveResult:
    number: int
    status: str = NOT_STARTED  # passed | failed | not started | planned | done earlier
    bake: float = 0.0
    bake_outcomes: dict[str, list[ServiceOutcome]] = field(default_factory=dict)
    gates: list[GateResult] = field(default_factory=list)
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"wave": self.number, "status": self.status, "bake_seconds": self.bake,
                "bake": {t: [o.to_json() for o in outs] for t, outs in self.bake_outcomes.items()},
                "gates": [g.to_json() for g in self.gates], "message": self.message or None}


@dataclass
class FanoutResult:
    id: str
    env: str
    stack: str
    exit_code: int = EXIT_OK
    targets: list[TargetResult] = field(default_factory=list)
    waves: list[WaveResult] = field(default_factory=list)
    message: str = ""
    plan_only: bool = False
    plans: dict[str, Plan] = field(default_factory=dict)  # target -> plan (every planned target)

    def target(self, name: str) -> TargetResult:
        return next(t for t in self.targets if t.target == name)

    def to_json(self) -> dict[str, Any]:
        """`deploy --env ENV --format json` for an environment of many swarms (docs/json-output.md)."""
        from stackctl.render.plan import plan_json

        targets = []
        for t in self.targets:
            doc = t.to_json()
            if self.plan_only and t.target in self.plans:
                doc["deploy"] = {"plan": plan_json(self.plans[t.target])}
            targets.append(doc)
        return {"schema": SCHEMA, "id": self.id, "env": self.env, "stack": self.stack,
                "exit_code": self.exit_code, "plan_only": self.plan_only, "message": self.message or None,
                "targets": targets, "waves": [w.to_json() for w in self.waves]}


# --- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetEvent:
    """One of a target's own deploy events (stackctl/deploy.py, apply/), tagged with the target."""

    target: str
    event: object


@dataclass(frozen=True)
class RolloutStarting:
    id: str
    env: str
    waves: tuple[Wave, ...]
    resumed: bool = False


@dataclass(frozen=True)
class WavePlanned:
    """Every target of a wave reached and planned (`problems`: those that could not be)."""

    wave: Wave
    plans: Mapping[str, Plan]
    problems: Mapping[str, str]
    skipped: tuple[str, ...] = ()  # done earlier (--resume)


@dataclass(frozen=True)
class TargetFinished:
    result: TargetResult


@dataclass(frozen=True)
class BakeStarting:
    wave: Wave
    targets: tuple[str, ...]


@dataclass(frozen=True)
class GateFinished:
    wave: Wave
    result: GateResult


@dataclass(frozen=True)
class WaveFinished:
    wave: Wave
    result: WaveResult


@dataclass(frozen=True)
class RollingBack:
    target: str
    revision: int | None


@dataclass(frozen=True)
class RolloutFinished:
    result: FanoutResult


# --- preparing one target ------------------------------------------------------------------------


@dataclass
class Prepared:
    """A target reached and planned: what its deploy needs."""

    target: Target
    request: DeployRequest
    engine: Engine
    plan: Plan
    previous: int | None
    owned: bool = True  # the driver opened the engine (and closes it)

    def close(self) -> None:
        if self.owned:
            try:
                self.engine.close()
            except Exception:  # noqa: BLE001 - closing a connection that may be gone
                pass


def _stamp(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_rollout_id() -> str:
    """Sortable by time: `20261206T214501Z-3f9a`."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:4]


def with_images(config: Mapping[str, Any], images: Mapping[str, str]) -> dict[str, Any]:
    """The stack model with each named service's image replaced (pins: promote, --resume)."""
    out = copy.deepcopy(dict(config))
    for name, image in images.items():
        service = (out.get("services") or {}).get(name)
        if isinstance(service, dict):
            service["image"] = image
    return out


def prepare(target: Target, rollout: Rollout, options: FanoutOptions, wave: int, rollout_id: str,
            emit: EventCallback = _ignore, engine: Engine | None = None) -> Prepared:
    """Load the target's files, reach its manager and plan; StackctlError (EngineError when it cannot
    be reached) before anything is written."""
    from stackctl.deploy import convert, image_resolver, load_stack_files, plan_for
    from stackctl.engine import open_engine, require_manager

    env = target.env
    loaded = load_stack_files(list(env.files), list(env.env_files), env.environ(options.shell), on_event=emit)
    config = with_images(loaded.config, options.images) if options.images else loaded.config
    opts = options.deploy
    desired = convert(rollout.stack, config, loaded.environ, on_event=emit, sensitive=loaded.sensitive)
    owned = engine is None
    if engine is None:
        engine = open_engine(env.context, opts.debug, host=None if env.context else env.host)
    try:
        require_manager(engine)
        resolver = image_resolver(engine, opts.resolve_image, opts.with_registry_auth)
        plan = plan_for(engine, desired, rollout.stack, prune=opts.prune, strict=False, sources=loaded.docs,
                        resolver=resolver, resolve_image=opts.resolve_image, sensitive=loaded.sensitive)
        if not opts.plan_only:
            plan.check()  # a blocking problem of any target stops its wave before the wave writes
        previous = _previous_revision(engine, rollout.stack)
    except BaseException:
        if owned:
            engine.close()
        raise
    files = tuple(map(options.files_as, env.files)) if options.files_as else tuple(env.files)
    request = DeployRequest(rollout.stack, config, loaded.working_dir, files=files,
                            environ=loaded.environ, note=options.note, sources=tuple(loaded.docs),
                            sensitive=loaded.sensitive, git=options.git,
                            rollout={"id": rollout_id, "env": rollout.env, "target": target.name,
                                     "wave": wave, "action": "deploy"})
    return Prepared(target, request, engine, plan, previous, owned)


def _previous_revision(engine: Engine, stack: str) -> int | None:
    """The newest revision that deployed: where a rollback of this rollout goes."""
    from stackctl.history import DEPLOYED as REV_DEPLOYED
    from stackctl.history import list_revisions

    for rev in reversed(list_revisions(engine, stack)):
        if rev.status == REV_DEPLOYED:
            return rev.revision
    return None


def summary_of(plan: Plan) -> str:
    from stackctl.plan import CREATE, REMOVE, UPDATE

    counts = plan.counts()
    if not plan.has_changes:
        return "no changes"
    return f"{counts[CREATE]} to create, {counts[UPDATE]} to update, {counts[REMOVE]} to remove"


def describe_problem(target: Target, err: StackctlError) -> tuple[str, str]:
    """(status, message) of a target that could not be reached or planned."""
    first = (err.lines() or [str(err)])[0]
    if isinstance(err, EngineError) and (err.connection_failed or err.failure != "refused"):
        return UNREACHABLE, f"target {target.name} ({target.swarm}) cannot be reached: {first}"
    return FAILED, f"target {target.name} ({target.swarm}): {first}"


def plan_targets(rollout: Rollout, options: FanoutOptions, emit: EventCallback = _ignore,
                 engines: Mapping[str, Engine] | None = None
                 ) -> tuple[dict[str, Prepared], dict[str, tuple[str, str]]]:
    """Reach and plan every target of the rollout's waves (diff, --plan-only): prepared, problems."""
    prepared: dict[str, Prepared] = {}
    problems: dict[str, tuple[str, str]] = {}
    rid = options.rollout_id or "plan"
    for wave in rollout.waves:
        for name in wave.targets:
            target = rollout.target(name)
            try:
                prepared[name] = prepare(target, rollout, options, wave.number, rid,
                                         _tagged(emit, name), (engines or {}).get(name))
            except StackctlError as err:
                problems[name] = describe_problem(target, err)
    return prepared, problems


def _tagged(emit: EventCallback, target: str) -> EventCallback:
    def inner(event: object) -> None:
        emit(TargetEvent(target, event))

    return inner


# --- the rollout ----------------------------------------------------------------------------------


def roll_out(rollout: Rollout, options: FanoutOptions | None = None, *,
             on_event: EventCallback | None = None,
             engines: Mapping[str, Engine] | None = None) -> FanoutResult:
    """Deploy the rollout's waves in order; the result carries the exit code (docs/exit-codes.md).

    `engines`: an engine per target name (tests); otherwise each target's host/context is reached.
    Never raises for a target's failure: it is a result (the first failure's exit code; 4 when
    on_failure rolled everything it had to back)."""
    opts = options or FanoutOptions()
    emit = on_event or _ignore
    lock = threading.Lock()

    def say(event: object) -> None:
        with lock:
            emit(event)

    rid = opts.rollout_id or new_rollout_id()
    result = FanoutResult(rid, rollout.env, rollout.stack, plan_only=opts.deploy.plan_only)
    for wave in rollout.waves:
        for name in wave.targets:
            result.targets.append(TargetResult(name, wave.number))
    result.waves = [WaveResult(w.number, bake=w.bake) for w in rollout.waves]
    say(RolloutStarting(rid, rollout.env, rollout.waves, resumed=bool(opts.rollout_id)))
    prepared_all: dict[str, Prepared] = {}
    failure: tuple[int, str] | None = None  # exit code, message
    failed_wave: Wave | None = None
    try:
        for wave, wave_result in zip(rollout.waves, result.waves, strict=True):
            if wave.number < opts.resume_wave:  # --resume: passed in an earlier run
                for name in wave.targets:
                    result.target(name).status = DONE_EARLIER
                wave_result.status = DONE_EARLIER
                say(WaveFinished(wave, wave_result))
                continue
            skipped = tuple(n for n in wave.targets if n in opts.done)
            for name in skipped:
                result.target(name).status = DONE_EARLIER
            todo = [n for n in wave.targets if n not in opts.done]
            prepared, problems = _prepare_wave(rollout, wave, todo, opts, rid, say, engines)
            prepared_all.update(prepared)
            baked_too: dict[str, Prepared] = {}
            if skipped and wave.bake > 0 and not opts.deploy.plan_only:
                # the resumed wave bakes on the targets it finished earlier too: it passes on all of them
                baked_too, more = _prepare_wave(rollout, wave, skipped, opts, rid, _ignore, engines)
                problems.update(more)
            for name, prep in prepared.items():
                tr = result.target(name)
                tr.summary = summary_of(prep.plan)
                tr.previous_revision = prep.previous
                result.plans[name] = prep.plan
            for name, (status, message) in problems.items():
                tr = result.target(name)
                tr.status, tr.message, tr.exit_code = status, message, EXIT_ERROR
            say(WavePlanned(wave, {n: p.plan for n, p in prepared.items()},
                            {n: m for n, (_, m) in problems.items()}, skipped))
            if opts.deploy.plan_only:
                wave_result.status = "planned"
                for name in prepared:
                    result.target(name).status = PLANNED
                if problems and failure is None:
                    failure = (EXIT_ERROR, "; ".join(m for _, m in problems.values()))
                continue
            if problems:
                failure = (EXIT_ERROR, "; ".join(m for _, m in problems.values()))
                wave_result.status, wave_result.message = "failed", failure[1]
                failed_wave = wave
                say(WaveFinished(wave, wave_result))
                break
            code, message = _deploy_wave(wave, [prepared[n] for n in todo], result, opts, say)
            if code == EXIT_OK:
                code, message = _bake_and_gates(wave, [*[prepared[n] for n in todo], *baked_too.values()],
                                                result, wave_result, opts, rid, rollout, say)
            for prep in baked_too.values():
                prep.close()
            if code != EXIT_OK:
                failure = (code, message)
                wave_result.status, wave_result.message = "failed", message
                failed_wave = wave
                say(WaveFinished(wave, wave_result))
                break
            wave_result.status = "passed"
            say(WaveFinished(wave, wave_result))
        if failure is not None and failed_wave is not None and not opts.deploy.plan_only:
            result.exit_code, result.message = failure
            # a target's wait interrupted (the agent stopping) is no failure: no policy, tried again later
            if failure[0] != EXIT_INTERRUPTED and _apply_policy(rollout, failed_wave, result, prepared_all,
                                                                 opts, rid, say):
                result.exit_code = EXIT_ROLLED_BACK
        elif failure is not None:
            result.exit_code, result.message = failure
    finally:
        for prep in prepared_all.values():
            prep.close()
    say(RolloutFinished(result))
    return result


def _prepare_wave(rollout: Rollout, wave: Wave, names: Sequence[str], opts: FanoutOptions, rid: str,
                  say: EventCallback, engines: Mapping[str, Engine] | None
                  ) -> tuple[dict[str, Prepared], dict[str, tuple[str, str]]]:
    """Reach and plan the wave's targets, at once (max_parallel bounds writes, not looks)."""
    prepared: dict[str, Prepared] = {}
    problems: dict[str, tuple[str, str]] = {}

    def one(name: str) -> None:
        target = rollout.target(name)
        try:
            prepared[name] = prepare(target, rollout, opts, wave.number, rid, _tagged(say, name),
                                     (engines or {}).get(name))
        except StackctlError as err:
            problems[name] = describe_problem(target, err)

    with ThreadPoolExecutor(max_workers=max(1, min(len(names), 8))) as pool:
        list(pool.map(one, names))
    return {n: prepared[n] for n in names if n in prepared}, {n: problems[n] for n in names if n in problems}


def _deploy_wave(wave: Wave, targets: Sequence[Prepared], result: FanoutResult, opts: FanoutOptions,
                 say: EventCallback) -> tuple[int, str]:
    """Deploy the wave's targets, `max_parallel` at once; no new one starts after a failure."""
    from stackctl.deploy import deploy

    stop = threading.Event()
    failures: list[tuple[int, str]] = []

    def one(prep: Prepared) -> None:
        tr = result.target(prep.target.name)
        if stop.is_set():
            tr.status, tr.message = NOT_STARTED, "not started: another target of the wave failed"
            say(TargetFinished(tr))
            return
        tr.started = time.time()
        dopts = replace(opts.deploy, context=None, host=None, plan_only=False)
        try:
            outcome = deploy(prep.request, dopts, engine=prep.engine, on_event=_tagged(say, prep.target.name))
        except StackctlError as err:
            tr.ended = time.time()
            tr.status, tr.exit_code = FAILED, err.exit_code
            tr.message = "; ".join((err.lines() or [str(err)])[:2])  # what failed, and its first reason
            tr.wrote = isinstance(err, ApplyError) or (isinstance(err, EngineError) and err.connection_failed)
            stop.set()
            failures.append((err.exit_code, f"target {tr.target}: {tr.message}"))
            say(TargetFinished(tr))
            return
        tr.ended = time.time()
        tr.outcome = outcome
        tr.exit_code = outcome.exit_code
        tr.wrote = bool(outcome.applied is not None and outcome.applied.writes)
        if outcome.plan is not None:
            tr.summary = summary_of(outcome.plan)
        if outcome.exit_code == EXIT_OK:
            tr.status = DEPLOYED if tr.wrote else UP_TO_DATE
        else:
            tr.status = FAILED
            bad = [o for o in outcome.outcomes if not o.ok]
            tr.message = f"{bad[0].name}: {bad[0].message}" if bad else f"deploy exited {outcome.exit_code}"
            stop.set()
            failures.append((outcome.exit_code, f"target {tr.target}: {tr.message}"))
        say(TargetFinished(tr))

    pool = ThreadPoolExecutor(max_workers=max(1, wave.max_parallel))
    try:
        for future in [pool.submit(one, prep) for prep in targets]:
            future.result()
    except KeyboardInterrupt:  # Ctrl-C: no further target starts; the running ones finish their deploy
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True)
    if failures:
        return failures[0]
    return EXIT_OK, ""


def _bake_and_gates(wave: Wave, targets: Sequence[Prepared], result: FanoutResult, wave_result: WaveResult,
                    opts: FanoutOptions, rid: str, rollout: Rollout, say: EventCallback) -> tuple[int, str]:
    """The wave's bake on every target at once (when it wrote anything), then its gates in order."""
    from stackctl.apply.wait import bake_services
    from stackctl.swarm.stacks import stack_filters

    wrote = [p for p in targets if result.target(p.target.name).wrote
             or result.target(p.target.name).status == DONE_EARLIER]
    if wave.bake > 0 and wrote:
        say(BakeStarting(wave, tuple(p.target.name for p in wrote)))
        outcomes: dict[str, list[ServiceOutcome]] = {}
        errors: dict[str, str] = {}

        def one(prep: Prepared) -> None:
            try:
                outcomes[prep.target.name] = bake_services(prep.engine, stack_filters(rollout.stack),
                                                           duration=wave.bake, poll=opts.poll)
            except StackctlError as err:
                errors[prep.target.name] = str(err)

        with ThreadPoolExecutor(max_workers=len(wrote)) as pool:
            list(pool.map(one, wrote))
        wave_result.bake_outcomes = outcomes
        for name, message in errors.items():
            result.target(name).status = FAILED
            result.target(name).message = f"bake: {message}"
            return EXIT_ERROR, f"target {name}: bake: {message}"
        for name, outs in outcomes.items():
            bad = [o for o in outs if not o.ok]
            if bad:
                tr = result.target(name)
                tr.status, tr.exit_code = FAILED, EXIT_DEPLOY_FAILED
                tr.message = f"bake: {bad[0].name}: {bad[0].message}" + (
                    f" ({bad[0].task_error})" if bad[0].task_error else "")
                return EXIT_DEPLOY_FAILED, f"target {name}: {tr.message}"
    env = {"STACKCTL_ROLLOUT_ID": rid, "STACKCTL_ENV": rollout.env, "STACKCTL_WAVE": str(wave.number)}
    for gate in wave.gates:
        gate_result = run_gate(gate, env, os.path.dirname(rollout.project_path))
        wave_result.gates.append(gate_result)
        say(GateFinished(wave, gate_result))
        if not gate_result.ok:
            return EXIT_DEPLOY_FAILED, (f"{wave.label}: gate {gate.describe()} ({gate.where}) failed after "
                                        f"the bake: {gate_result.detail}")
    return EXIT_OK, ""


def _apply_policy(rollout: Rollout, failed: Wave, result: FanoutResult, prepared: Mapping[str, Prepared],
                  opts: FanoutOptions, rid: str, say: EventCallback) -> bool:
    """on_failure: roll back what it says to; True when every such target went back to its revision."""
    if rollout.on_failure == ROLLBACK_WAVE:
        names = [n for n in failed.targets if n in prepared]
    elif rollout.on_failure == ROLLBACK_ALL:
        names = [t.target for t in result.targets if t.wave <= failed.number and t.target in prepared]
    else:
        return False
    names = [n for n in names if result.target(n).wrote]
    if not names:
        return False
    all_ok = True
    for name in reversed(names):  # the newest writes first
        if not _roll_back(prepared[name], result.target(name), opts, rid, rollout, say):
            all_ok = False
    return all_ok


def _roll_back(prep: Prepared, tr: TargetResult, opts: FanoutOptions, rid: str, rollout: Rollout,
               say: EventCallback) -> bool:
    from stackctl.deploy import deploy, rollback_request
    from stackctl.history import get_revision

    say(RollingBack(tr.target, tr.previous_revision))
    if tr.previous_revision is None:
        tr.rollback = "nothing to roll back to: the stack had no deployed revision before the rollout"
        return False
    try:
        rev = get_revision(prep.engine, rollout.stack, tr.previous_revision)
        request = rollback_request(rev, rollout.stack, rollout={
            "id": rid, "env": rollout.env, "target": tr.target, "wave": tr.wave, "action": "rollback"},
            engine=prep.engine)
        dopts = replace(opts.deploy, context=None, host=None, plan_only=False, rollback_on_failure=False)
        outcome = deploy(request, dopts, engine=prep.engine, on_event=_tagged(say, tr.target))
    except StackctlError as err:
        tr.rollback = f"rollback to revision {tr.previous_revision} failed: {(err.lines() or [str(err)])[0]}"
        return False
    if outcome.exit_code != EXIT_OK:
        tr.rollback = f"rollback to revision {tr.previous_revision} ended with exit {outcome.exit_code}"
        return False
    tr.rollback = f"rolled back to revision {tr.previous_revision}"
    tr.status = ROLLED_BACK
    return True


# --- resume ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResumePoint:
    """What an earlier run of a rollout did: its id, the targets it finished, the images it shipped."""

    id: str
    done: frozenset[str]
    images: Mapping[str, str]
    unreachable: Mapping[str, str]  # target -> why its history could not be read
    wave: int = 1  # the wave to resume at


def find_resume(rollout: Rollout, options: FanoutOptions | None = None,
                engines: Mapping[str, Engine] | None = None) -> ResumePoint:
    """The newest rollout of the environment recorded in its targets' histories (UsageError: none)."""
    from stackctl.engine import open_engine
    from stackctl.history import DEPLOYED as REV_DEPLOYED
    from stackctl.history import list_revisions

    opts = options or FanoutOptions()
    per_target: dict[str, list[Any]] = {}
    unreachable: dict[str, str] = {}
    for target in rollout.targets:
        engine = (engines or {}).get(target.name)
        try:
            if engine is None:
                env = target.env
                engine = open_engine(env.context, opts.deploy.debug, host=None if env.context else env.host)
            per_target[target.name] = [r for r in list_revisions(engine, rollout.stack)
                                       if (r.rollout or {}).get("env") == rollout.env]
        except StackctlError as err:
            unreachable[target.name] = describe_problem(target, err)[1]
    ids = sorted({str(r.rollout.get("id")) for revs in per_target.values() for r in revs})
    if not ids:
        where = f" ({'; '.join(unreachable.values())})" if unreachable else ""
        raise UsageError(f"environment {rollout.env!r} has no rollout to resume: no target's history records "
                         f"one{where}")
    rid = ids[-1]
    done: set[str] = set()
    images: dict[str, str] = {}
    resume_wave = 0
    for name, revs in per_target.items():
        mine = [r for r in revs if r.rollout.get("id") == rid]
        if not mine:
            continue
        newest = mine[-1]
        if newest.rollout.get("action") == "deploy" and newest.status == REV_DEPLOYED:
            done.add(name)
        shipped = [r for r in mine if r.rollout.get("action") == "deploy"]
        if shipped and not images:
            images = {descope(rollout.stack, k): v for k, v in shipped[0].images.items()}
        if shipped:
            try:
                resume_wave = max(resume_wave, rollout.wave_of(name).number)
            except KeyError:  # a target no longer in any wave
                continue
    # The newest wave the rollout wrote to is where it resumes: the waves before it passed (a wave
    # starts only after the one before passed); it may have failed its bake or gates, so it runs again
    # (its finished targets are not written again, but baked and gated with the rest).
    return ResumePoint(rid, frozenset(done), images, unreachable, max(resume_wave, 1))
