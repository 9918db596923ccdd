"""A deploy lock held in the swarm itself, so two deploys of one stack never interleave.

The lock is a config named `stackctl-lock-STACK`: config names are unique in a swarm, so
creating it is atomic, and every client of that swarm sees it, whatever machine it runs on.
Its labels say who holds it (user@host, pid) and since when. It deliberately carries no
stack namespace label, so `docker stack rm` and pruning never touch it. A lock older than
its TTL belongs to a deploy that died and may be taken over; `stackctl unlock STACK` removes
one by hand.

This module prints nothing: what a lock has to say while it is taken (another deploy holds it; its
holder's process is gone and the lock is taken over) goes to `on_event` as a `LockEvent`, and
`render/lock.py` words it.
"""

from __future__ import annotations

import base64
import getpass
import json
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, TypeAlias

from stackctl.errors import EngineError, StackctlError
from stackctl.names import LOCK_HOLDER_LABEL as HOLDER_LABEL
from stackctl.names import LOCK_PREFIX
from stackctl.names import LOCK_PROCESS_LABEL as PROCESS_LABEL
from stackctl.names import LOCK_SINCE_LABEL as SINCE_LABEL
from stackctl.names import LOCK_STACK_LABEL as STACK_LABEL
from stackctl.names import LOCK_TOKEN_LABEL as TOKEN_LABEL
from stackctl.names import LOCK_TTL_LABEL as TTL_LABEL
from stackctl.units import elapsed

if TYPE_CHECKING:
    from stackctl.engine import Engine

DEFAULT_TTL = 15 * 60.0
DEFAULT_TIMEOUT = 60.0


class LockError(StackctlError):
    """Another deploy holds the stack's lock."""


@dataclass
class LockInfo:
    name: str
    id: str
    version: int
    holder: str
    since: float  # epoch seconds
    token: str
    process: str = ""
    ttl: float = 0.0  # the holder's own TTL (0: not said, the reader's applies)

    @property
    def age(self) -> float:
        return max(0.0, time.time() - self.since)

    def describe(self) -> str:
        stamp = datetime.fromtimestamp(self.since, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.holder} since {stamp} ({elapsed(self.age)} ago)"


@dataclass(frozen=True)
class LockBusy:
    """Another deploy holds the lock: said once, before waiting for it."""

    stack: str
    holder: LockInfo


@dataclass(frozen=True)
class LockTakenOver:
    """The lock's holder was a process of this machine that no longer runs: its lock is removed."""

    stack: str
    holder: LockInfo


LockEvent: TypeAlias = "LockBusy | LockTakenOver"


def lock_name(stack: str) -> str:
    return LOCK_PREFIX + stack


def holder_identity() -> str:
    try:
        user = getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in some containers
        user = str(os.getuid())
    return f"{user}@{socket.gethostname()} pid {os.getpid()}"


