"""The agent's Prometheus metrics (prometheus_client), on a registry of its own.

Per stack: `stackctl_agent_stack_status{stack,status}` (1 for the current status), the last applied
commit as an info metric, the last sync time, the sync duration histogram, failures, drifted
services; and webhook requests by provider and result. Nothing secret is a label: commit SHAs,
subjects and stack names only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from stackctl.agent.core import FAILURE_STATUSES, PENDING, STATUSES, PassResult
from stackctl.fanout import driver

# a target's outcome in the last rollout (the fan-out driver's words); pending before its first
TARGET_STATUSES = (PENDING, driver.DEPLOYED, driver.UP_TO_DATE, driver.FAILED, driver.UNREACHABLE,
                   driver.NOT_STARTED, driver.ROLLED_BACK)

if TYPE_CHECKING:
    from stackctl.agent.core import Agent

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StateCollector(Collector):
    """Gauges read from the agent's state at scrape time (always consistent with the API)."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def collect(self) -> Iterable[Metric]:
        status = GaugeMetricFamily(
            "stackctl_agent_stack_status", "1 for the stack's current status", labels=["stack", "status"]
        )
        commit = InfoMetricFamily(
            "stackctl_agent_last_applied_commit", "The last commit applied to the stack", labels=["stack"]
        )
        last = GaugeMetricFamily(
            "stackctl_agent_last_sync_timestamp_seconds",
            "When the stack was last compared with git (Unix time)",
            labels=["stack"],
        )
        drift = GaugeMetricFamily(
            "stackctl_agent_drift", "Services of the stack that differ from git", labels=["stack"]
        )
        git_up = GaugeMetricFamily(
            "stackctl_agent_git_up", "1 when the source's last fetch worked", labels=["source"]
        )
        target = GaugeMetricFamily(
            "stackctl_agent_target_status",
            "An environment of many swarms: 1 for each target's outcome in the last rollout",
            labels=["stack", "target", "wave", "status"],
        )
        target_commit = InfoMetricFamily(
            "stackctl_agent_target_commit", "The commit each target runs", labels=["stack", "target"]
        )
        for name, state in sorted(self.agent.states.items()):
            for value in STATUSES:
                status.add_metric([name, value], 1.0 if state.status == value else 0.0)
            if state.commit is not None:
                commit.add_metric(
                    [name],
                    {
                        "commit": state.commit.sha,
                        "author": state.commit.author,
                        "subject": state.commit.subject[:200],
                    },
                )
            if state.last_sync is not None:
                last.add_metric([name], state.last_sync)
            drift.add_metric([name], float(len(state.drift)))
            for row in list(state.targets.values()):
                for value in TARGET_STATUSES:
                    labels = [name, row.name, str(row.wave), value]
                    target.add_metric(labels, 1.0 if row.status == value else 0.0)
                if row.commit:
                    target_commit.add_metric([name, row.name], {"commit": row.commit})
        for source in self.agent.config.sources:
            err = self.agent.git_errors.get(source.name)
            git_up.add_metric([source.name], 1.0 if err == "" else 0.0)
        yield from (status, commit, last, drift, git_up, target, target_commit)


class Metrics:
    def __init__(self, agent: Agent) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_StateCollector(agent))
        self.duration = Histogram(
            "stackctl_agent_sync_duration_seconds",
            "How long a pass over a stack took",
            ["stack"],
            registry=self.registry,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
        )
        self.failures = Counter(
            "stackctl_agent_sync_failures",
            "Deploys that failed, rolled back or timed out",
            ["stack"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "stackctl_agent_webhook_requests",
            "Webhook requests by provider and result",
            ["provider", "result"],
            registry=self.registry,
        )
        for stack in agent.config.stacks:  # every stack's series exists from the start (rate() needs it)
            self.failures.labels(stack.name)
        agent.listeners.append(self.on_pass)

    def on_pass(self, result: PassResult) -> None:
        self.duration.labels(result.stack).observe(result.duration)
        if result.wrote and result.status in FAILURE_STATUSES:
            self.failures.labels(result.stack).inc()

    def webhook(self, provider: str, result: str) -> None:
        self.webhooks.labels(provider, result).inc()

    def text(self) -> bytes:
        data: bytes = generate_latest(self.registry)
        return data
