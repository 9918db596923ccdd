"""The long-running agent: a worker thread for passes, timers, the engine's events, the HTTP server.

- One worker thread runs every pass, one at a time, from a queue of triggers (start, poll, webhook,
  sync, approve, drift, window); triggers that pile up while a pass runs are merged.
- Polling: each source every `interval`; a fetch that fails is tried again with backoff (1 s, 2 s,
  4 s ... up to `interval`).
- Drift: the engine's event stream (services, networks, secrets, configs of the stacks) of every
  swarm a stack lives on (the agent's own engine; each target of an environment of many swarms)
  triggers a pass over the stack at once (reconnected when it drops), and a full check runs every
  `drift_interval` whatever the events said.
- Windows: a held stack is looked at again every few seconds and passes once its window allows.
- The HTTP server (uvicorn) runs on a thread; the main thread owns SIGTERM/SIGINT: on either, a wait
  under way is interrupted as Ctrl-C interrupts `stackctl deploy` (the writes under way end, the
  revision says "interrupted", the lock is released) and the process exits within 10 s.
"""

from __future__ import annotations

import queue
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stackctl.agent.core import DRIFT, HELD, POLL, START, WINDOW, Agent
from stackctl.errors import EXIT_OK, StackctlError
from stackctl.names import in_stack

if TYPE_CHECKING:
    from stackctl.agent.config import AgentConfig, StackConfig

HELD_RECHECK = 5.0  # seconds between looks at a stack a window holds
STOP_GRACE = 5.0  # seconds the worker gets to finish after SIGTERM
# Strongest reason first: merged triggers keep the strongest (a sync is not lost behind a poll).
_RANK = {"approve": 0, "sync": 1, "webhook": 2, "drift": 3, "window": 4, "start": 5, "poll": 6}


class Worker:
    """Runs passes from a queue, and the timers that add to it."""

    def __init__(
        self,
        agent: Agent,
        clock: Callable[[], float] = time.monotonic,
        follow: Callable[[tuple[str | None, str | None]], None] | None = None,
    ) -> None:
        self.agent = agent
        self.clock = clock
        # the targets' swarms (context, host) whose engine events are followed (`follow` starts one)
        self.follow = follow
        self.followed: set[tuple[str | None, str | None]] = set()
        self.queue: queue.Queue[tuple[str, str | None, str]] = queue.Queue()
        now = clock()
        self.next_poll = {s.name: now + s.interval for s in agent.config.sources}
        self.fetch_failures = {s.name: 0 for s in agent.config.sources}
        self.next_drift = {s.name: now + s.drift_interval for s in agent.config.stacks}
        self.next_held = now + HELD_RECHECK
        self.thread = threading.Thread(target=self.loop, name="agent-worker", daemon=True)

    def trigger(self, source: str, stack: str | None, reason: str) -> None:
        self.queue.put((source, stack, reason))

    def start(self) -> None:
        for source in self.agent.config.sources:
            self.trigger(source.name, None, START)
        self.thread.start()

    def due(self) -> None:
        """Queue what the timers say is due."""
        now = self.clock()
        for source in self.agent.config.sources:
            if now >= self.next_poll[source.name]:
                self.next_poll[source.name] = now + source.interval
                self.trigger(source.name, None, POLL)
        for stack in self.agent.config.stacks:
            if now >= self.next_drift[stack.name]:
                self.next_drift[stack.name] = now + stack.drift_interval
                self.trigger(stack.source, stack.name, DRIFT)
        if now >= self.next_held:
            self.next_held = now + HELD_RECHECK
            for stack in self.agent.config.stacks:
                if self.agent.states[stack.name].status == HELD and self.agent.window_verdict(stack).allowed:
                    self.trigger(stack.source, stack.name, WINDOW)

    def take(self, timeout: float) -> list[tuple[str, str | None, str]]:
        """The queued triggers, merged: one per (source, stack), whole-source triggers absorbing the rest."""
        try:
            first = self.queue.get(timeout=timeout)
        except queue.Empty:
            return []
        items = [first]
        while True:
            try:
                items.append(self.queue.get_nowait())
            except queue.Empty:
                break
        merged: dict[tuple[str, str | None], str] = {}
        for source, stack, reason in items:
            key = (source, stack)
            if key not in merged or _RANK.get(reason, 9) < _RANK.get(merged[key], 9):
                merged[key] = reason
        out = []
        for (source, stack), reason in merged.items():
            if (
                stack is not None
                and (source, None) in merged
                and _RANK.get(reason, 9) >= _RANK.get(merged[(source, None)], 9)
            ):
                continue  # the whole source passes anyway, for as strong a reason
            out.append((source, stack, reason))
        return sorted(out, key=lambda t: _RANK.get(t[2], 9))

    def step(self, timeout: float = 0.5) -> None:
        self.due()
        for source, stack, reason in self.take(timeout):
            if self.agent.stopping.is_set():
                return
            self.agent.pass_source(source, reason, only=stack)
            self._after_fetch(source)
        self._follow_new_swarms()

    def _follow_new_swarms(self) -> None:
        """Each swarm a stack lives on (the agent's own engine, a target's) gets an event follower once,
        after the pass that named it (drift at once)."""
        if self.follow is None:
            return
        for swarms in list(self.agent.stack_swarms.values()):
            for swarm in sorted(swarms - self.followed, key=str):
                self.followed.add(swarm)
                self.follow(swarm)

    def _after_fetch(self, source: str) -> None:
        """A failed fetch is tried again soon, with backoff; a good one resets it."""
        interval = self.agent.config.source(source).interval
        if self.agent.git_errors.get(source):
            self.fetch_failures[source] += 1
            delay = min(interval, 2.0 ** (self.fetch_failures[source] - 1))
            self.next_poll[source] = min(self.next_poll[source], self.clock() + delay)
        else:
            self.fetch_failures[source] = 0

    def loop(self) -> None:
        while not self.agent.stopping.is_set():
            try:
                self.step()
            except Exception as err:  # noqa: BLE001 - the worker must outlive any one pass
                self.agent.log(event="worker-error", error=f"{type(err).__name__}: {err}")
                time.sleep(1.0)


