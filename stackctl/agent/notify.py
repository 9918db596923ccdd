"""Notifications: one JSON message per outcome to each `notify:` URL, in the background.

The body has `stack`, `commit`, `status`, `plan` and a Slack-compatible `text`. Sending never
blocks a pass: messages go to a queue that a thread empties, each retried with backoff (1, 2, 4, 8 s)
and then dropped with one log line. Unchanged passes send nothing. A webhook URL is a credential
(Slack's are): logs name its host only.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from stackctl.agent.config import NotifyConfig
from stackctl.agent.core import PassResult

BACKOFF = (1.0, 2.0, 4.0, 8.0)


def message(result: PassResult) -> dict[str, Any]:
    commit = (result.commit or "")[:12]
    icon = {"deployed": "✅", "drift healed": "🩹"}.get(result.status, "❌")
    text = f"{icon} stack {result.stack}: {result.status}"
    if commit:
        text += f" at git {commit}" + (f' "{result.subject}"' if result.subject else "")
    if result.plan_summary:
        text += f" ({result.plan_summary})"
    if result.message and result.status not in ("deployed", "drift healed"):
        text += f": {result.message}"
    if result.targets:  # a rollout: each target's outcome, in wave order
        text += " — " + ", ".join(f"{t['target']}: {t['status']}" for t in result.targets)
    return {
        "schema": "stackctl.agent.notification/v1",
        "stack": result.stack,
        "commit": result.commit,
        "status": result.status,
        "exit_code": result.exit_code,
        "plan": result.plan_summary,
        "subject": result.subject,
        "reason": result.reason,
        "drift": list(result.drift),
        "rollout_id": result.rollout_id,
        "targets": [
            {k: t.get(k) for k in ("target", "wave", "status", "commit", "revision", "message", "rollback")}
            for t in result.targets
        ],
        "text": text,
    }


def host_of(url: str) -> str:
    return urlsplit(url).hostname or "?"


class Notifier:
    """Sends messages from a daemon thread; `sent`/`dropped` count them (tests, logs)."""

    def __init__(
        self,
        targets: tuple[NotifyConfig, ...],
        log: Callable[[str], None],
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.targets = targets
        self.log = log
        self.sleep = sleep
        self.queue: queue.Queue[tuple[NotifyConfig, bytes] | None] = queue.Queue()
        self.sent = 0
        self.dropped = 0
        self._thread: threading.Thread | None = None

    def on_pass(self, result: PassResult) -> None:
        if not result.wrote or not self.targets:
            return
        body = json.dumps(message(result)).encode()
        for target in self.targets:
            self.queue.put((target, body))
        self._start()

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="agent-notify", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            self.deliver(*item)

    def deliver(self, target: NotifyConfig, body: bytes) -> bool:
        problem = ""
        for attempt in range(len(BACKOFF) + 1):
            req = urllib.request.Request(
                target.url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": "stackctl-agent"},
            )
            try:
                with urllib.request.urlopen(req, timeout=target.timeout) as resp:
                    if 200 <= resp.status < 300:
                        self.sent += 1
                        return True
                    problem = f"HTTP {resp.status}"
            except urllib.error.HTTPError as err:
                problem = f"HTTP {err.code}"
                if 400 <= err.code < 500 and err.code not in (408, 429):
                    break  # the receiver refuses this message: sending it again will not help
            except (urllib.error.URLError, OSError) as err:
                problem = str(getattr(err, "reason", err))
            if attempt < len(BACKOFF):
                self.sleep(BACKOFF[attempt])
        self.dropped += 1
        self.log(f'stackctl-agent event=notify-failed host={host_of(target.url)} error="{problem}"')
        return False

    def close(self) -> None:
        self.queue.put(None)
