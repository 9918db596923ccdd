"""Service-log framing: the engine's multiplexed stream, its line format and the `logs` prefix."""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from urllib.parse import unquote

from stackctl.swarm.api import Task

STDOUT_STREAM = 1
STDERR_STREAM = 2
SWARM_DETAIL = "com.docker.swarm."  # the engine's own details (task, node, service IDs)
TASK_DETAIL = SWARM_DETAIL + "task.id"
NODE_DETAIL = SWARM_DETAIL + "node.id"


def log_frames(read: Callable[[int], bytes], tty: bool, limit: int = 0) -> Iterator[tuple[int, str]]:
    """(stream, line) pairs of a raw service-log response, demultiplexed (stdout=1, stderr=2).

    `read(n)` is the response's reader; a service with a TTY is not multiplexed. `limit` (bytes,
    0: none) stops reading early, so a bounded read stays bounded whatever a task wrote.
    """
    buffers = {STDOUT_STREAM: b"", STDERR_STREAM: b""}
    total = 0
    while not limit or total < limit:
        if tty:
            chunk, stream = read(4096), STDOUT_STREAM
            if not chunk:
                break
        else:
            header = read(8)
            if len(header) < 8:
                break
            stream_id, length = struct.unpack(">BxxxL", header)
            stream = STDERR_STREAM if stream_id == STDERR_STREAM else STDOUT_STREAM
            chunk = read(length) if length else b""
        total += len(chunk)
        buffers[stream] += chunk
        *complete, buffers[stream] = buffers[stream].split(b"\n")
        for line in complete:
            yield stream, line.decode("utf-8", errors="replace")
    for stream, rest in buffers.items():
        if rest:
            yield stream, rest.decode("utf-8", errors="replace")


def parse_log_details(details: str) -> dict[str, str]:
    """`k=v,k2=v2` (URL-encoded values) from the engine's `details=true` log prefix."""
    out: dict[str, str] = {}
    for pair in details.split(","):
        key, sep, value = pair.partition("=")
        if sep:
            out[unquote(key)] = unquote(value)
    return out


def split_log_line(line: str, *, timestamps: bool) -> tuple[str | None, dict[str, str], str]:
    """Engine service-log line → (timestamp, details, message)."""
    stamp = None
    if timestamps:
        stamp, _, line = line.partition(" ")
    details, sep, message = line.partition(" ")
    if "=" not in details:  # no details block: the whole line is the message
        return stamp, {}, line
    return stamp, parse_log_details(details), message if sep else ""


def user_details(details: dict[str, str]) -> str:
    """The details a log driver added (`--details`), without the swarm's own IDs."""
    return ",".join(f"{k}={v}" for k, v in details.items() if not k.startswith(SWARM_DETAIL))


def log_prefix(task: Task | None, task_id: str, service_name: str, node: str, *,
               task_ids: bool = True, full_ids: bool = False) -> str:
    """`<service>.<slot>.<task id>@<node>` as `docker service logs` prints it
    (`--no-task-ids`: without the task ID; `--no-trunc`: the full task ID)."""
    slot = (task or {}).get("Slot") or 0
    if not task_ids:
        return f"{service_name}.{slot}@{node}"
    return f"{service_name}.{slot}.{task_id if full_ids else task_id[:12]}@{node}"


def framed(prefix: str, width: int, message: str) -> str:
    """One output line: the prefix padded to the widest seen, then `    | ` and the message."""
    return f"{prefix.ljust(width)}    | {message}"
