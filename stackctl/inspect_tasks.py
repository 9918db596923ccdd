"""Turn Engine API lists (tasks, services, nodes, networks...) into rows for the troubleshooting commands.

Pure functions on the dicts `client.api.tasks()` / `services()` / `nodes()` return, so every rule
(naming, history grouping, ordering, convergence, ages) is testable without an engine. `now` is
always passed in, never read here, so rendered output is reproducible.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from stackctl.convert.normalize_spec import service_mode
from stackctl.errors import UsageError
from stackctl.names import NAMESPACE_LABEL as STACK_LABEL

# `ps --filter` keys, as the reference documents them (engine semantics: same key ORed, keys ANDed).
PS_FILTER_KEYS = ("id", "name", "node", "desired-state", "label")
DESIRED_STATES = ("running", "shutdown", "accepted", "ready")

# Task states after which a task never runs again.
TERMINAL_STATES = frozenset({"complete", "shutdown", "failed", "rejected", "remove", "orphaned"})
# Ended states that mean something went wrong: predecessors in these states stay visible by default.
FAILED_STATES = frozenset({"failed", "rejected", "orphaned"})

_ZERO_TIME_PREFIX = "0001-01-01"
_TS_RE = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$"
)


# --- small helpers --------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    """Engine timestamp (RFC 3339, nanoseconds) as an aware datetime; None for Go's zero time."""
    if not value or value.startswith(_ZERO_TIME_PREFIX):
        return None
    m = _TS_RE.match(value.strip())
    if not m:
        return None
    date, clock, frac, zone = m.groups()
    micro = (frac or "0")[:6].ljust(6, "0")
    tz = "+00:00" if zone in (None, "Z") else zone
    return datetime.fromisoformat(f"{date}T{clock}.{micro}{tz}").astimezone(timezone.utc)


def format_time(value: datetime | None) -> str | None:
    """UTC, second precision, `Z`: what the JSON output carries."""
    if value is None:
        return None
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def state_with_age(state: str, since: datetime | None, now: datetime) -> str:
    """`Running 2 minutes ago`, as the reference's CURRENT STATE column."""
    title = state[:1].upper() + state[1:] if state else "Unknown"
    if since is None:
        return title
    return f"{title} {human_duration(max(0.0, (now - since).total_seconds())).lower()} ago"


def short_duration(seconds: float) -> str:
    """Elapsed time as kubectl's AGE column says it: `8s`, `2m`, `3h`, `5d`, `2y`."""
    secs = max(0, int(seconds))
    for unit, size, below in (("s", 1, 60), ("m", 60, 3600), ("h", 3600, 48 * 3600),
                              ("d", 86400, 2 * 365 * 86400)):
        if secs < below:
            return f"{secs // size}{unit}"
    return f"{secs // (365 * 86400)}y"


def short_state(state: str, since: datetime | None, now: datetime, error: str = "") -> str:
    """CURRENT STATE as people read it in a narrow table: `Running 8s`, `Failed 2m: non-zero exit (3)`
    (the task's error without the swarm's `task: ` prefix)."""
    title = state[:1].upper() + state[1:] if state else "Unknown"
    if since is not None:
        title += " " + short_duration((now - since).total_seconds())
    error = error.removeprefix("task: ")
    return f"{title}: {error}" if error else title


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key that orders `web.2` before `web.10`."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part)
                 for part in re.split(r"(\d+)", text) if part != "")


def truncate_words(text: str, width: int) -> str:
    """Shorten to at most `width` characters at a word boundary, ending with `…` (never mid-word)."""
    if len(text) <= width:
        return text
    cut = text[: width - 1]
    space = cut.rfind(" ")
    if space >= width // 2:
        cut = cut[:space]
    return cut.rstrip(" ,:;") + "…"


def parse_filters(raw: Sequence[str]) -> dict[str, list[str]]:
    """`KEY=VALUE` strings → engine filter dict; unknown keys are a usage error, like the reference."""
    out: dict[str, list[str]] = {}
    for item in raw:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or not key:
            raise UsageError(f"bad format of filter (expected name=value): {item!r}")
        if key not in PS_FILTER_KEYS:
            raise UsageError(f"invalid filter {key!r}",)
        if key == "desired-state" and value not in DESIRED_STATES:
            raise UsageError(f"invalid filter 'desired-state={value}' "
                             f"(expected one of: {', '.join(DESIRED_STATES)})")
        out.setdefault(key, []).append(value)
    return out


