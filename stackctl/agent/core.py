"""One pass over a stack: fetch → load the commit's files → plan → deploy, through `stackctl.deploy`.

A pass is the CLI's deploy: the same service layer (`deploy(DeployRequest, DeployOptions)`), the
same lock and history. The agent first asks that layer for the plan only (reads, no write): a plan
without changes ends the pass with zero writes (no service update, no revision, no lock). What
happens to a plan with changes depends on why it differs:
- a new commit: applied (unless `apply: manual` and not approved, or a window holds it);
- the commit applied already (the swarm changed): drift, reported or, with `drift: heal`, applied
  again with the note "drift healed";
- a commit that failed: not retried until a new commit, a manual sync or an approve.
The agent keeps no database: on its first pass over a stack it reads the newest revision's git
commit and status from the stack's history in the swarm.

A stack whose `project:` environment lists `targets:` (many swarms, docs/fan-out.md) takes the same
decisions, made over every target at once: the preview plans each target (reaching it by its host or
context as `stackctl deploy --env` does), the history is read from each, and a commit to apply rolls
out through the waves with the fan-out driver (`stackctl.fanout.driver.roll_out`: plan → lock →
apply → wait per target, bake, gates, on_failure), a drift heal rolling out to the drifted targets.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackctl.agent.config import AgentConfig, StackConfig
from stackctl.agent.gitsource import CommitInfo, GitError, GitSource
from stackctl.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, Diagnostic, LoadError, StackctlError
from stackctl.names import descope

if TYPE_CHECKING:
    from stackctl.engine import Engine
    from stackctl.fanout.driver import FanoutOptions
    from stackctl.fanout.spec import Rollout, Target
    from stackctl.plan import Plan

# Stack statuses, as the API, the page and the metrics say them.
PENDING, SYNCED, DRIFTED, WAITING, HELD = "pending", "synced", "drifted", "waiting for approval", "held"
FAILED, ERROR = "failed", "error"
STATUSES = (PENDING, SYNCED, DRIFTED, WAITING, HELD, FAILED, "rolled back", "timed out", "interrupted", ERROR)
FAILURE_STATUSES = (FAILED, "rolled back", "timed out", "interrupted", ERROR)

# Triggers: why a pass runs. A manual sync or an approve retries a failed commit.
START, POLL, WEBHOOK, SYNC, APPROVE, DRIFT, WINDOW = (
    "start",
    "poll",
    "webhook",
    "sync",
    "approve",
    "drift",
    "window",
)
FORCED = (SYNC, APPROVE)
LOCAL_SWARM: tuple[str | None, str | None] = (None, None)  # the agent's own engine (DOCKER_HOST, the socket)


@dataclass
class TargetState:
    """One swarm of a stack whose environment lists targets: its part of the last rollout."""

    name: str
    wave: int
    status: str = PENDING  # the last rollout's outcome here (docs/fan-out.md): deployed, up to date, ...
    commit: str | None = None  # the commit the target runs, as far as its history and the agent know
    revision: int | None = None  # the newest revision in the target's history (`stackctl history`)
    exit_code: int = EXIT_OK
    plan_summary: str = ""
    message: str = ""
    started: float | None = None
    ended: float | None = None
    rollback: str = ""  # what on_failure did here
    drift: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.name,
            "wave": self.wave,
            "status": self.status,
            "commit": self.commit,
            "revision": self.revision,
            "exit_code": self.exit_code,
            "plan": self.plan_summary,
            "message": self.message,
            "started": _iso(self.started, ms=True),  # the order of a rollout's targets, to the ms
            "ended": _iso(self.ended, ms=True),
            "rollback": self.rollback or None,
            "drift": list(self.drift),
        }


@dataclass
class StackState:
    """What the agent knows about one stack (the API's and the page's row)."""

    name: str
    source: str
    status: str = PENDING
    commit: CommitInfo | None = None  # the last commit applied (or found applied in the history)
    failed_commit: str | None = None  # a commit whose deploy failed: not retried on its own
    pending_commit: str | None = None  # manual apply: the commit waiting for an approve
    approved_commit: str | None = None
    head: str | None = None  # the source's commit at the last pass
    last_sync: float | None = None  # wall time of the last pass that reached the swarm
    last_change: float | None = None  # wall time of the last pass that wrote
    duration: float = 0.0
    exit_code: int = EXIT_OK
    message: str = ""
    plan_summary: str = ""
    drift: list[str] = field(default_factory=list)  # "web: environment" per drifted service
    known_history: bool = False  # the history was read once
    recorded_commit: str | None = None  # the commit of the newest revision in the stack's history
    # an environment of many swarms: each target's part (in wave order), the last rollout's id
    targets: dict[str, TargetState] = field(default_factory=dict)
    rollout_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.source,
            "status": self.status,
            "commit": self.commit.to_json() if self.commit else None,
            "head": self.head,
            "failed_commit": self.failed_commit,
            "pending_commit": self.pending_commit,
            "last_sync": _iso(self.last_sync),
            "last_change": _iso(self.last_change),
            "duration_seconds": round(self.duration, 3),
            "exit_code": self.exit_code,
            "message": self.message,
            "plan": self.plan_summary,
            "drift": list(self.drift),
            "rollout_id": self.rollout_id,
            "targets": [t.to_json() for t in list(self.targets.values())],
        }


@dataclass(frozen=True)
class PassResult:
    """What one pass did, for metrics, logs and notifications."""

    stack: str
    status: str
    exit_code: int
    commit: str | None
    wrote: bool  # something was written (a deploy ran): notifications go out for these only
    duration: float
    plan_summary: str = ""
    message: str = ""
    reason: str = ""
    subject: str = ""
    drift: tuple[str, ...] = ()
    rollout_id: str | None = None
    targets: tuple[dict[str, Any], ...] = ()  # TargetState.to_json() of each target a rollout reached


Listener = Callable[[PassResult], None]


def _iso(when: float | None, *, ms: bool = False) -> str | None:
    if when is None:
        return None
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when))
    return text + (f".{int(when * 1000) % 1000:03d}Z" if ms else "Z")


def log_line(**fields: object) -> str:
    """One log line, `key=value` pairs (values with spaces quoted)."""
    out = []
    for key, value in fields.items():
        if value is None or value == "":
            continue
        text = str(value)
        out.append(f'{key}="{text}"' if (" " in text or '"' in text or "=" in text) else f"{key}={text}")
    return "stackctl-agent " + " ".join(out)


def plan_summary(plan: Plan | None) -> str:
    """`2 to create, 1 to update` / `no changes`: the plan in a few words."""
    if plan is None:
        return ""
    counts = plan.counts()
    parts = [f"{counts[k]} to {k}" for k in ("create", "update", "remove") if counts.get(k)]
    return ", ".join(parts) or "no changes"


def targets_summary(plans: Mapping[str, Plan]) -> str:
    """The plans of a rollout's targets in a few words, targets with the same plan together:
    `canary, eu: 1 to update; us: no changes`."""
    groups: dict[str, list[str]] = {}
    for name, plan in plans.items():
        groups.setdefault(plan_summary(plan), []).append(name)
    if len(groups) == 1:
        return next(iter(groups))
    return "; ".join(f"{', '.join(names)}: {summary}" for summary, names in groups.items())


def drift_lines(plan: Plan) -> list[str]:
    """Per drifted service, what differs in compose keys: `web: environment, deploy.replicas`."""
    out = []
    for act in plan.actions:
        if not act.drift:
            continue
        keys: list[str] = []
        for ch in act.compose:
            if not ch.drift and any(c.drift for c in act.compose):
                continue
            key = ch.compose_path or ch.engine_path
            if key not in keys:
                keys.append(key)
        if not keys:
            keys = [c.path for c in act.changes if c.drift] or [c.path for c in act.changes]
        name = descope(plan.stack, act.name)
        out.append(f"{name}: {', '.join(keys[:6]) or 'changed on the swarm'}")
    return out


class Agent:
    """The agent's state and its passes. Thread-safe: one pass at a time (`self.busy`)."""

    def __init__(
        self,
        config: AgentConfig,
        *,
        engine_factory: Callable[[], Engine] | None = None,
        sources: Mapping[str, GitSource] | None = None,
        clock: Callable[[], float] = time.time,
        log: Callable[[str], None] | None = None,
        target_engines: Mapping[str, Engine] | None = None,
    ) -> None:
        self.config = config
        # an engine per target name (tests); otherwise each target is reached by its host/context
        self.target_engines: dict[str, Engine] = dict(target_engines or {})
        # the swarms (context, host) each stack lives on, as its last commit says: (None, None) is the
        # agent's own engine, a stack of many swarms names its targets'. The runner follows the engine
        # events of each (drift); /readyz needs the agent's own engine only when a stack lives there.
        self.stack_swarms: dict[str, set[tuple[str | None, str | None]]] = {}
        self._rollouts: dict[str, tuple[str, Rollout | None]] = {}  # stack -> (commit, its rollout)
        self.sources: dict[str, GitSource] = dict(
            sources or {s.name: GitSource(s, config.cache_dir) for s in config.sources}
        )
        self.states: dict[str, StackState] = {s.name: StackState(s.name, s.source) for s in config.stacks}
        self.clock = clock
        self.listeners: list[Listener] = []
        self.busy = threading.Lock()
        self.git_errors: dict[str, str] = {}  # source -> the last fetch's error ("" after a good one)
        self.heads: dict[str, str] = {}
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self._log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.stopping = threading.Event()

    # --- plumbing ---------------------------------------------------------------------------

    def log(self, **fields: object) -> None:
        self._log(log_line(**fields))

    def engine(self) -> Engine:
        if self._engine is None:
            if self._engine_factory is not None:
                self._engine = self._engine_factory()
            else:
                from stackctl.engine import open_engine

                self._engine = open_engine(None, False)
        return self._engine

    def drop_engine(self) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            try:
                engine.close()
            except Exception:  # noqa: BLE001 - closing a broken connection
                pass

    def stacks_of(self, source: str) -> list[StackConfig]:
        return [s for s in self.config.stacks if s.source == source]

    # --- passes -----------------------------------------------------------------------------

    def fetch(self, source: str) -> str | None:
        """Fetch a source; its SHA, or None (the error is kept for /readyz, the page and a log line)."""
        try:
            sha = self.sources[source].fetch()
        except GitError as err:
            if self.git_errors.get(source) != err.message:
                self.log(event="fetch-failed", source=source, error=err.message)
            self.git_errors[source] = err.message
            return None
        if self.git_errors.get(source):
            self.log(event="fetch-recovered", source=source, commit=sha[:12])
        self.git_errors[source] = ""
        self.heads[source] = sha
        return sha

    def pass_source(self, source: str, reason: str, only: str | None = None) -> int:
        """Fetch `source` and pass over its stacks (or only stack `only`); the worst exit code.

        A drift pass compares the swarm with the commit fetched last (the swarm changed, not git):
        it fetches only when nothing was fetched yet."""
        with self.busy:
            known = self.heads.get(source)
            sha = known if reason == DRIFT and known else self.fetch(source)
            if sha is None:
                return EXIT_ERROR
            codes = [
                self._pass(stack, sha, reason)
                for stack in self.stacks_of(source)
                if only is None or stack.name == only
            ]
            return worst(codes)

    def pass_all(self, reason: str) -> int:
        return worst([self.pass_source(s.name, reason) for s in self.config.sources])

    def _pass(self, stack: StackConfig, sha: str, reason: str) -> int:
        state = self.states[stack.name]
        started = time.monotonic()
        state.head = sha
        try:
            with self._keys(stack):  # SOPS/age-encrypted files decrypt with the agent's key, in memory
                result = self._decide(stack, state, sha, reason)
        except StackctlError as err:
            details = [d.format() for d in err.diagnostics[:3]]  # what is wrong, not only how much
            message = "; ".join([err.message, *details] if err.message else details) or type(err).__name__
            if getattr(err, "connection_failed", False):
                self.drop_engine()
            state.status, state.exit_code, state.message = ERROR, err.exit_code or EXIT_ERROR, message
            transient = _transient(err)
            if not transient:
                state.failed_commit = sha  # bad files or a failed deploy: not retried on its own
            self.log(
                event="pass-failed",
                stack=stack.name,
                commit=sha[:12],
                reason=reason,
                error=message,
                retry="next trigger" if transient else "new commit or sync",
            )
            result = PassResult(
                stack.name, ERROR, state.exit_code, sha, not transient, 0.0, message=message, reason=reason
            )
        state.duration = time.monotonic() - started
        result = PassResult(**{**result.__dict__, "duration": state.duration})
        for listener in list(self.listeners):
            try:
                listener(result)
            except Exception as err:  # noqa: BLE001 - a listener never breaks a pass
                self.log(event="listener-failed", error=f"{type(err).__name__}: {err}")
        return result.exit_code

    def _keys(self, stack: StackConfig) -> AbstractContextManager[None]:
        """The stack's `age_key_file` (else the agent's): every encrypted file of the pass decrypts with
        it and nothing else (docs/secrets.md, "The agent"); no key file: the usual places SOPS looks."""
        path = stack.age_key_file or self.config.age_key_file
        if not path:
            return nullcontext()
        from stackctl.secrets.decrypt import AgeKeys, DecryptError, using_keys

        try:
            keys = AgeKeys.from_file(path)
        except DecryptError as err:  # the file and the reason, never its content
            raise LoadError(diagnostics=[Diagnostic(err.message, path, hint=err.hint)]) from None
        return using_keys(keys)

    def _request(self, stack: StackConfig, sha: str, info: CommitInfo) -> Any:
        """The DeployRequest of the commit's files (loaded as `stackctl deploy` loads them)."""
        from stackctl.deploy import DeployRequest, load_stack_files

        source = self.sources[stack.source]
        tree = source.export(sha)
        files, env_files, environ = self._files(stack, tree)
        loaded = load_stack_files(files, env_files, environ)
        return DeployRequest(
            stack.name,
            loaded.config,
            loaded.working_dir,
            files=tuple(_in_repository(f, tree) for f in files),  # history shows the repository's paths
            environ=loaded.environ,
            sources=tuple(loaded.docs),
            sensitive=loaded.sensitive,
            git=self._git(stack, info),
            note=f"git {sha[:12]}",
        )

    def _git(self, stack: StackConfig, info: CommitInfo) -> dict[str, str]:
        """The git origin a revision records: URL (no credentials), commit, author, subject, ref."""
        source = self.sources[stack.source]
        git = {
            "url": source.config.public_url,
            **info.to_json(),
            "ref": source.config.ref,
            "agent": "stackctl agent",
        }
        git.pop("time", None)
        return git

    def _rollout(self, stack: StackConfig, sha: str) -> Rollout | None:
        """The commit's rollout when the stack's `project:` environment lists `targets:`, else None
        (read once per commit: a warm pass does not parse the project file again for it)."""
        if not stack.project:
            return None
        known = self._rollouts.get(stack.name)
        if known is not None and known[0] == sha:
            return known[1]
        rollout = self._load_rollout(stack, sha)
        self._rollouts[stack.name] = (sha, rollout)
        return rollout

    def _load_rollout(self, stack: StackConfig, sha: str) -> Rollout | None:
        from stackctl.fanout.spec import has_targets, load_rollout
        from stackctl.project import load_project

        project = load_project(str(self.sources[stack.source].export(sha) / (stack.project or "")))
        if not has_targets(project, stack.env or ""):
            return None
        from dataclasses import replace

        # the agent's stack name wins over the project's, as it does for an environment of one swarm
        return replace(load_rollout(project, stack.env or ""), stack=stack.name)

    def _fanout_options(
        self, stack: StackConfig, sha: str, info: CommitInfo, *, plan_only: bool, note: str = ""
    ) -> FanoutOptions:
        """The rollout's options: the stack's deploy options, the commit's origin, no shell variables
        (the agent's own environment is never read into a stack), the repository's paths in history."""
        from stackctl.fanout.driver import FanoutOptions

        tree = self.sources[stack.source].export(sha)
        return FanoutOptions(
            deploy=self._options(stack, plan_only=plan_only),
            note=note or f"git {sha[:12]}",
            shell={},
            git=self._git(stack, info),
            files_as=lambda path: _in_repository(path, tree),
        )

    @contextmanager
    def _target_engine(self, target: Target) -> Iterator[Engine]:
        """A target's engine: the one given for it (tests), else its host/context, as the CLI reaches it."""
        given = self.target_engines.get(target.name)
        if given is not None:
            yield given
            return
        from stackctl.engine import open_engine

        env = target.env
        with open_engine(env.context, False, host=None if env.context else env.host) as engine:
            yield engine

    def _files(self, stack: StackConfig, tree: Path) -> tuple[list[str], list[str], dict[str, str] | None]:
        if stack.project:
            from stackctl.project import load_project

            target = load_project(str(tree / stack.project)).target(stack.env or "")
            return list(target.files), list(target.env_files), target.environ({})
        return ([str(tree / f) for f in stack.files], [str(tree / f) for f in stack.env_files], {})

    def _options(self, stack: StackConfig, *, plan_only: bool) -> Any:
        from stackctl.deploy import DeployOptions

        return DeployOptions(
            prune=stack.prune,
            resolve_image=stack.resolve_image,
            plan_only=plan_only,
            timeout=stack.timeout,
            rollback_on_failure=stack.rollback_on_failure,
            history_max=stack.history_max,
        )

    def _read_history(self, stack: StackConfig, state: StackState) -> None:
        """First pass over a stack: what the newest revision says was applied from git."""
        if state.known_history:
            return
        from stackctl.history import DEPLOYED, INTERRUPTED, list_revisions

        revisions = list_revisions(self.engine(), stack.name)
        state.known_history = True
        if revisions:
            state.recorded_commit = revisions[-1].git.get("commit")
        for rev in reversed(revisions):
            commit = rev.git.get("commit")
            if not commit:
                continue
            if rev.status == INTERRUPTED:
                continue  # stopped, not failed: the commit is tried again
            if rev.status == DEPLOYED:
                state.commit = CommitInfo(commit, rev.git.get("author", ""), rev.git.get("subject", ""), "")
            else:
                from stackctl.history import exit_for_status

                state.failed_commit = commit
                state.status = rev.status
                state.exit_code = exit_for_status(rev.status)
                # the commit before it that worked is what runs
                for older in reversed(revisions[: revisions.index(rev)]):
                    if older.git.get("commit") and older.status == DEPLOYED:
                        g = older.git
                        state.commit = CommitInfo(g["commit"], g.get("author", ""), g.get("subject", ""), "")
                        break
            return

    def _read_target_histories(self, stack: StackConfig, state: StackState, rollout: Rollout) -> None:
        """First pass over a stack of many swarms: per target, the commit of its newest revision that
        deployed (and was not undone by its rollout's rollback), and the failures after it. The stack's
        commit is the one every target runs (None when they differ: a commit not rolled out everywhere
        is rolled out again); its failed commit the newest failure on any target. A target that cannot
        be reached is read again on the next pass."""
        if state.known_history:
            return
        from stackctl.history import DEPLOYED, INTERRUPTED, ROLLED_BACK, exit_for_status, list_revisions

        complete = True
        failures: list[tuple[str, str, str]] = []  # (time, commit, status)
        gits: dict[str, dict[str, str]] = {}
        self._target_rows(state, rollout)
        for target in rollout.targets:
            row = state.targets[target.name]
            try:
                with self._target_engine(target) as engine:
                    revisions = list_revisions(engine, stack.name)
            except StackctlError as err:
                complete = False
                self.log(event="history-not-read", stack=stack.name, target=target.name, error=err.message)
                continue
            row.revision = revisions[-1].revision if revisions else None
            undone = {r.rollout.get("id") for r in revisions if r.rollout.get("action") == "rollback"}
            for rev in reversed(revisions):
                commit = rev.git.get("commit")
                if not commit or rev.status == INTERRUPTED:
                    continue  # a CLI deploy, a rollback, or stopped (not failed: tried again)
                gits.setdefault(commit, rev.git)
                if rev.status == DEPLOYED and rev.rollout.get("id") not in undone:
                    row.commit = commit
                    break
                rolled_back = rev.rollout.get("id") in undone  # on_failure undid its rollout here
                failures.append((rev.time, commit, ROLLED_BACK if rolled_back else rev.status))
        state.known_history = complete
        commits = {row.commit for row in state.targets.values()}
        if len(commits) == 1:
            (common,) = commits
            if common is not None:
                g = gits.get(common, {})
                state.commit = CommitInfo(common, g.get("author", ""), g.get("subject", ""), "")
        if failures:
            _, failed, status = max(failures)
            if state.commit is None or state.commit.sha != failed:
                state.failed_commit, state.status, state.exit_code = failed, status, exit_for_status(status)

    def _newest_revision(self, stack: StackConfig, target: Target, known: int | None) -> int | None:
        """The newest revision in a target's history (what the rollout recorded there, or its rollback)."""
        from stackctl.history import list_revisions

        try:
            with self._target_engine(target) as engine:
                revisions = list_revisions(engine, stack.name)
        except StackctlError:
            return known
        return revisions[-1].revision if revisions else known

    def _target_rows(self, state: StackState, rollout: Rollout) -> None:
        """The state's rows follow the environment's targets, in wave order."""
        rows = {}
        for wave in rollout.waves:
            for name in wave.targets:
                row = state.targets.get(name) or TargetState(name, wave.number)
                row.wave = wave.number
                rows[name] = row
        state.targets = rows

    def _decide(self, stack: StackConfig, state: StackState, sha: str, reason: str) -> PassResult:
        if state.known_history and state.failed_commit == sha and reason not in FORCED:
            return self._not_retried(stack, state, sha, reason)  # before its files are read again
        rollout = self._rollout(stack, sha)
        if rollout is None:
            self.stack_swarms[stack.name] = {LOCAL_SWARM}
            self._read_history(stack, state)
        else:
            self.stack_swarms[stack.name] = {
                (t.env.context, None if t.env.context else t.env.host) for t in rollout.targets
            }
            self._read_target_histories(stack, state, rollout)
        if state.failed_commit == sha and reason not in FORCED:
            return self._not_retried(stack, state, sha, reason)
        info = self.sources[stack.source].commit_info(sha)
        request: Any = None
        if rollout is None:
            from stackctl.deploy import deploy

            request = self._request(stack, sha, info)
            preview = deploy(request, self._options(stack, plan_only=True), engine=self.engine())  # reads
            plans = {"": preview.plan} if preview.plan is not None else {}
            state.plan_summary = plan_summary(preview.plan)
        else:
            plans = self._preview_targets(stack, state, sha, info, rollout)
            state.plan_summary = targets_summary(plans)
        changed = [name for name, plan in plans.items() if plan.has_changes]
        state.last_sync = self.clock()
        if not changed:
            return self._unchanged(stack, state, sha, info, reason, request)
        applied = state.commit is not None and state.commit.sha == sha
        if applied:
            lines = [
                f"{name}/{line}" if name else line for name in changed for line in drift_lines(plans[name])
            ] or [f"changed on the swarm: {state.plan_summary}"]
            for name, row in state.targets.items():
                row.drift = drift_lines(plans[name]) if name in changed else []
            if stack.drift == "heal" or reason in FORCED:
                note = "drift healed" if reason not in FORCED else f"sync of git {sha[:12]}"
                if rollout is not None:
                    rollout = rollout.limited(changed)  # the drifted targets, through their waves
                return self._deploy(stack, state, sha, info, reason, note=note, drift=lines, rollout=rollout,
                                    request=request)
            return self._report_drift(stack, state, sha, lines, reason)
        if stack.apply == "manual" and state.approved_commit != sha:
            if state.pending_commit != sha:
                self.log(
                    event="waiting-for-approval", stack=stack.name, commit=sha[:12], plan=state.plan_summary
                )
            state.pending_commit, state.status = sha, WAITING
            state.message = f"git {sha[:12]} waits for an approve ({state.plan_summary})"
            return PassResult(
                stack.name, WAITING, EXIT_OK, sha, False, 0.0, state.plan_summary, reason=reason
            )
        held = self.window_verdict(stack)
        if not held.allowed:
            if state.status != HELD:
                self.log(event="held", stack=stack.name, commit=sha[:12], reason=held.reason)
            state.status, state.message = HELD, f"git {sha[:12]}: {held.reason}"
            return PassResult(stack.name, HELD, EXIT_OK, sha, False, 0.0, state.plan_summary, reason=reason)
        return self._deploy(stack, state, sha, info, reason, rollout=rollout, request=request)

    def _not_retried(self, stack: StackConfig, state: StackState, sha: str, reason: str) -> PassResult:
        """No retry loop: a failed commit waits for a new commit or a manual sync."""
        return PassResult(
            stack.name,
            state.status,
            state.exit_code,
            sha,
            False,
            0.0,
            state.plan_summary,
            message="this commit failed: waiting for a new commit or a manual sync",
            reason=reason,
            rollout_id=state.rollout_id,
        )

    def _preview_targets(
        self, stack: StackConfig, state: StackState, sha: str, info: CommitInfo, rollout: Rollout
    ) -> dict[str, Plan]:
        """Every target reached and planned (reads only). A target that cannot be planned is an error
        of the pass; one that cannot be reached too, unless others have changes to roll out (the
        rollout then stops at its wave, before writing to it, as `deploy --env` does)."""
        from stackctl.errors import DOWN, EngineError
        from stackctl.fanout.driver import UNREACHABLE, plan_targets

        prepared, problems = plan_targets(
            rollout, self._fanout_options(stack, sha, info, plan_only=True), engines=self.target_engines
        )
        for prep in prepared.values():
            prep.close()
        plans = {name: prep.plan for name, prep in prepared.items()}
        self._target_rows(state, rollout)
        for name, row in state.targets.items():
            row.plan_summary = plan_summary(plans.get(name))
            if name in problems:
                row.message = problems[name][1]
        hard = [message for status, message in problems.values() if status != UNREACHABLE]
        if hard:
            raise StackctlError("; ".join(hard))
        if problems and not any(plan.has_changes for plan in plans.values()):
            raise EngineError("; ".join(message for _, message in problems.values()), failure=DOWN)
        return plans

    def _interrupt_when_stopping(self) -> Callable[[object], None]:
        """The deploy's event callback: once the agent is stopping (SIGTERM), the next progress event of
        the wait interrupts it as Ctrl-C interrupts `stackctl deploy`: the writes under way end, the wait
        stops, the revision says "interrupted" and the lock is released. In a rollout, each target's
        wait (a target's events come wrapped, `TargetEvent`), once; the rollout then stops, no policy."""
        from stackctl.apply.rollout import PROGRESS, RolloutEvent
        from stackctl.fanout.driver import TargetEvent

        raised: set[str] = set()

        def on_event(event: object) -> None:
            target = ""
            if isinstance(event, TargetEvent):
                target, event = event.target, event.event
            if (
                self.stopping.is_set()
                and target not in raised
                and isinstance(event, RolloutEvent)
                and event.kind == PROGRESS
            ):
                raised.add(target)
                raise KeyboardInterrupt

        return on_event

    def window_verdict(self, stack: StackConfig) -> Any:
        from datetime import datetime, timezone

        from stackctl.agent.windows import Verdict, verdict

        if not stack.windows:
            return Verdict(True)
        now = datetime.fromtimestamp(self.clock(), timezone.utc)
        return verdict(stack.windows, now, self.config.time_zone)

    def _unchanged(
        self, stack: StackConfig, state: StackState, sha: str, info: CommitInfo, reason: str, request: Any
    ) -> PassResult:
        """The swarm already matches the commit: zero writes, except once per commit that the history
        does not name yet (a stack adopted from the CLI, or a pass killed before its revision)."""
        if state.status != SYNCED or state.commit is None or state.commit.sha != sha:
            self.log(event="in-sync", stack=stack.name, commit=sha[:12], reason=reason)
        if state.recorded_commit != sha and request is not None:  # one swarm (a rollout records its own)
            self._record_found(stack, state, sha, request)
        state.status, state.exit_code, state.message, state.drift = SYNCED, EXIT_OK, "", []
        state.commit = info
        for row in state.targets.values():
            row.commit, row.drift, row.message = sha, [], ""
            if row.status in (PENDING, "not started"):
                row.status = "up to date"
        state.failed_commit = state.pending_commit = None
        return PassResult(
            stack.name, SYNCED, EXIT_OK, sha, False, 0.0, "no changes", reason=reason, subject=info.subject
        )

    def _record_found(self, stack: StackConfig, state: StackState, sha: str, request: Any) -> None:
        from stackctl.deploy import record_request
        from stackctl.history import DEPLOYED

        try:
            record_request(
                self.engine(),
                request,
                {},
                keep=stack.history_max,
                status=DEPLOYED,
                description=f"git {sha[:12]}: found applied on the swarm (no change needed)",
            )
            state.recorded_commit = sha
        except StackctlError as err:
            self.log(event="history-not-recorded", stack=stack.name, error=err.message)

    def _report_drift(
        self, stack: StackConfig, state: StackState, sha: str, lines: list[str], reason: str
    ) -> PassResult:
        if lines != state.drift:
            self.log(event="drift", stack=stack.name, commit=sha[:12], differs="; ".join(lines))
        state.status, state.drift = DRIFTED, lines
        state.message = "the swarm differs from git " + sha[:12]
        return PassResult(
            stack.name,
            DRIFTED,
            EXIT_OK,
            sha,
            False,
            0.0,
            state.plan_summary,
            reason=reason,
            drift=tuple(lines),
        )

    def _deploy(
        self,
        stack: StackConfig,
        state: StackState,
        sha: str,
        info: CommitInfo,
        reason: str,
        *,
        note: str = "",
        drift: list[str] | None = None,
        rollout: Rollout | None = None,
        request: Any = None,
    ) -> PassResult:
        """Apply the commit: one deploy (of `request`, the DeployRequest the pass planned with: the
        files are loaded and decrypted once a pass), or a rollout through the waves for an environment
        of many swarms; the outcome sets the stack's status (a failure marks the commit failed: not
        retried)."""
        from stackctl.history import status_for_exit

        self.log(
            event="deploy",
            stack=stack.name,
            commit=sha[:12],
            reason=reason,
            note=note,
            plan=state.plan_summary,
            subject=info.subject,
            targets=",".join(n for w in rollout.waves for n in w.targets) if rollout is not None else None,
        )
        transient, detail, wrote = False, "", True
        if rollout is None:
            code = self._deploy_one(stack, state, sha, request, note)
        else:
            code, transient, detail, wrote = self._roll_out(stack, state, sha, info, note, rollout)
        state.exit_code = code
        interrupted = code == EXIT_INTERRUPTED
        state.last_change = self.clock()
        if code == EXIT_OK:
            state.status, state.commit, state.message, state.drift = SYNCED, info, "", []
            state.failed_commit = state.pending_commit = state.approved_commit = None
            status = "deployed" if not note.startswith("drift") else "drift healed"
        else:
            # an interrupted deploy is tried again by the next agent; a target that could not be
            # reached (nothing of its wave written) on the next trigger
            state.status = status = ERROR if transient else status_for_exit(code)
            if not interrupted and not transient:
                state.failed_commit = sha
            state.message = f"git {sha[:12]} {status}" + (f": {detail}" if detail else "")
        self.log(
            event="deployed" if code == EXIT_OK else "deploy-failed",
            stack=stack.name,
            commit=sha[:12],
            status=status,
            exit=code,
            rollout=state.rollout_id if rollout is not None else None,
        )
        return PassResult(
            stack.name,
            status,
            code,
            sha,
            wrote,  # a rollout retried only to stop again at an unreachable target: no notification
            0.0,
            state.plan_summary,
            state.message,
            reason,
            info.subject,
            tuple(drift or ()),
            state.rollout_id if rollout is not None else None,
            tuple(row.to_json() for row in state.targets.values()),
        )

    def _deploy_one(self, stack: StackConfig, state: StackState, sha: str, request: Any, note: str) -> int:
        from dataclasses import replace

        from stackctl.deploy import deploy

        if note:
            request = replace(request, note=note)
        try:
            outcome = deploy(
                request,
                self._options(stack, plan_only=False),
                engine=self.engine(),
                on_event=self._interrupt_when_stopping(),
            )
        except StackctlError as err:
            if not _transient(err):
                state.failed_commit = sha
            state.last_change = self.clock()
            raise err
        if outcome.applied is not None and outcome.applied.writes:
            state.recorded_commit = sha  # deploy recorded its revision
        if outcome.plan is not None:
            state.plan_summary = plan_summary(outcome.plan)
        return outcome.exit_code

    def _roll_out(
        self, stack: StackConfig, state: StackState, sha: str, info: CommitInfo, note: str, rollout: Rollout
    ) -> tuple[int, bool, str, bool]:
        """The commit through the environment's waves (`stackctl.fanout.driver.roll_out`, as `deploy
        --env` does it); each target's row says what happened there. (exit code, only unreachable
        targets failed, the rollout's message, something was written or failed for good)."""
        from stackctl.fanout.driver import DEPLOYED, FAILED, UNREACHABLE, UP_TO_DATE, roll_out

        result = roll_out(
            rollout,
            self._fanout_options(stack, sha, info, plan_only=False, note=note),
            on_event=self._interrupt_when_stopping(),
            engines=self.target_engines,
        )
        state.rollout_id = result.id
        for tr in result.targets:
            row = state.targets.setdefault(tr.target, TargetState(tr.target, tr.wave))
            row.wave, row.status, row.exit_code = tr.wave, tr.status, tr.exit_code
            row.message, row.rollback, row.started, row.ended = tr.message, tr.rollback, tr.started, tr.ended
            if tr.status in (DEPLOYED, UP_TO_DATE):
                row.commit, row.drift = sha, []
            if tr.outcome is not None and tr.outcome.plan is not None:
                row.plan_summary = plan_summary(tr.outcome.plan)
            if tr.wrote:
                row.revision = self._newest_revision(stack, rollout.target(tr.target), row.revision)
        self.log(
            event="rollout",
            stack=stack.name,
            commit=sha[:12],
            rollout=result.id,
            exit=result.exit_code,
            targets=" ".join(f"{t.target}={t.status.replace(' ', '-')}" for t in result.targets),
        )
        failing = [t for t in result.targets if t.status in (FAILED, UNREACHABLE)]
        transient = bool(failing) and all(t.status == UNREACHABLE for t in failing)
        wrote = not transient or any(t.wrote for t in result.targets)
        return result.exit_code, transient, result.message, wrote

    # --- API actions ------------------------------------------------------------------------

    def approve(self, name: str) -> str | None:
        """Approve the commit waiting for it; the commit, or None when nothing waits."""
        state = self.states[name]
        commit = state.pending_commit
        if commit is not None:
            state.approved_commit = commit
        return commit

    def ready(self) -> tuple[bool, list[str]]:
        """Engine and git reachable (the last fetch of every source worked)."""
        problems = [f"git: {source}: {err}" for source, err in self.git_errors.items() if err]
        problems += [
            f"git: {s.name}: not fetched yet" for s in self.config.sources if s.name not in self.git_errors
        ]
        local = any(LOCAL_SWARM in self.stack_swarms.get(s.name, {LOCAL_SWARM}) for s in self.config.stacks)
        if local:  # stacks of many swarms only: their targets' state is in their rows, not here
            try:
                self.engine().get("/version", timeout=5)
            except StackctlError as err:
                self.drop_engine()
                problems.append(f"engine: {err.message}")
        return not problems, problems


def _transient(err: StackctlError) -> bool:
    """An engine that cannot be reached or a lock held elsewhere: the next trigger tries again (the
    commit itself did not fail)."""
    from stackctl.errors import EngineError
    from stackctl.lock import LockError

    return isinstance(err, LockError) or (
        isinstance(err, EngineError) and (err.connection_failed or err.unavailable)
    )


def worst(codes: list[int]) -> int:
    """The worst of several stacks' exit codes, in deploy's order for several services
    (docs/exit-codes.md: interrupted > failed > rolled back > timed out > ok), an error (1) after
    interrupted."""
    rank = {EXIT_INTERRUPTED: 0, EXIT_ERROR: 1, 3: 2, 4: 3, 5: 4, EXIT_OK: 9}
    return min(codes, key=lambda code: rank.get(code, 1), default=EXIT_OK)


def _in_repository(path: str, tree: Path) -> str:
    """`path` as the repository names it (`shop/docker-stack.yml`), not the agent's checkout of it."""
    try:
        return str(Path(path).resolve().relative_to(tree.resolve()))
    except ValueError:
        return path