class EventFollower:
    """Follows the engine's events for the agent's stacks; a change triggers a drift pass."""

    def __init__(
        self, agent: Agent, worker: Worker, swarm: tuple[str | None, str | None] = (None, None)
    ) -> None:
        self.agent = agent
        self.worker = worker
        self.swarm = swarm  # (context, host): the agent's own engine when both are None
        self.names = {s.name: s for s in agent.config.stacks}
        self.thread = threading.Thread(target=self.loop, name="agent-events", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def loop(self) -> None:
        delay = 1.0
        while not self.agent.stopping.is_set():
            try:
                from stackctl.engine import open_engine

                context, host = self.swarm
                engine = open_engine(context, False, host=host)
                delay = 1.0
                for event in engine.events({"type": ["service", "network", "secret", "config"]}):
                    if self.agent.stopping.is_set():
                        return
                    self.on_event(event)
            except Exception as err:  # noqa: BLE001 - reconnect whatever broke the stream
                self.agent.log(
                    event="events-dropped",
                    swarm=self.swarm[0] or self.swarm[1],
                    error=str(err).splitlines()[0] if str(err) else "closed",
                )
            if self.agent.stopping.wait(delay):
                return
            delay = min(delay * 2, 30.0)

    def stack_of(self, name: str) -> StackConfig | None:
        """The agent's stack an object name belongs to (`STACK_web`; the longest stack name wins)."""
        best = None
        for stack in self.names.values():
            if in_stack(stack.name, name) and (best is None or len(stack.name) > len(best.name)):
                best = stack
        return best

    def on_event(self, event: dict[str, Any]) -> None:
        # swarm events name the object only (no labels): the stack is the name's prefix, as the
        # docker CLI names a stack's objects
        attrs = (event.get("Actor") or {}).get("Attributes") or {}
        stack = self.stack_of(str(attrs.get("name", "")))
        if stack is None:
            return  # not one of the agent's stacks
        if event.get("Action") in ("update", "remove", "create"):
            self.worker.trigger(stack.source, stack.name, DRIFT)


def _listen(config: AgentConfig) -> socket.socket:
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((config.host, config.port))
    except OSError as err:
        sock.close()
        raise StackctlError(f"cannot listen on {config.host}:{config.port}: {err.strerror}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def serve(config: AgentConfig) -> int:
    """`stackctl agent run`: until SIGTERM or Ctrl-C."""
    import uvicorn

    from stackctl.agent.metrics import Metrics
    from stackctl.agent.notify import Notifier
    from stackctl.agent.server import make_app, read_secret

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        webhook_secret = read_secret(config.webhook_secret_file)
        api_token = read_secret(config.api_token_file)
    except OSError as err:
        raise StackctlError(f"cannot read a secret file: {err.filename}: {err.strerror}") from None
    agent = Agent(config, log=log)
    metrics = Metrics(agent)
    notifier = Notifier(config.notify, log)
    agent.listeners.append(notifier.on_pass)
    worker = Worker(agent, follow=lambda swarm: EventFollower(agent, worker, swarm).start())
    app = make_app(agent, metrics, worker.trigger, webhook_secret=webhook_secret, api_token=api_token)
    sock = _listen(config)
    host, port = sock.getsockname()[:2]
    scheme = "https" if config.tls_cert_file else "http"
    log(f"stackctl-agent event=listening url={scheme}://{host}:{port} stacks={len(config.stacks)}")
    worker.start()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=3,
            lifespan="off",
            ssl_certfile=config.tls_cert_file,
            ssl_keyfile=config.tls_key_file,
        )
    )
    # uvicorn serves on a thread of its own: the main thread owns SIGTERM/SIGINT, so that stopping is
    # ours (the worker's wait is interrupted, its lock released, the process gone within 10 s).
    stop = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda signum, frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)
    }
    http = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="agent-http", daemon=True)
    http.start()
    try:
        while not stop.wait(0.5):
            if not http.is_alive():
                raise StackctlError("the HTTP server stopped")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        agent.stopping.set()
        server.should_exit = True
        worker.thread.join(STOP_GRACE)
        http.join(3.0)
        notifier.close()
        log("stackctl-agent event=stopped")
    return EXIT_OK
