"""The last lines of a failing service's log, for the verdict of a rollout (issue 16).

A failed rollout's cause is usually in the task's own output, so the verdict shows the newest few
lines of the failing task's log (stdout and stderr), as `docker-stack-wait -l` does. The read goes
through the engine gateway (`Engine.service_logs`), starts at the deploy, asks for a few lines per
task, stops after `LOG_BYTES` and gives up after `LOG_TIMEOUT` seconds for all services together:
a node that does not answer must not hang the verdict. Nothing here prints; the lines travel in the
`ServiceOutcome` (render/progress.py shows them, `deploy --format json` carries them).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stackctl.apply.convergence import CONVERGED, INTERRUPTED, ServiceOutcome, is_failure
from stackctl.errors import EngineError
from stackctl.swarm.api import as_tasks
from stackctl.swarm.logs import log_frames, split_log_line
from stackctl.swarm.times import epoch

if TYPE_CHECKING:
    from stackctl.engine import Engine

LOG_LINES = 5  # lines shown per failing service
LOG_TIMEOUT = 5.0  # seconds for every read of one verdict together
LOG_BYTES = 256 * 1024  # read no more than this from one service's log
LINE_WIDTH = 240  # a longer line is cut (with …)
SINCE_MARGIN = 2.0  # seconds before the deploy began: clocks of nodes differ a little

_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean_line(text: str, width: int = LINE_WIDTH) -> str:
    """A log line safe for a terminal: no escape sequences or control characters, at most `width`."""
    text = text.rstrip("\r\n")
    if "\r" in text:  # a progress bar redrawn in place: its last state
        text = text.rsplit("\r", 1)[-1]
    text = _CONTROL.sub("", _ESCAPES.sub("", text)).rstrip()
    return text if len(text) <= width else text[: width - 1] + "…"


Entry = tuple[str, str, str]  # (timestamp, task ID, line)


def choose_lines(entries: Sequence[Entry], task_id: str | None, failed_ids: Sequence[str] = (),
                 lines: int = LOG_LINES) -> tuple[str | None, tuple[str, ...]]:
    """(task ID, its newest `lines` lines) from (timestamp, task ID, text) entries.

    The blamed task's lines when it wrote any, else those of the newest task in `failed_ids`
    (newest first) that did; (None, ()) when none of them wrote anything.
    """
    by_task: dict[str, list[tuple[str, str]]] = {}
    for stamp, task, text in entries:
        by_task.setdefault(task, []).append((stamp, text))
    for candidate in ([task_id] if task_id else []) + [t for t in failed_ids if t != task_id]:
        found = by_task.get(candidate)
        if found:
            found.sort(key=lambda e: e[0])
            return candidate, tuple(text for _stamp, text in found[-lines:])
    return None, ()


def _read(engine: Engine, service: str, params: Mapping[str, Any], timeout: float
          ) -> tuple[list[Entry], str | None]:
    """(timestamp, task ID, line) entries of a service's log, read in at most `timeout` seconds."""
    entries: list[Entry] = []
    problem: list[str] = []
    streams: list[Any] = []

    def work() -> None:
        try:
            svc = engine.inspect("service", service)
            spec = ((svc.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}
            res = engine.service_logs(svc.get("ID") or service, dict(params))
            streams.append(res)
            try:
                for _stream, raw in log_frames(res.read, bool(spec.get("TTY")), LOG_BYTES):
                    stamp, details, text = split_log_line(raw, timestamps=True)
                    task = details.get("com.docker.swarm.task.id", "")
                    entries.append((stamp or "", task, clean_line(text)))
            finally:
                res.close()
        except EngineError as err:
            problem.append(err.reason or str(err))
        except Exception as err:  # noqa: BLE001 - a log that cannot be read must not hide the verdict
            if not problem:
                problem.append(str(err) or type(err).__name__)

    worker = threading.Thread(target=work, name=f"log-tail {service}", daemon=True)
    worker.start()
    worker.join(max(0.1, timeout))
    if worker.is_alive():
        # Left to itself: closing a stream another thread is blocked reading can block too (a node
        # cut off mid-read); the daemon thread ends with the process.
        return list(entries), f"no answer within {timeout:.2g}s"
    return entries, problem[0] if problem else None


def _failed_task_ids(engine: Engine, service: str, since: float | None) -> list[str]:
    """IDs of the service's tasks that failed (or exited) since `since`, newest first."""
    try:
        tasks = as_tasks(engine.objects("task", {"service": [service]}))
    except EngineError:
        return []
    ended = [t for t in tasks if is_failure(t, "any") or (t.get("Status") or {}).get("Err")]
    ended = [t for t in ended if since is None
             or (epoch(t.get("CreatedAt")) or 0.0) >= since - SINCE_MARGIN]
    ended.sort(key=lambda t: t.get("CreatedAt") or "", reverse=True)
    return [str(t.get("ID", "")) for t in ended]


def read_log_tail(engine: Engine, outcome: ServiceOutcome, *, since: float | None, lines: int = LOG_LINES,
                  timeout: float = LOG_TIMEOUT) -> ServiceOutcome:
    """`outcome` with the newest lines of its failing task's log (or why they could not be read)."""
    params: dict[str, Any] = {"details": True, "follow": False, "stdout": True, "stderr": True,
                              "timestamps": True, "tail": str(max(1, lines))}
    if since:
        params["since"] = f"{since - SINCE_MARGIN:.6f}"
    entries, problem = _read(engine, outcome.name, params, timeout)
    task_id, tail = choose_lines(entries, outcome.task_id, (), lines)
    if task_id is None and entries:
        task_id, tail = choose_lines(entries, None, _failed_task_ids(engine, outcome.name, since), lines)
    if problem and not tail:
        return dataclasses.replace(outcome, log_tail=(), log_error=problem)
    return dataclasses.replace(outcome, log_tail=tail, log_task_id=task_id)


def with_log_tails(engine: Engine, outcomes: Sequence[ServiceOutcome], *, since: float | None,
                   lines: int = LOG_LINES, timeout: float = LOG_TIMEOUT) -> list[ServiceOutcome]:
    """Every outcome that did not converge (and was not interrupted) with its log tail.

    The reads share one `timeout`: a verdict never waits longer than that for logs.
    """
    deadline = time.monotonic() + timeout
    out = []
    for o in outcomes:
        if o.state in (CONVERGED, INTERRUPTED):
            out.append(o)
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            out.append(dataclasses.replace(o, log_tail=(), log_error="not read: no time left"))
            continue
        out.append(read_log_tail(engine, o, since=since, lines=lines, timeout=left))
    return out
