"""The agent over an environment of many swarms (`project:` + `env:` whose environment lists `targets:`):
a commit rolls out through the waves with the fan-out driver, on one fake gateway per target, a fake
git source and a fake wait (the lab test, tests/integration/test_agent_fanout.py, waits for real)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.agent.config import load_config
from stackctl.agent.core import DRIFT, POLL, START, SYNC, Agent, PassResult
from stackctl.apply.rollout import RolloutReport
from stackctl.errors import EXIT_DEPLOY_FAILED, EXIT_ERROR, EXIT_OK, EXIT_ROLLED_BACK
from stackctl.history import list_revisions
from tests.unit.agent.test_core import FakeSource
from tests.unit.fake_engine import FakeEngine

TARGETS = ("canary", "eu", "us")
PROJECT = """\
version: "1"
stack: ignored
files: [app/app.yml]
environments:
  prod:
    targets:
      - {name: canary, host: "tcp://canary:2376", labels: {tier: canary}}
      - {name: eu, host: "tcp://eu:2376", labels: {tier: main}, variables: {REGION: eu}}
      - {name: us, host: "tcp://us:2376", labels: {tier: main}, variables: {REGION: us}}
    rollout:
      waves:
        - {targets: [canary]WAVE1}
        - {labels: {tier: main}, max_parallel: 2}
      on_failure: rollback_wave