def _process_start(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def process_identity(pid: int | None = None) -> str:
    """This machine's boot, this pid namespace, the pid and its start time: enough to tell
    later, on this same machine, that the process is gone (and not a reused pid). "" off Linux."""
    pid = os.getpid() if pid is None else pid
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            boot = fh.read().strip()
        pidns = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return ""
    start = _process_start(pid)
    return f"{boot}:{pidns}:{pid}:{start}" if start else ""


def holder_is_gone(info: LockInfo) -> bool:
    """True when the lock was taken by a process of this machine (same boot, same pid namespace)
    that no longer runs: its deploy died (killed, or its engine vanished before it could unlock)."""
    try:
        boot, pidns, pid, start = info.process.split(":")
    except ValueError:
        return False
    mine = process_identity()
    if not mine or mine.split(":")[:2] != [boot, pidns] or int(pid) == os.getpid():
        return False
    return _process_start(int(pid)) != start


def _number(text: str | None) -> float:
    try:
        return float(text or "0")
    except ValueError:
        return 0.0


def read_lock(engine: Engine, stack: str) -> LockInfo | None:
    """The current lock of `stack`, or None."""
    name = lock_name(stack)
    for raw in engine.objects("config", {"name": [name]}):
        spec = raw.get("Spec") or {}
        if spec.get("Name") != name:
            continue
        labels = spec.get("Labels") or {}
        return LockInfo(name=name, id=raw["ID"], version=int((raw.get("Version") or {}).get("Index", 0)),
                        holder=labels.get(HOLDER_LABEL, "unknown"), since=_number(labels.get(SINCE_LABEL)),
                        token=labels.get(TOKEN_LABEL, ""), process=labels.get(PROCESS_LABEL, ""),
                        ttl=_number(labels.get(TTL_LABEL)))
    return None


class StackLock:
    """Context manager: `with StackLock(engine, stack, timeout=60): ...`."""

    def __init__(self, engine: Engine, stack: str, *, timeout: float = DEFAULT_TIMEOUT,
                 ttl: float = DEFAULT_TTL, on_event: Callable[[LockEvent], None] | None = None,
                 poll: float = 1.0) -> None:
        self.engine = engine
        self.stack = stack
        self.timeout = timeout
        self.ttl = ttl
        self.on_event = on_event
        self.poll = poll
        self.token = uuid.uuid4().hex
        self.holder = holder_identity()
        self.id: str | None = None

    def _create(self) -> bool:
        """Try to create the lock config; False when it exists."""
        spec = {
            "Name": lock_name(self.stack),
            "Labels": {HOLDER_LABEL: self.holder, SINCE_LABEL: f"{time.time():.3f}", TOKEN_LABEL: self.token,
                       STACK_LABEL: self.stack, PROCESS_LABEL: process_identity(),
                       TTL_LABEL: f"{self.ttl:.0f}"},
            "Data": base64.b64encode(
                json.dumps({"holder": self.holder, "stack": self.stack}).encode()).decode(),
        }
        try:
            created = self.engine.create("config", spec)
        except EngineError as err:
            if err.conflict:  # the name exists: someone holds the lock
                return False
            raise err.during(f"take the deploy lock of stack {self.stack}") from None
        self.id = created.get("ID")
        return True

    def acquire(self) -> None:
        deadline = time.monotonic() + max(0.0, self.timeout)
        told = False
        while True:
            if self._create():
                return
            current = read_lock(self.engine, self.stack)
            if current is None:
                continue  # released between our create and our read
            if current.age > max(self.ttl, current.ttl):  # the holder may have said it needs longer
                _remove(self.engine, current)
                continue
            if holder_is_gone(current):
                if self.on_event is not None:
                    self.on_event(LockTakenOver(self.stack, current))
                _remove(self.engine, current)
                continue
            if time.monotonic() >= deadline:
                raise LockError(
                    f"stack {self.stack} is locked by another deploy: {current.describe()}",
                    exit_code=1,
                    diagnostics=[],
                ) from None
            if not told and self.on_event is not None:
                self.on_event(LockBusy(self.stack, current))
                told = True
            time.sleep(min(self.poll, max(0.05, deadline - time.monotonic())))

    def release(self) -> None:
        if not self.id:
            return
        try:
            current = read_lock(self.engine, self.stack)
            if current is not None and current.token == self.token:
                _remove(self.engine, current)
        except Exception:  # noqa: BLE001 - never hide the deploy's own outcome; TTL covers the rest
            pass
        self.id = None

    def __enter__(self) -> StackLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _remove(engine: Engine, info: LockInfo) -> None:
    try:
        engine.remove("config", info.id)
    except EngineError as err:
        if not err.not_found:  # gone already: released by its holder meanwhile
            raise


def unlock(engine: Engine, stack: str) -> LockInfo | None:
    """Remove the lock of `stack` (whoever holds it); returns what was removed."""
    info = read_lock(engine, stack)
    if info is not None:
        _remove(engine, info)
    return info
