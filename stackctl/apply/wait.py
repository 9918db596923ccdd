"""Wait for a rollout to finish and tell the truth about how it ended: the polling loop.

The swarm executes `update_config` / `rollback_config` itself; this module only watches
(`UpdateStatus`, tasks, nodes) every `poll` seconds and hands what it saw to the pure rules of
apply/convergence.py (`evaluate`), which decide per service whether it converged, failed, paused,
was rolled back; this loop adds running out of time and Ctrl-C. All services are watched at
once: one `services` call and one `tasks` call per poll, nodes every few seconds.

A manager that answers 5xx (a swarm electing a new leader) is asked again for up to
`UNAVAILABLE_GRACE` seconds, never past the timeout; an engine that is gone ends the wait at
once (EngineError): stackctl never switches to another manager by itself.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from types import FrameType
from typing import TYPE_CHECKING

from stackctl.apply.convergence import (
    CONVERGED,
    DEFAULT_MAX_FAILURES,
    FAILED,
    INTERRUPTED,
    PAUSED,
    ROLLED_BACK,
    TIMEOUT,
    ServiceOutcome,
    ServiceProgress,
    describe_task_error,
    evaluate,
    is_failure,
    newest_task_problem,
)
from stackctl.errors import EngineError
from stackctl.swarm.api import Service, Task, as_nodes, as_services, as_task, as_tasks
from stackctl.swarm.nodes import ObservedNode, down_node_names, node_from_inspect
from stackctl.swarm.times import epoch

if TYPE_CHECKING:
    from stackctl.engine import Engine

NODE_REFRESH = 5.0  # seconds between node list calls
SINCE_MARGIN = 2.0  # default `since`: this long before the wait began
# Seconds the wait keeps asking a manager that answers 5xx (a swarm without a leader until it elects
# one: a few seconds after the leader's dockerd died) before it gives up; never past --timeout.
UNAVAILABLE_GRACE = 60.0

_TASK_IN_MESSAGE = re.compile(r"\btask ([0-9a-z]{25})\b")
_ID_RE = re.compile(r"^[0-9a-z]{25}$")



def _server_skew(engine: Engine) -> float:
    """Engine clock minus local clock, so `since` and task timestamps compare (0 when unknown)."""
    try:
        before = time.time()
        info = engine.info()
        after = time.time()
        system_time = info.get("SystemTime")
        server = epoch(system_time if isinstance(system_time, str) else None)
    except Exception:  # noqa: BLE001 - a missing clock reading only weakens staleness checks
        return 0.0
    return 0.0 if server is None else server - (before + after) / 2


def _lookup_failed_task(engine: Engine, prog: ServiceProgress, service_id: str, messages: Sequence[str],
                        since: float) -> None:
    """After a pause or rollback, show the error of the task the swarm blamed.

    At `rollback_completed` the swarm has replaced the message naming the task, and the
    failed task is no longer of the current spec: use a message seen earlier, else the
    newest error among all of the service's tasks since the deploy began (one extra call).
    """
    for text in messages:
        m = _TASK_IN_MESSAGE.search(text or "")
        if not m:
            continue
        try:
            task = as_task(engine.inspect("task", m.group(1)))
        except EngineError:  # the task may be gone; fall back to the list
            continue
        found = describe_task_error(task)
        if found:
            prog.task_error, prog.task_id = found, str(task.get("ID") or m.group(1))
            return
    try:
        tasks = as_tasks(engine.objects("task", {"service": [service_id]}))
    except EngineError:  # the status message remains
        return
    failed = [t for t in tasks if is_failure(t, "any")]
    problem = newest_task_problem(failed, since, exits_fail=True)
    if problem:
        prog.task_error, prog.task_id = problem


def wait_for_services(
    engine: Engine,
    names: list[str],
    *,
    timeout: float,
    on_progress: Callable[[list[ServiceProgress]], None] | None = None,
    poll: float = 0.5,
    since: float | None = None,
    max_failures: int = DEFAULT_MAX_FAILURES,
) -> list[ServiceOutcome]:
    """Watch every named service (names or IDs) until each has an outcome; never raises on Ctrl-C.

    `timeout` <= 0 means no bound. `since` (local epoch seconds, default: shortly before this
    call) is when the deploy began changing the swarm: update statuses and task failures from
    before it belong to earlier deploys and are ignored. Ctrl-C (KeyboardInterrupt) marks the
    undecided services `interrupted` and returns. An engine that stops answering raises EngineError
    (see the module's rules); the caller says what the deploy had written.
    """
    started = time.monotonic()
    deadline = started + timeout if timeout and timeout > 0 else None
    if since is None:
        since = time.time() - SINCE_MARGIN
    skew = _server_skew(engine)
    server_since = since + skew
    order = list(dict.fromkeys(names))
    progress: dict[str, ServiceProgress] = {n: ServiceProgress(name=n, message="waiting") for n in order}
    ids: dict[str, str] = {}  # requested name -> service ID
    nodes: list[ObservedNode] | None = None  # converted once per fetch, read by every poll
    nodes_at = -NODE_REFRESH
    seen_messages: dict[str, list[str]] = {}  # UpdateStatus messages of this deploy, in order

    def undecided() -> list[str]:
        return [n for n in order if progress[n].final is None]

    unavailable_since: float | None = None  # when the manager began answering 5xx, if it still does

    def fetch(kind: str, filters: Mapping[str, object] | None = None) -> Sequence[Mapping[str, object]]:
        """engine.objects, asked again while the swarm cannot answer (within the grace and --timeout)."""
        nonlocal unavailable_since
        while True:
            try:
                found = engine.objects(kind, filters)
            except EngineError as err:
                now = time.monotonic()
                unavailable_since = unavailable_since or now
                out_of_time = deadline is not None and now + poll >= deadline
                if not err.unavailable or now - unavailable_since >= UNAVAILABLE_GRACE or out_of_time:
                    raise
                if on_progress:
                    why = err.reason or err.message
                    on_progress([replace(progress[n], message=f"{progress[n].message} (the manager cannot "
                                         f"answer for now, asking again: {why})") for n in order])
                time.sleep(poll)
                continue
            unavailable_since = None
            return found

    try:
        while undecided():
            now_mono = time.monotonic()
            watch = undecided()
            # services: one call, by name the first time (a prefix filter: matched exactly
            # below), by ID afterwards
            unknown = [n for n in watch if n not in ids]
            known = [ids[n] for n in watch if n in ids]
            svcs: list[Service] = []
            if unknown:
                svcs += as_services(fetch("service", {"name": unknown}))
                svcs += as_services(fetch("service", {"id": [n for n in unknown if _ID_RE.match(n)]})) \
                    if any(_ID_RE.match(n) for n in unknown) else []
            if known:
                svcs += as_services(fetch("service", {"id": known}))
            by_key: dict[str, Service] = {}
            for s in svcs:
                by_key[s["ID"]] = s
                by_key[(s.get("Spec") or {}).get("Name", "")] = s
            found: dict[str, Service] = {}
            for n in watch:
                svc = by_key.get(ids.get(n, n)) or by_key.get(n)
                if svc is None:
                    if n in ids or now_mono - started > 5:
                        progress[n].final = FAILED
                        progress[n].message = "service not found (removed during the deploy?)"
                    continue
                ids[n] = svc["ID"]
                found[n] = svc
            if not found:
                time.sleep(poll)
                continue
            if now_mono - nodes_at >= NODE_REFRESH:
                nodes = [node_from_inspect(n) for n in as_nodes(fetch("node"))]
                nodes_at = now_mono
            # tasks: one call for every watched service, current spec only
            try:
                tasks = as_tasks(fetch("task", {"service": [s["ID"] for s in found.values()],
                                                "_up-to-date": "true"}))
            except EngineError as err:
                if not err.not_found:
                    raise
                ids.clear()  # a service went away between the two calls; resolve again next poll
                time.sleep(poll)
                continue
            per_service: dict[str, list[Task]] = {}
            for t in tasks:
                per_service.setdefault(t.get("ServiceID", ""), []).append(t)
            server_now = time.time() + skew
            for n, svc in found.items():
                prog = evaluate(svc, per_service.get(svc["ID"], []), nodes, since=server_since,
                                now=server_now, max_failures=max_failures)
                prog.name = n
                msg = (svc.get("UpdateStatus") or {}).get("Message", "")
                if prog.update_state and msg and msg not in seen_messages.setdefault(n, []):
                    seen_messages[n].append(msg)
                if prog.final in (PAUSED, ROLLED_BACK):
                    _lookup_failed_task(engine, prog, svc["ID"], list(reversed(seen_messages[n])),
                                        server_since)
                    why = [m for m in seen_messages[n] if "due to" in m]
                    if prog.final == ROLLED_BACK and why:
                        prog.message += f": {why[-1]}"
                progress[n] = prog
            if deadline is not None and time.monotonic() >= deadline:
                lost = down_node_names(nodes or [])
                for n in undecided():
                    p = progress[n]
                    p.final = TIMEOUT
                    p.message = f"timed out after {_fmt_seconds(timeout)}: {p.message}"
                    if lost:  # the likeliest reason, and not visible in the service itself
                        verb = "are" if len(lost) > 1 else "is"
                        p.message += (f" (node{'s' if len(lost) > 1 else ''} {', '.join(lost)} {verb} down; "
                                      "the swarm moves their tasks to other nodes where it can)")
            if on_progress:
                on_progress([progress[n] for n in order])
            if undecided():
                time.sleep(max(0.0, poll - (time.monotonic() - now_mono)))
    except KeyboardInterrupt:
        for n in undecided():
            progress[n].final = INTERRUPTED
            progress[n].message = f"interrupted while {progress[n].message or 'waiting'}"
        if on_progress:
            on_progress([progress[n] for n in order])
    except EngineError as err:
        raise err.during("watch the rollout") from None
    return [progress[n].outcome() for n in order]


def _fmt_seconds(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"



@contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """While waiting, SIGTERM behaves like Ctrl-C (KeyboardInterrupt), so CI cancels are handled."""
    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def bake_services(
    engine: Engine,
    stack_filter: Mapping[str, object],
    *,
    duration: float,
    on_progress: Callable[[list[ServiceProgress]], None] | None = None,
    poll: float = 1.0,
    since: float | None = None,
) -> list[ServiceOutcome]:
    """Watch a converged stack for `duration` seconds: every service must keep running with no
    task failing or restarting (a fan-out wave's bake, docs/fan-out.md).

    The rules are the wait's (`evaluate`), with `since` the bake's start and one failure enough:
    a task of the current spec that fails, exits under `restart_policy: any` (a healthcheck that
    stops passing) or is rejected ends the bake `failed`; so does a swarm update that pauses or
    rolls back. A service not running as it should at the end of the bake (tasks still being
    replaced) fails it too. `stack_filter`: the engine filter of the stack's services.
    """
    started = time.monotonic()
    if since is None:
        since = time.time()
    skew = _server_skew(engine)
    server_since = since + skew
    final: dict[str, ServiceProgress] = {}
    last: dict[str, ServiceProgress] = {}
    try:
        while True:
            now_mono = time.monotonic()
            ending = now_mono - started >= duration
            services = as_services(engine.objects("service", stack_filter))
            nodes = [node_from_inspect(n) for n in as_nodes(engine.objects("node"))]
            ids = [s["ID"] for s in services]
            tasks = as_tasks(engine.objects("task", {"service": ids, "_up-to-date": "true"})) if ids else []
            per_service: dict[str, list[Task]] = {}
            for t in tasks:
                per_service.setdefault(t.get("ServiceID", ""), []).append(t)
            server_now = time.time() + skew
            for svc in services:
                name = (svc.get("Spec") or {}).get("Name", svc["ID"])
                if name in final:
                    continue
                prog = evaluate(svc, per_service.get(svc["ID"], []), nodes, since=server_since,
                                now=server_now, max_failures=1)
                if prog.final in (FAILED, PAUSED, ROLLED_BACK):
                    prog.message = f"during the bake: {prog.message}"
                    final[name] = prog
                elif ending and prog.final != CONVERGED:
                    prog.final = FAILED
                    prog.message = f"not running as it should at the end of the bake: {prog.message}"
                    final[name] = prog
                last[name] = prog
            if on_progress:
                on_progress(list(last.values()))
            if final or ending:
                break
            time.sleep(max(0.0, min(poll, duration - (time.monotonic() - started))))
    except KeyboardInterrupt:
        for name, prog in last.items():
            if name not in final:
                prog.final = INTERRUPTED
                prog.message = f"interrupted during the bake: {prog.message}"
    except EngineError as err:
        raise err.during("watch the bake") from None
    out = []
    for name, prog in last.items():
        chosen = final.get(name, prog)
        if chosen.final is None:  # the bake ended (or stopped at another service's failure) with it fine
            chosen.final = CONVERGED
        out.append(chosen.outcome())
    return out