"""


class FanoutSource(FakeSource):
    """Commits are folders: a stackctl.yml with three targets and the stack file it names."""

    def push(self, version: str, message: str = "change", wave1: str = "") -> str:  # type: ignore[override]
        sha = f"{len(self.commits) + 1:040x}"
        tree = self.root / sha
        (tree / "app").mkdir(parents=True)
        doc = {"version": "3.8", "services": {"web": {
            "image": f"busybox:{version}", "environment": {"REGION": "${REGION:-none}"},
            "deploy": {"replicas": 0}}}}
        (tree / "app" / "app.yml").write_text(yaml.safe_dump(doc))
        (tree / "stackctl.yml").write_text(PROJECT.replace("WAVE1", wave1))
        (tree / "message").write_text(message)
        self.commits.append(sha)
        return sha


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """Per target, the exit codes its next waits report (EXIT_OK when none is left)."""
    codes: dict[str, list[int]] = {}

    def fake_wait(engine: Any, *args: Any, **kwargs: Any) -> RolloutReport:
        queue = codes.get(getattr(engine, "target", ""), [])
        return RolloutReport(queue.pop(0) if queue else EXIT_OK)

    monkeypatch.setattr("stackctl.deploy._wait", fake_wait)
    return codes


def make_agent(tmp_path: Path, extra: str = "", engines: dict[str, FakeEngine] | None = None
               ) -> tuple[Agent, FanoutSource, dict[str, FakeEngine], list[PassResult]]:
    path = tmp_path / "agent.yml"
    path.write_text("sources:\n  - url: file:///srv/stacks.git\nstacks:\n  - name: shop\n"
                    "    project: stackctl.yml\n    env: prod\n    resolve_image: never\n" + extra)
    source = FanoutSource(tmp_path / "git")
    if engines is None:
        engines = {}
        for name in TARGETS:
            engines[name] = FakeEngine()
            engines[name].target = name  # type: ignore[attr-defined]
    agent = Agent(load_config(str(path)), engine_factory=FakeEngine, sources={"default": source},
                  log=lambda line: None, target_engines=engines)  # type: ignore[dict-item]
    results: list[PassResult] = []
    agent.listeners.append(results.append)
    return agent, source, engines, results


def writes(fake: FakeEngine) -> list[tuple[str, str]]:
    return [c for c in fake.calls if c[0] in ("create", "update", "remove")]


def image(fake: FakeEngine) -> str:
    (svc,) = fake.store["service"].values()
    return str(svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"])


def test_a_commit_rolls_out_wave_by_wave_and_unchanged_passes_write_nothing(
        tmp_path: Path, waits: dict[str, list[int]], monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl import deploy as layer

    order: list[tuple[str, bool]] = []
    real = layer.deploy

    def spy(request: Any, opts: Any, **kw: Any) -> Any:
        order.append(((request.rollout or {}).get("target", ""), opts.plan_only))
        return real(request, opts, **kw)

    monkeypatch.setattr(layer, "deploy", spy)
    agent, source, engines, results = make_agent(tmp_path)
    sha = source.push("1", "first")
    assert agent.pass_all(START) == EXIT_OK
    written = [t for t, plan_only in order if not plan_only]
    assert written[0] == "canary" and sorted(written[1:]) == ["eu", "us"]
    state = agent.states["shop"]
    assert state.status == "synced" and state.commit is not None and state.commit.sha == sha
    assert [(r.name, r.wave, r.status, r.commit) for r in state.targets.values()] == [
        ("canary", 1, "deployed", sha), ("eu", 2, "deployed", sha), ("us", 2, "deployed", sha)]
    for name, fake in engines.items():
        (rev,) = list_revisions(fake, "shop")  # the agent's stack name, not the project's
        assert rev.rollout["id"] == state.rollout_id and rev.rollout["target"] == name
        assert rev.git["commit"] == sha and rev.git["subject"] == "first"
        assert rev.files == ["app/app.yml"]  # the repository's path
        region = rev.config["services"]["web"]["environment"]["REGION"]
        assert region == ("none" if name == "canary" else name)  # each target's variables
    doc = state.to_json()
    assert doc["rollout_id"] == state.rollout_id
    assert [(t["target"], t["wave"], t["status"], t["commit"]) for t in doc["targets"]] == [
        ("canary", 1, "deployed", sha), ("eu", 2, "deployed", sha), ("us", 2, "deployed", sha)]
    assert results[-1].wrote and [t["target"] for t in results[-1].targets] == list(TARGETS)
    before = {n: len(writes(f)) for n, f in engines.items()}
    for _ in range(20):
        assert agent.pass_all(POLL) == EXIT_OK
    assert {n: len(writes(f)) for n, f in engines.items()} == before  # zero writes anywhere
    assert not any(r.wrote for r in results[1:])


def test_a_failing_canary_is_rolled_back_later_waves_untouched_not_retried(
        tmp_path: Path, waits: dict[str, list[int]]) -> None:
    agent, source, engines, results = make_agent(tmp_path)
    good = source.push("1")
    agent.pass_all(START)
    before = {n: len(writes(engines[n])) for n in ("eu", "us")}
    bad = source.push("2", "bad image")
    waits["canary"] = [EXIT_DEPLOY_FAILED]  # the canary's wait fails; its rollback's wait passes
    assert agent.pass_all(POLL) == EXIT_ROLLED_BACK
    state = agent.states["shop"]
    assert state.status == "rolled back" and state.failed_commit == bad
    assert state.commit is not None and state.commit.sha == good
    rows = state.targets
    assert rows["canary"].status == "rolled back" and rows["canary"].rollback == "rolled back to revision 1"
    assert rows["canary"].commit == good
    assert rows["eu"].status == rows["us"].status == "not started" and rows["eu"].commit == good
    assert (rows["canary"].revision, rows["eu"].revision) == (3, 1)  # deploy, failed deploy, rollback
    assert image(engines["canary"]) == "busybox:1"
    assert {n: len(writes(engines[n])) for n in ("eu", "us")} == before
    assert "target canary" in state.message
    counts = {n: len(writes(f)) for n, f in engines.items()}
    for _ in range(5):
        agent.pass_all(POLL)  # no retry loop
    assert {n: len(writes(f)) for n, f in engines.items()} == counts
    assert sum(1 for r in results if r.wrote and r.status == "rolled back") == 1
    failed = [r for r in results if r.wrote and r.status == "rolled back"][0]
    assert [(t["target"], t["status"]) for t in failed.targets] == [
        ("canary", "rolled back"), ("eu", "not started"), ("us", "not started")]
    # a restarted agent reads the failure from the targets' histories: still not retried
    again = Agent(agent.config, engine_factory=FakeEngine, sources=agent.sources, log=lambda line: None,
                  target_engines=engines)  # type: ignore[arg-type]
    assert again.pass_all(START) == EXIT_ROLLED_BACK
    assert again.states["shop"].failed_commit == bad
    assert again.states["shop"].commit is not None and again.states["shop"].commit.sha == good
    assert again.states["shop"].targets["canary"].revision == 3
    assert {n: len(writes(f)) for n, f in engines.items()} == counts
    fixed = source.push("3", "fixed")
    assert agent.pass_all(POLL) == EXIT_OK
    assert state.status == "synced" and state.commit is not None and state.commit.sha == fixed
    assert all(image(f) == "busybox:3" for f in engines.values())


def test_a_failing_gate_after_the_canary_is_read_back_as_failed(tmp_path: Path, waits: dict[str, list[int]]
                                                                ) -> None:
    agent, source, engines, _ = make_agent(tmp_path)
    source.push("1")
    agent.pass_all(START)
    bad = source.push("2", wave1=', gates: [{command: "exit 1"}]')
    assert agent.pass_all(POLL) == EXIT_ROLLED_BACK
    assert "gate command 'exit 1'" in agent.states["shop"].message
    again = Agent(agent.config, engine_factory=FakeEngine, sources=agent.sources, log=lambda line: None,
                  target_engines=engines)  # type: ignore[arg-type]
    again.pass_all(START)
    assert again.states["shop"].failed_commit == bad and again.states["shop"].status == "rolled back"


def test_drift_on_one_target_is_reported_then_healed_there_only(tmp_path: Path, waits: dict[str, list[int]]
                                                                 ) -> None:
    agent, source, engines, results = make_agent(tmp_path)
    sha = source.push("1")
    agent.pass_all(START)
    (svc,) = engines["eu"].store["service"].values()
    svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] = ["REGION=eu", "DEBUG=1"]
    svc["Version"]["Index"] += 1
    assert agent.pass_source("default", DRIFT, only="shop") == EXIT_OK
    state = agent.states["shop"]
    assert state.status == "drifted" and state.drift and state.drift[0].startswith("eu/web: environment")
    assert state.targets["eu"].drift and not state.targets["canary"].drift
    counts = {n: len(writes(f)) for n, f in engines.items()}
    assert agent.pass_source("default", SYNC, only="shop") == EXIT_OK  # a sync heals
    assert state.status == "synced" and not state.targets["eu"].drift
    now = {n: len(writes(f)) for n, f in engines.items()}
    assert now["canary"] == counts["canary"] and now["us"] == counts["us"] and now["eu"] > counts["eu"]
    revs = list_revisions(engines["eu"], "shop")
    assert revs[-1].note == f"sync of git {sha[:12]}" and revs[-1].rollout["target"] == "eu"
    assert len(list_revisions(engines["canary"], "shop")) == 1


def test_an_unreachable_target_with_nothing_to_roll_out_is_tried_again(
        tmp_path: Path, waits: dict[str, list[int]]) -> None:
    from stackctl.errors import DOWN, EngineError

    agent, source, engines, results = make_agent(tmp_path)
    source.push("1")
    agent.pass_all(START)
    engines["us"].failures[("info", "")] = EngineError("cannot connect to tcp://us", failure=DOWN)
    assert agent.pass_all(POLL) == EXIT_ERROR
    state = agent.states["shop"]
    assert state.status == "error" and state.failed_commit is None and "target us" in state.message
    assert agent.pass_all(POLL) == EXIT_OK and state.status == "synced"


def test_manual_apply_holds_the_whole_rollout_until_approved(tmp_path: Path, waits: dict[str, list[int]]
                                                             ) -> None:
    agent, source, engines, _ = make_agent(tmp_path, "    apply: manual\n")
    sha = source.push("1")
    agent.pass_all(START)
    state = agent.states["shop"]
    assert state.status == "waiting for approval" and all(not writes(f) for f in engines.values())
    assert state.plan_summary == "2 to create"  # every target's plan is the same: said once
    assert agent.approve("shop") == sha
    from stackctl.agent.core import APPROVE

    assert agent.pass_source("default", APPROVE, only="shop") == EXIT_OK
    assert all(r.status == "deployed" for r in state.targets.values())


def test_the_page_metrics_and_notification_show_each_target(tmp_path: Path, waits: dict[str, list[int]]
                                                            ) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from stackctl.agent.metrics import Metrics
    from stackctl.agent.notify import message
    from stackctl.agent.page import status_page

    agent, source, engines, results = make_agent(tmp_path)
    metrics = Metrics(agent)
    source.push("1")
    agent.pass_all(START)
    source.push("2", "bad")
    waits["canary"] = [EXIT_DEPLOY_FAILED]
    agent.pass_all(POLL)
    page = status_page(list(agent.states.values()), {"default": "file:///srv/stacks.git"}, {})
    assert 'id="stack-shop-target-canary"' in page and "rolled back to revision 1" in page
    assert page.count('class="target"') == 3 and "not started" in page
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in text_string_to_metric_families(metrics.text().decode()) for s in f.samples}
    key = ("stackctl_agent_target_status",
           (("stack", "shop"), ("status", "rolled back"), ("target", "canary"), ("wave", "1")))
    assert samples[key] == 1.0
    assert samples[("stackctl_agent_target_status", (("stack", "shop"), ("status", "not started"),
                                                     ("target", "us"), ("wave", "2")))] == 1.0
    body = message(results[-1])
    assert body["rollout_id"] == agent.states["shop"].rollout_id
    assert [(t["target"], t["status"]) for t in body["targets"]] == [
        ("canary", "rolled back"), ("eu", "not started"), ("us", "not started")]
    assert "canary: rolled back, eu: not started, us: not started" in body["text"]
    json.dumps(body)


def test_stopping_interrupts_each_targets_wait_once() -> None:
    from stackctl.apply.rollout import PROGRESS, RolloutEvent
    from stackctl.fanout.driver import TargetEvent

    agent = Agent.__new__(Agent)
    import threading

    agent.stopping = threading.Event()
    callback = agent._interrupt_when_stopping()
    agent.stopping.set()
    for target in ("eu", "us"):
        with pytest.raises(KeyboardInterrupt):
            callback(TargetEvent(target, RolloutEvent(PROGRESS, "rollout")))
        callback(TargetEvent(target, RolloutEvent(PROGRESS, "rollout")))  # once per target


def test_the_runner_follows_the_events_of_each_targets_swarm_once(tmp_path: Path, waits: dict[str, list[int]]
                                                                  ) -> None:
    from stackctl.agent.runner import Worker

    agent, source, engines, _ = make_agent(tmp_path)
    source.push("1")
    followed: list[tuple[str | None, str | None]] = []
    worker = Worker(agent, follow=followed.append)
    worker.trigger("default", None, START)
    worker.step(timeout=0.01)
    assert sorted(followed, key=str) == [(None, f"tcp://{n}:2376") for n in TARGETS]
    worker.trigger("default", None, POLL)
    worker.step(timeout=0.01)
    assert len(followed) == 3  # once per swarm


def test_an_interrupted_wait_stops_the_rollout_without_the_policy_and_is_tried_again(
        tmp_path: Path, waits: dict[str, list[int]]) -> None:
    from stackctl.errors import EXIT_INTERRUPTED

    agent, source, engines, _ = make_agent(tmp_path)
    source.push("1")
    agent.pass_all(START)
    second = source.push("2")
    waits["canary"] = [EXIT_INTERRUPTED]  # the agent stopping (SIGTERM) during the canary's wait
    assert agent.pass_all(POLL) == EXIT_INTERRUPTED
    state = agent.states["shop"]
    assert state.status == "interrupted" and state.failed_commit is None
    assert state.targets["canary"].rollback == "" and image(engines["canary"]) == "busybox:2"  # no rollback
    assert state.targets["eu"].status == "not started" and image(engines["eu"]) == "busybox:1"
    assert agent.pass_all(POLL) == EXIT_OK  # the next pass rolls the commit out again
    assert state.commit is not None and state.commit.sha == second
    assert all(image(f) == "busybox:2" for f in engines.values())


def test_a_target_down_stops_the_rollout_before_its_wave_and_the_next_trigger_finishes(
        tmp_path: Path, waits: dict[str, list[int]]) -> None:
    from stackctl.errors import DOWN, EngineError

    agent, source, engines, results = make_agent(tmp_path)
    source.push("1")
    agent.pass_all(START)
    second = source.push("2")
    down = EngineError("cannot connect to tcp://us", failure=DOWN)
    real_info = engines["us"].info

    def us_down() -> Any:
        raise down

    engines["us"].info = us_down  # type: ignore[method-assign]  # the canary has changes: the rollout goes
    assert agent.pass_all(POLL) == EXIT_ERROR
    state = agent.states["shop"]
    assert state.status == "error" and state.failed_commit is None  # tried again, not failed
    assert state.targets["canary"].status == "deployed" and state.targets["us"].status == "unreachable"
    assert image(engines["canary"]) == "busybox:2" and image(engines["eu"]) == "busybox:1"
    assert results[-1].wrote  # the canary was written: one notification
    agent.pass_all(POLL)
    assert not results[-1].wrote  # the same stop again, nothing written: no notification
    engines["us"].info = real_info  # type: ignore[method-assign]
    assert agent.pass_all(POLL) == EXIT_OK
    assert state.commit is not None and state.commit.sha == second
    assert all(image(f) == "busybox:2" for f in engines.values())


def test_a_stack_of_one_swarm_follows_the_agents_own_engine(tmp_path: Path, waits: dict[str, list[int]]
                                                            ) -> None:
    from stackctl.agent.core import LOCAL_SWARM
    from stackctl.agent.runner import Worker
    from tests.unit.agent.test_core import make_agent as make_single

    agent, source, _, _ = make_single(tmp_path)
    source.push({"V": "1"})
    followed: list[tuple[str | None, str | None]] = []
    worker = Worker(agent, follow=followed.append)
    worker.trigger("default", None, START)
    worker.step(timeout=0.01)
    assert followed == [LOCAL_SWARM]


def test_readiness_does_not_need_the_agents_own_engine_for_stacks_of_many_swarms(
        tmp_path: Path, waits: dict[str, list[int]]) -> None:
    from stackctl.errors import DOWN, EngineError

    agent, source, _, _ = make_agent(tmp_path)

    def no_engine() -> FakeEngine:
        raise EngineError("no engine here", failure=DOWN)

    agent._engine_factory = no_engine
    assert agent.ready() == (False, ["git: default: not fetched yet", "engine: no engine here"])
    source.push("1")
    assert agent.pass_all(START) == EXIT_OK
    assert agent.ready() == (True, [])
