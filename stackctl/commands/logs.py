"""`stackctl logs STACK [SERVICE]`: the service logs of a stack, each line prefixed with
`<service>.<slot>.<task id>@<node>    | ` as `docker service logs` prints it.

The flags are `docker service logs`'s: -f/--follow, -n/--tail, --since, -t/--timestamps (the
engine's timestamp after the prefix), --no-task-ids, --no-trunc (full task IDs), --no-resolve
(service and node IDs instead of names), --raw (no prefix) and --details (the extra attributes
a log driver adds, such as `--log-opt labels`).

Several services: without `--follow` the lines of all services are merged in time order; with
`--follow` one reader per service prints lines as they come. stderr lines go to stderr.
Task and node names come from one task list and one node list, not a call per line.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import IO, TYPE_CHECKING

from stackctl.commands._stackquery import api_call, connect_manager, not_found
from stackctl.errors import EngineError, UsageError
from stackctl.names import descope, scope
from stackctl.swarm.api import Service, Task, as_nodes, as_services, as_tasks
from stackctl.swarm.logs import (
    NODE_DETAIL,
    STDERR_STREAM,
    TASK_DETAIL,
    framed,
    log_frames,
    log_prefix,
    split_log_line,
    user_details,
)
from stackctl.swarm.nodes import node_names
from stackctl.swarm.stacks import natural_key, object_name, stack_filters
from stackctl.swarm.times import parse_since

if TYPE_CHECKING:
    from stackctl.engine import Engine

@dataclass(frozen=True)
class LogFormat:
    """How each line is printed (the flags of `docker service logs`)."""

    timestamps: bool = False
    task_ids: bool = True
    full_ids: bool = False
    resolve: bool = True
    raw: bool = False
    details: bool = False


def run(*, stack: str, service: str | None = None, follow: bool = False, tail: str = "all",
        since: str | None = None, context: str | None = None, debug: bool = False,
        timestamps: bool = False, no_task_ids: bool = False, no_trunc: bool = False,
        no_resolve: bool = False, raw: bool = False, details: bool = False) -> int:
    fmt = LogFormat(timestamps=timestamps, task_ids=not no_task_ids, full_ids=no_trunc,
                    resolve=not no_resolve, raw=raw, details=details)
    tail = tail.strip().lower()
    if tail != "all" and not tail.isdigit():
        raise UsageError(f"invalid --tail {tail!r} (expected a number of lines or 'all')")
    since_param = parse_since(since, datetime.now(timezone.utc)) if since else None
    engine = connect_manager(context, debug)

    services = as_services(api_call("list services", lambda: engine.objects("service", stack_filters(stack))))
    if not services:
        raise not_found(stack, engine)
    if service:
        wanted = {service, scope(stack, service)}
        chosen = [s for s in services if object_name(s) in wanted]
        if not chosen:
            known = ", ".join(sorted((descope(stack, object_name(s)) for s in services),
                                     key=natural_key))
            raise EngineError(f"service {service!r} not found in stack {stack} (services: {known})")
        services = chosen
    services.sort(key=lambda s: natural_key(object_name(s)))

    names = {s["ID"]: object_name(s) if fmt.resolve else s["ID"] for s in services}
    namer = _TaskNamer(engine, stack, names, fmt)
    params: dict[str, object] = {"details": True, "follow": follow, "stdout": True, "stderr": True,
                              "timestamps": True, "tail": tail}
    if since_param:
        params["since"] = since_param
    if follow:
        _follow(engine, services, params, namer)
    else:
        lines: list[tuple[str, int, int, str]] = []  # (timestamp, order, stream, text)
        for svc in services:
            for stream, line in _read_log(engine, svc, params):
                stamp, text = namer.render(line, names[svc["ID"]])
                lines.append((stamp, len(lines), stream, text))
        lines.sort()
        for _stamp, _order, stream, text in lines:
            _emit(stream, text)
        if not lines and tail != "0":
            print(_nothing_written([object_name(s) for s in services], since), file=sys.stderr)
    return 0


def _nothing_written(services: list[str], since: str | None) -> str:
    """Said on stderr when the tasks wrote no line at all: an empty output is not a silent failure."""
    which = services[0] if len(services) == 1 else f"{len(services)} services ({', '.join(services)})"
    return f"no log lines: the tasks of {which} wrote nothing" + (f" since {since}" if since else "")


def _emit(stream: int, text: str, lock: threading.Lock | None = None) -> None:
    out: IO[str] = sys.stderr if stream == STDERR_STREAM else sys.stdout
    if lock:
        with lock:
            out.write(text + "\n")
            out.flush()
    else:
        out.write(text + "\n")


def _follow(engine: Engine, services: list[Service], params: dict[str, object],
            namer: _TaskNamer) -> None:
    lock = threading.Lock()
    errors: list[EngineError] = []

    def reader(svc: Service) -> None:
        try:
            for stream, raw in _read_log(engine, svc, params):
                _stamp, text = namer.render(raw, object_name(svc))
                _emit(stream, text, lock)
        except EngineError as err:
            errors.append(err)

    threads = [threading.Thread(target=reader, args=(s,), daemon=True) for s in services]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)  # short joins keep Ctrl-C responsive
    if errors:
        raise errors[0]


def _read_log(engine: Engine, svc: Service, params: dict[str, object]) -> Iterator[tuple[int, str]]:
    """(stream, line) pairs of one service's log, demultiplexed (stdout=1, stderr=2)."""
    tty = bool(((svc.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec", {}).get("TTY"))
    name = object_name(svc)

    res = api_call(f"read the logs of {name}", lambda: engine.service_logs(svc["ID"], params))
    try:
        yield from log_frames(res.read, tty)
    finally:
        res.close()


class _TaskNamer:
    """Log prefixes from the stack's tasks and nodes, listed once (again only for unseen tasks)."""

    def __init__(self, engine: Engine, stack: str, service_names: dict[str, str],
                 fmt: LogFormat | None = None) -> None:
        self.engine = engine
        self.stack = stack
        self.service_names = service_names
        self.fmt = fmt or LogFormat()
        self.lock = threading.Lock()
        self.nodes: dict[str, str] = {}
        self.tasks: dict[str, Task] = {}
        self.width = 0
        self._refresh()

    def _refresh(self) -> None:
        tasks = as_tasks(api_call("list tasks",
                                  lambda: self.engine.objects("task", stack_filters(self.stack))))
        nodes = as_nodes(api_call("list nodes", lambda: self.engine.objects("node")))
        self.tasks = {t["ID"]: t for t in tasks}
        self.nodes = node_names(nodes)
        self.refreshed = set(self.tasks)
        for t in tasks:  # align the prefixes of every live task from the first line on
            name = self.service_names.get(t.get("ServiceID", ""))
            if name and t.get("DesiredState") == "running":
                self.width = max(self.width, len(self._prefix(t, t["ID"], name, t.get("NodeID", ""))))

    def _prefix(self, task: Task | None, task_id: str, service_name: str, node_id: str) -> str:
        node = (self.nodes.get(node_id) if self.fmt.resolve else None) or (
            node_id if self.fmt.full_ids or not self.fmt.resolve else node_id[:12])
        return log_prefix(task, task_id, service_name, node, task_ids=self.fmt.task_ids,
                          full_ids=self.fmt.full_ids)

    def render(self, raw: str, service_name: str) -> tuple[str, str]:
        stamp, details, message = split_log_line(raw, timestamps=True)
        task_id = details.get(TASK_DETAIL, "")
        node_id = details.get(NODE_DETAIL, "")
        with self.lock:
            if task_id and task_id not in self.tasks and task_id not in self.refreshed:
                self._refresh()
                self.refreshed.add(task_id)
            task = self.tasks.get(task_id)
            prefix = self._prefix(task, task_id, service_name, node_id)
            self.width = max(self.width, len(prefix))
        extra = user_details(details)
        if self.fmt.details and extra:
            message = f"{extra} {message}"
        if self.fmt.timestamps and stamp:
            message = f"{stamp} {message}"
        if self.fmt.raw:
            return stamp or "", message
        return stamp or "", framed(prefix, self.width, message)
