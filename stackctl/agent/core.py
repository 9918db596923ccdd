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
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackctl.agent.config import AgentConfig, StackConfig
from stackctl.agent.gitsource import CommitInfo, GitError, GitSource
from stackctl.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, Diagnostic, LoadError, StackctlError
from stackctl.names import descope

if TYPE_CHECKING:
    from stackctl.engine import Engine
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


Listener = Callable[[PassResult], None]


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


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
    ) -> None:
        self.config = config
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

    def _request(self, stack: StackConfig, sha: str, info: CommitInfo, note: str = "") -> Any:
        """The DeployRequest of the commit's files (loaded as `stackctl deploy` loads them)."""
        from stackctl.deploy import DeployRequest, load_stack_files

        source = self.sources[stack.source]
        tree = source.export(sha)
        files, env_files, environ = self._files(stack, tree)
        loaded = load_stack_files(files, env_files, environ)
        git = {
            "url": source.config.public_url,
            **info.to_json(),
            "ref": source.config.ref,
            "agent": "stackctl agent",
        }
        git.pop("time", None)
        return DeployRequest(
            stack.name,
            loaded.config,
            loaded.working_dir,
            files=tuple(_in_repository(f, tree) for f in files),  # history shows the repository's paths
            environ=loaded.environ,
            sources=tuple(loaded.docs),
            sensitive=loaded.sensitive,
            git=git,
            note=note or f"git {sha[:12]}",
        )

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

    def _decide(self, stack: StackConfig, state: StackState, sha: str, reason: str) -> PassResult:
        from stackctl.deploy import deploy

        engine = self.engine()
        self._read_history(stack, state)
        if state.failed_commit == sha and reason not in FORCED:
            # no retry loop: a failed commit waits for a new commit or a manual sync
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
            )
        info = self.sources[stack.source].commit_info(sha)
        request = self._request(stack, sha, info)
        preview = deploy(request, self._options(stack, plan_only=True), engine=engine)  # reads only
        plan = preview.plan
        state.plan_summary = plan_summary(plan)
        state.last_sync = self.clock()
        if plan is None or not plan.has_changes:
            return self._unchanged(stack, state, sha, info, reason, request)
        applied = state.commit is not None and state.commit.sha == sha
        if applied:
            lines = drift_lines(plan) or [f"changed on the swarm: {state.plan_summary}"]
            if stack.drift == "heal" or reason in FORCED:
                note = "drift healed" if reason not in FORCED else f"sync of git {sha[:12]}"
                return self._deploy(stack, state, sha, info, reason, note=note, drift=lines)
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
        return self._deploy(stack, state, sha, info, reason)

    def _interrupt_when_stopping(self) -> Callable[[object], None]:
        """The deploy's event callback: once the agent is stopping (SIGTERM), the next progress event of
        the wait interrupts it as Ctrl-C interrupts `stackctl deploy`: the writes under way end, the wait
        stops, the revision says "interrupted" and the lock is released."""
        from stackctl.apply.rollout import PROGRESS, RolloutEvent

        raised = False

        def on_event(event: object) -> None:
            nonlocal raised
            if (
                self.stopping.is_set()
                and not raised
                and isinstance(event, RolloutEvent)
                and event.kind == PROGRESS
            ):
                raised = True
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
        if state.recorded_commit != sha:
            self._record_found(stack, state, sha, request)
        state.status, state.exit_code, state.message, state.drift = SYNCED, EXIT_OK, "", []
        state.commit = info
        state.failed_commit = state.pending_commit = None
        return PassResult(
            stack.name, SYNCED, EXIT_OK, sha, False, 0.0, "no changes", reason=reason, subject=info.subject
        )

    def _record_found(self, stack: StackConfig, state: StackState, sha: str, request: Any) -> None:
        from stackctl.history import DEPLOYED, record_revision

        try:
            record_revision(
                self.engine(),
                stack.name,
                request.config,
                {},
                files=list(request.files),
                working_dir=request.working_dir,
                keep=stack.history_max,
                status=DEPLOYED,
                description=f"git {sha[:12]}: found applied on the swarm (no change needed)",
                git=request.git,
                note=request.note,
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
    ) -> PassResult:
        from stackctl.deploy import deploy
        from stackctl.history import status_for_exit

        request = self._request(stack, sha, info, note=note)
        self.log(
            event="deploy",
            stack=stack.name,
            commit=sha[:12],
            reason=reason,
            note=note,
            plan=state.plan_summary,
            subject=info.subject,
        )
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
        code = outcome.exit_code
        state.exit_code = code
        interrupted = code == EXIT_INTERRUPTED
        if outcome.applied is not None and outcome.applied.writes:
            state.recorded_commit = sha  # deploy recorded its revision
        state.last_change = self.clock()
        if outcome.plan is not None:
            state.plan_summary = plan_summary(outcome.plan)
        if code == EXIT_OK:
            state.status, state.commit, state.message, state.drift = SYNCED, info, "", []
            state.failed_commit = state.pending_commit = state.approved_commit = None
            status = "deployed" if not note.startswith("drift") else "drift healed"
        else:
            state.status = status = status_for_exit(code)
            if not interrupted:  # an interrupted deploy is tried again by the next agent
                state.failed_commit = sha
            state.message = f"git {sha[:12]} {status}"
        self.log(
            event="deployed" if code == EXIT_OK else "deploy-failed",
            stack=stack.name,
            commit=sha[:12],
            status=status,
            exit=code,
        )
        return PassResult(
            stack.name,
            status,
            code,
            sha,
            True,
            0.0,
            state.plan_summary,
            state.message,
            reason,
            info.subject,
            tuple(drift or ()),
        )

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
