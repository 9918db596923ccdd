"""`ps` rows: the stack's tasks grouped by slot, newest first, failing services first, with ages.

Pure functions on the engine's task, service and node lists (swarm/api.py), so every rule (naming,
history grouping, ordering, ages) is testable without an engine. `now` is always passed in, never
read here, so rendered output is reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from stackctl.images import task_image
from stackctl.swarm.api import Node, Service, Task
from stackctl.swarm.nodes import node_names
from stackctl.swarm.services import format_port, service_statuses
from stackctl.swarm.stacks import natural_key
from stackctl.swarm.states import ENDED_STATES, UNWANTED_DESIRED_STATES, ended_cleanly
from stackctl.swarm.times import format_time, parse_time
from stackctl.units import elapsed


def human_duration(seconds: float) -> str:
    """Elapsed time in the docker CLI's words ("2 minutes", "About an hour")."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = secs // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = round(seconds / 3600)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds // 3600) // 24 // 365} years"


def _title(state: str) -> str:
    return state[:1].upper() + state[1:] if state else "Unknown"


def state_with_age(state: str, since: datetime | None, now: datetime) -> str:
    """`Running 2 minutes ago`, as the reference's CURRENT STATE column."""
    if since is None:
        return _title(state)
    return f"{_title(state)} {human_duration(max(0.0, (now - since).total_seconds())).lower()} ago"


def short_state(state: str, since: datetime | None, now: datetime, error: str = "") -> str:
    """CURRENT STATE as people read it in a narrow table: `Running 8s`, `Failed 2m: non-zero exit (3)`
    (the task's error without the swarm's `task: ` prefix; the age is units.elapsed)."""
    title = _title(state)
    if since is not None:
        title += " " + elapsed((now - since).total_seconds())
    error = error.removeprefix("task: ")
    return f"{title}: {error}" if error else title


def truncate_words(text: str, width: int) -> str:
    """Shorten to at most `width` characters at a word boundary, ending with `…` (never mid-word)."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,:;") + "…"


@dataclass
class TaskRow:
    """One line of `stackctl ps` (and one object of its JSON)."""

    id: str
    name: str  # `<service>.<slot>` or `<service>.<node id>` (global), as the reference
    service: str
    service_id: str
    slot: int | None
    node_id: str | None
    node: str | None  # hostname
    image: str  # as in the task spec (with digest when pinned)
    desired_state: str
    state: str
    state_since: datetime | None
    current_state: str  # "Running 2 minutes ago"
    message: str
    error: str
    exit_code: int | None
    ports: list[str]
    created_at: datetime | None
    is_history: bool  # an older task of the same slot (the reference's ` \\_ ` lines)
    service_converged: bool = True
    short_state: str = ""  # "Failed 2m: non-zero exit (3)": the table's narrow CURRENT STATE (not in JSON)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = asdict(self)
        del data["short_state"]
        data["state_since"] = format_time(self.state_since)
        data["created_at"] = format_time(self.created_at)
        data["error"] = self.error or None
        return data


def _task_row(task: Task, services: Mapping[str, Service], nodes: Mapping[str, str],
              now: datetime) -> TaskRow:
    status = task.get("Status") or {}
    service_id = task.get("ServiceID", "")
    svc = services.get(service_id)
    service_name = ((svc or {}).get("Spec") or {}).get("Name") or service_id
    slot = task.get("Slot") or None
    node_id = task.get("NodeID") or None
    name = f"{service_name}.{slot}" if slot else f"{service_name}.{node_id or ''}"
    since = parse_time(status.get("Timestamp"))
    state = status.get("State") or "unknown"
    container = status.get("ContainerStatus") or {}
    ended = state in ENDED_STATES and bool(container.get("ContainerID"))
    return TaskRow(
        id=task["ID"],
        name=name,
        service=service_name,
        service_id=service_id,
        slot=slot,
        node_id=node_id,
        node=(nodes.get(node_id) or node_id[:12]) if node_id else None,
        image=task_image(task.get("Spec")),
        desired_state=task.get("DesiredState") or "",
        state=state,
        state_since=since,
        current_state=state_with_age(state, since, now),
        short_state=short_state(state, since, now, status.get("Err") or ""),
        message=status.get("Message") or "",
        error=status.get("Err") or "",
        exit_code=container.get("ExitCode") if ended else None,
        ports=[format_port(p) for p in ((status.get("PortStatus") or {}).get("Ports") or [])],
        created_at=parse_time(task.get("CreatedAt")),
        is_history=False,
    )


def task_rows(tasks: Sequence[Task], services: Sequence[Service], nodes: Sequence[Node], *,
              now: datetime, all_tasks: bool = False) -> list[TaskRow]:
    """Tasks as `ps` rows: grouped by slot, newest first, failing services first.

    Default view: each slot's newest task plus its *problem* predecessors (failed, rejected,
    orphaned, or with an error: swarm/states.py); slots whose newest task ended cleanly and is not
    wanted (scaled down, service updated away) are left out. `all_tasks` keeps every task, as the
    reference.
    """
    svc_by_id = {s["ID"]: s for s in services}
    names = node_names(nodes)
    statuses = {s.id: s for s in service_statuses(services, tasks, nodes)}
    rows = [_task_row(t, svc_by_id, names, now) for t in tasks]

    groups: dict[str, list[TaskRow]] = {}
    for row in rows:
        groups.setdefault(row.name, []).append(row)

    ordered_groups = []
    for name, group in groups.items():
        group.sort(key=lambda r: (r.created_at or datetime.min.replace(tzinfo=timezone.utc)), reverse=True)
        current, older = group[0], group[1:]
        if not all_tasks:
            if (current.desired_state in UNWANTED_DESIRED_STATES
                    and ended_cleanly(current.state, current.error)):
                continue
            older = [r for r in older if not ended_cleanly(r.state, r.error)]
        for r in older:
            r.is_history = True
        status = statuses.get(current.service_id)
        converged = status.converged if status else True
        for r in (current, *older):
            r.service_converged = converged
        ordered_groups.append(((0 if not converged else 1, natural_key(current.service), natural_key(name)),
                               [current, *older]))
    ordered_groups.sort(key=lambda item: item[0])
    return [r for _, group in ordered_groups for r in group]