def stack_filters(stack: str, extra: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """Engine filters selecting the stack's objects (plus the user's own, ANDed by the engine)."""
    filters = {k: list(v) for k, v in (extra or {}).items()}
    filters.setdefault("label", []).append(f"{STACK_LABEL}={stack}")
    return filters


def node_names(nodes: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Node ID → hostname."""
    return {n["ID"]: (n.get("Description") or {}).get("Hostname") or n["ID"][:12] for n in nodes}


def format_port(port: Mapping[str, Any], *, show_mode: bool = False) -> str:
    """`*:8080->80/tcp` (ingress) or `*:8080->80/tcp (host)`."""
    proto = port.get("Protocol") or "tcp"
    published = port.get("PublishedPort")
    target = port.get("TargetPort")
    text = f"*:{published}->{target}/{proto}" if published else f"{target}/{proto}"
    if show_mode and port.get("PublishMode") == "host":
        text += " (host)"
    return text


# --- tasks ------------------------------------------------------------------------------------


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
    is_history: bool  # an older task of the same slot (the reference's ` \_ ` lines)
    service_converged: bool = True
    short_state: str = ""  # "Failed 2m: non-zero exit (3)": the table's narrow CURRENT STATE (not in JSON)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["short_state"]
        data["state_since"] = format_time(self.state_since)
        data["created_at"] = format_time(self.created_at)
        data["error"] = self.error or None
        return data


def _task_row(task: Mapping[str, Any], services: Mapping[str, Mapping[str, Any]], nodes: Mapping[str, str],
              now: datetime) -> TaskRow:
    status = task.get("Status") or {}
    spec = task.get("Spec") or {}
    service_id = task.get("ServiceID", "")
    svc = services.get(service_id)
    service_name = ((svc or {}).get("Spec") or {}).get("Name") or service_id
    slot = task.get("Slot") or None
    node_id = task.get("NodeID") or None
    name = f"{service_name}.{slot}" if slot else f"{service_name}.{node_id or ''}"
    since = parse_time(status.get("Timestamp"))
    state = status.get("State") or "unknown"
    container = status.get("ContainerStatus") or {}
    ended = state in TERMINAL_STATES and bool(container.get("ContainerID"))
    exit_code = container.get("ExitCode") if ended else None
    ports = [format_port(p) for p in ((status.get("PortStatus") or {}).get("Ports") or [])]
    return TaskRow(
        id=task["ID"],
        name=name,
        service=service_name,
        service_id=service_id,
        slot=slot,
        node_id=node_id,
        node=(nodes.get(node_id) or node_id[:12]) if node_id else None,
        image=(spec.get("ContainerSpec") or {}).get("Image", ""),
        desired_state=task.get("DesiredState") or "",
        state=state,
        state_since=since,
        current_state=state_with_age(state, since, now),
        short_state=short_state(state, since, now, status.get("Err") or ""),
        message=status.get("Message") or "",
        error=status.get("Err") or "",
        exit_code=exit_code,
        ports=ports,
        created_at=parse_time(task.get("CreatedAt")),
        is_history=False,
    )


def _ended_cleanly(row: TaskRow) -> bool:
    return row.state in TERMINAL_STATES and row.state not in FAILED_STATES and not row.error


@dataclass
class ServiceStatus:
    """Convergence of one service, computed from its tasks: the `ps` summary and `services` rows."""

    id: str
    name: str
    mode: str
    image: str
    running: int
    desired: int
    completed: int | None  # jobs only
    converged: bool
    problem: str  # newest task error (or pending reason) when not converged
    ports: list[str] = field(default_factory=list)
    max_per_node: int | None = None

    @property
    def replicas(self) -> str:
        """`1/3`, `2/2 (max 1 per node)`, `0/1 (1/1 completed)` as the reference's REPLICAS."""
        text = f"{self.running}/{self.desired}"
        if self.max_per_node:
            text += f" (max {self.max_per_node} per node)"
        if self.completed is not None:
            text += f" ({self.completed}/{self.desired} completed)"
        return text

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["replicas"] = self.replicas
        data["problem"] = self.problem or None
        return data


def service_statuses(services: Sequence[Mapping[str, Any]], tasks: Sequence[Mapping[str, Any]]
                     ) -> list[ServiceStatus]:
    """Running/desired per service from the task list (engines before API 1.41 have no ServiceStatus)."""
    by_service: dict[str, list[Mapping[str, Any]]] = {}
    for t in tasks:
        by_service.setdefault(t.get("ServiceID", ""), []).append(t)
    out = []
    for svc in services:
        spec = svc.get("Spec") or {}
        mode = service_mode(spec)
        own = by_service.get(svc["ID"], [])
        live = [t for t in own if t.get("DesiredState") in ("running", "ready", "accepted")]
        running = sum(1 for t in live if (t.get("Status") or {}).get("State") == "running")
        completed: int | None = None
        mode_spec = (spec.get("Mode") or {})
        if mode == "replicated":
            desired = int((mode_spec.get("Replicated") or {}).get("Replicas") or 0)
            converged = running == desired and len(live) == running
        elif mode == "global":
            desired = len(live)
            converged = running == desired
        else:
            job = mode_spec.get("ReplicatedJob") or {}
            completed = sum(1 for t in own if (t.get("Status") or {}).get("State") == "complete")
            desired = (int(job.get("TotalCompletions") or job.get("MaxConcurrent") or 1)
                       if mode == "replicated-job" else max(len(own), completed))
            converged = completed >= desired
        problem = ""
        if not converged:
            problem = _newest_problem(own)
        placement = ((spec.get("TaskTemplate") or {}).get("Placement") or {})
        ports = [format_port(p, show_mode=True)
                 for p in ((svc.get("Endpoint") or {}).get("Ports")
                           or ((spec.get("EndpointSpec") or {}).get("Ports")) or [])]
        out.append(ServiceStatus(
            id=svc["ID"],
            name=spec.get("Name", svc["ID"]),
            mode=mode,
            image=((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image", ""),
            running=running,
            desired=desired,
            completed=completed,
            converged=converged,
            problem=problem,
            ports=ports,
            max_per_node=placement.get("MaxReplicas") or None,
        ))
    out.sort(key=lambda s: natural_key(s.name))
    return out


def _newest_problem(tasks: Sequence[Mapping[str, Any]]) -> str:
    """The newest error among a service's tasks, or why its newest task is not running yet."""
    ordered = sorted(tasks, key=lambda t: t.get("CreatedAt") or "", reverse=True)
    for t in ordered:
        err = (t.get("Status") or {}).get("Err")
        if err:
            return str(err)
    if ordered:
        status = ordered[0].get("Status") or {}
        if status.get("State") != "running":
            return f"{status.get('State', 'unknown')}: {status.get('Message', '')}".rstrip(": ")
    return "no tasks"


def task_rows(tasks: Sequence[Mapping[str, Any]], services: Sequence[Mapping[str, Any]],
              nodes: Sequence[Mapping[str, Any]], *, now: datetime, all_tasks: bool = False
              ) -> list[TaskRow]:
    """Tasks as `ps` rows: grouped by slot, newest first, failing services first.

    Default view: each slot's newest task plus its *failed* predecessors (failed, rejected,
    orphaned, or with an error); slots whose newest task ended cleanly and is not wanted
    (scaled down, service updated away) are left out. `all_tasks` keeps every task, as the reference.
    """
    svc_by_id = {s["ID"]: s for s in services}
    names = node_names(nodes)
    statuses = {s.id: s for s in service_statuses(services, tasks)}
    rows = [_task_row(t, svc_by_id, names, now) for t in tasks]

    groups: dict[str, list[TaskRow]] = {}
    for row in rows:
        groups.setdefault(row.name, []).append(row)

    ordered_groups = []
    for name, group in groups.items():
        group.sort(key=lambda r: (r.created_at or datetime.min.replace(tzinfo=timezone.utc)), reverse=True)
        current, older = group[0], group[1:]
        if not all_tasks:
            if current.desired_state in ("shutdown", "remove") and _ended_cleanly(current):
                continue
            older = [r for r in older if not _ended_cleanly(r)]
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


# --- stacks -----------------------------------------------------------------------------------


@dataclass
class StackSummary:
    """One line of `stackctl ls`."""

    name: str
    services: int
    networks: int
    secrets: int
    configs: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stack_summaries(services: Iterable[Mapping[str, Any]], networks: Iterable[Mapping[str, Any]] = (),
                    secrets: Iterable[Mapping[str, Any]] = (), configs: Iterable[Mapping[str, Any]] = ()
                    ) -> list[StackSummary]:
    """Group labelled objects by stack name. Unlike the reference, a stack whose services are gone
    but whose networks, secrets or configs remain is still listed (with 0 services)."""
    from stackctl.history import is_history

    counts: dict[str, dict[str, int]] = {}
    for kind, objects in (("services", services), ("networks", networks), ("secrets", secrets),
                          ("configs", configs)):
        for obj in objects:
            labels = _labels(obj, kind)
            stack = labels.get(STACK_LABEL)
            if stack is None or is_history(labels):  # a revision is not one of the stack's configs
                continue
            entry = counts.setdefault(stack, {"services": 0, "networks": 0, "secrets": 0, "configs": 0})
            entry[kind] += 1
    ordered = sorted(counts.items(), key=lambda kv: natural_key(kv[0]))
    return [StackSummary(name=name, **c) for name, c in ordered]


def _labels(obj: Mapping[str, Any], kind: str) -> Mapping[str, str]:
    if kind == "networks":
        return obj.get("Labels") or {}
    return (obj.get("Spec") or {}).get("Labels") or {}


def object_name(obj: Mapping[str, Any]) -> str:
    """Name of a service, secret, config (under Spec) or network (top level)."""
    return str(obj.get("Name") or (obj.get("Spec") or {}).get("Name") or obj.get("ID", ""))


@dataclass
class KeptObjects:
    """What `rm` leaves in place on purpose: external objects and volumes the stack's services use."""

    networks: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = ([f"external network {n}" for n in self.networks]
                 + [f"external secret {n}" for n in self.secrets]
                 + [f"external config {n}" for n in self.configs]
                 + [f"volume {n}" for n in self.volumes])
        return ", ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def kept_objects(services: Sequence[Mapping[str, Any]], stack_network_ids: Iterable[str],
                 all_networks: Sequence[Mapping[str, Any]], stack_secret_names: Iterable[str],
                 stack_config_names: Iterable[str]) -> KeptObjects:
    """Objects the stack's services reference that do not carry the stack label (so `rm` keeps them)."""
    own_networks = set(stack_network_ids)
    net_names = {n["Id"] if "Id" in n else n.get("ID", ""): n.get("Name", "") for n in all_networks}
    own_secrets, own_configs = set(stack_secret_names), set(stack_config_names)
    kept = KeptObjects()
    for svc in services:
        template = (svc.get("Spec") or {}).get("TaskTemplate") or {}
        container = template.get("ContainerSpec") or {}
        for att in template.get("Networks") or []:
            target = att.get("Target", "")
            if target in own_networks:
                continue
            name = net_names.get(target) or next(
                (n for i, n in net_names.items() if i.startswith(target) or n == target), target)
            if name in ("ingress",):
                continue
            kept.networks.append(name)
        kept.secrets += [s.get("SecretName", "") for s in container.get("Secrets") or []
                         if s.get("SecretName") not in own_secrets]
        kept.configs += [c.get("ConfigName", "") for c in container.get("Configs") or []
                         if c.get("ConfigName") not in own_configs]
        kept.volumes += [m["Source"] for m in container.get("Mounts") or []
                         if m.get("Type") == "volume" and m.get("Source")]
    kept.networks = sorted(set(kept.networks), key=natural_key)
    kept.secrets = sorted(set(kept.secrets), key=natural_key)
    kept.configs = sorted(set(kept.configs), key=natural_key)
    kept.volumes = sorted(set(kept.volumes), key=natural_key)
    return kept


# --- logs -------------------------------------------------------------------------------------


STDOUT_STREAM = 1
STDERR_STREAM = 2


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
    from urllib.parse import unquote

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


def log_prefix(task: Mapping[str, Any] | None, task_id: str, service_name: str, node: str, *,
               task_ids: bool = True, full_ids: bool = False) -> str:
    """`<service>.<slot>.<task id>@<node>` as `docker service logs` prints it
    (`--no-task-ids`: without the task ID; `--no-trunc`: the full task ID)."""
    slot = (task or {}).get("Slot") or 0
    if not task_ids:
        return f"{service_name}.{slot}@{node}"
    return f"{service_name}.{slot}.{task_id if full_ids else task_id[:12]}@{node}"


_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_since(value: str, now: datetime) -> str:
    """`--since` as the engine wants it (UNIX seconds): a Go duration (`10m`, `1h30m`) counts back
    from `now`; an RFC 3339 time or a UNIX timestamp is taken as is."""
    text = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return text
    if re.fullmatch(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", text):
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_RE.findall(text))
        return f"{now.timestamp() - seconds:.6f}"
    when = parse_time(text if "T" in text else f"{text}T00:00:00Z")
    if when is None:
        raise UsageError(f"invalid --since {value!r} (expected a duration like 10m, an RFC 3339 time "
                         "or a UNIX timestamp)")
    return f"{when.timestamp():.6f}"
