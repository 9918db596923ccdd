"""`stackctl logs STACK [SERVICE]`: the service logs of a stack, each line prefixed with
`<service>.<slot>.<task id>@<node>    | ` as `docker service logs` prints it.

Several services: without `--follow` the lines of all services are merged in time order; with
`--follow` one reader per service prints lines as they come. stderr lines go to stderr.
Task and node names come from one task list and one node list, not a call per line.
"""

from __future__ import annotations

import struct
import sys
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import IO, Any

from stackctl.commands._stackquery import api_call, connect_manager, not_found
from stackctl.errors import EngineError, UsageError
from stackctl.inspect_tasks import (
    log_prefix,
    natural_key,
    node_names,
    object_name,
    parse_since,
    split_log_line,
    stack_filters,
)

STDERR_STREAM = 2


def run(*, stack: str, service: str | None = None, follow: bool = False, tail: str = "all",
        since: str | None = None, context: str | None = None, debug: bool = False) -> int:
    tail = tail.strip().lower()
    if tail != "all" and not tail.isdigit():
        raise UsageError(f"invalid --tail {tail!r} (expected a number of lines or 'all')")
    since_param = parse_since(since, datetime.now(timezone.utc)) if since else None
    client = connect_manager(context, debug)
    api = client.api

    services = api_call("list services", lambda: api.services(filters=stack_filters(stack)))
    if not services:
        raise not_found(stack, client)
    if service:
        wanted = {service, f"{stack}_{service}"}
        chosen = [s for s in services if object_name(s) in wanted]
        if not chosen:
            known = ", ".join(sorted((object_name(s).removeprefix(f"{stack}_") for s in services),
                                     key=natural_key))
            raise EngineError(f"service {service!r} not found in stack {stack} (services: {known})")
        services = chosen
    services.sort(key=lambda s: natural_key(object_name(s)))

    namer = _TaskNamer(api, stack, {s["ID"]: object_name(s) for s in services})
    params: dict[str, Any] = {"details": True, "follow": follow, "stdout": True, "stderr": True,
                              "timestamps": True, "tail": tail}
    if since_param:
        params["since"] = since_param
    if follow:
        _follow(api, services, params, namer)
    else:
        lines: list[tuple[str, int, int, str]] = []  # (timestamp, order, stream, text)
        for svc in services:
            for stream, raw in _read_log(api, svc, params):
                stamp, text = namer.render(raw, object_name(svc))
                lines.append((stamp, len(lines), stream, text))
        lines.sort()
        for _stamp, _order, stream, text in lines:
            _emit(stream, text)
    return 0


def _emit(stream: int, text: str, lock: threading.Lock | None = None) -> None:
    out: IO[str] = sys.stderr if stream == STDERR_STREAM else sys.stdout
    if lock:
        with lock:
            out.write(text + "\n")
            out.flush()
    else:
        out.write(text + "\n")


def _follow(api: Any, services: list[dict[str, Any]], params: dict[str, Any], namer: _TaskNamer) -> None:
    lock = threading.Lock()
    errors: list[EngineError] = []

    def reader(svc: dict[str, Any]) -> None:
        try:
            for stream, raw in _read_log(api, svc, params):
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


def _read_log(api: Any, svc: dict[str, Any], params: dict[str, Any]) -> Iterator[tuple[int, str]]:
    """(stream, line) pairs of one service's log, demultiplexed (stdout=1, stderr=2)."""
    tty = bool(((svc.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec", {}).get("TTY"))
    name = object_name(svc)

    def open_stream() -> Any:
        res = api._get(api._url("/services/{0}/logs", svc["ID"]), params=params, stream=True)
        api._raise_for_status(res)
        return res

    res = api_call(f"read the logs of {name}", open_stream)
    try:
        api._disable_socket_timeout(api._get_raw_response_socket(res))
    except Exception:  # noqa: BLE001 - only matters for long --follow sessions
        pass
    buffers = {1: b"", 2: b""}
    try:
        while True:
            if tty:
                chunk, stream = res.raw.read(4096), 1
                if not chunk:
                    break
            else:
                header = res.raw.read(8)
                if len(header) < 8:
                    break
                stream_id, length = struct.unpack(">BxxxL", header)
                stream = STDERR_STREAM if stream_id == STDERR_STREAM else 1
                chunk = res.raw.read(length) if length else b""
            buffers[stream] += chunk
            *complete, buffers[stream] = buffers[stream].split(b"\n")
            for line in complete:
                yield stream, line.decode("utf-8", errors="replace")
    finally:
        res.close()
    for stream, rest in buffers.items():
        if rest:
            yield stream, rest.decode("utf-8", errors="replace")


class _TaskNamer:
    """Log prefixes from the stack's tasks and nodes, listed once (again only for unseen tasks)."""

    def __init__(self, api: Any, stack: str, service_names: dict[str, str]) -> None:
        self.api = api
        self.stack = stack
        self.service_names = service_names
        self.lock = threading.Lock()
        self.nodes: dict[str, str] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.width = 0
        self._refresh()

    def _refresh(self) -> None:
        tasks = api_call("list tasks", lambda: self.api.tasks(filters=stack_filters(self.stack)))
        nodes = api_call("list nodes", lambda: self.api.nodes())
        self.tasks = {t["ID"]: t for t in tasks}
        self.nodes = node_names(nodes)
        self.refreshed = set(self.tasks)
        for t in tasks:  # align the prefixes of every live task from the first line on
            name = self.service_names.get(t.get("ServiceID", ""))
            if name and t.get("DesiredState") == "running":
                node = self.nodes.get(t.get("NodeID", "")) or t.get("NodeID", "")[:12]
                self.width = max(self.width, len(log_prefix(t, t["ID"], name, node)))

    def render(self, raw: str, service_name: str) -> tuple[str, str]:
        stamp, details, message = split_log_line(raw, timestamps=True)
        task_id = details.get("com.docker.swarm.task.id", "")
        node_id = details.get("com.docker.swarm.node.id", "")
        with self.lock:
            if task_id and task_id not in self.tasks and task_id not in self.refreshed:
                self._refresh()
                self.refreshed.add(task_id)
            task = self.tasks.get(task_id)
            node = self.nodes.get(node_id) or node_id[:12]
            prefix = log_prefix(task, task_id, service_name, node)
            self.width = max(self.width, len(prefix))
            return stamp or "", f"{prefix.ljust(self.width)}    | {message}"
