"""A pass over a stack with the fake gateway, a fake git source and a fake clock (no lab, no git)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.agent.config import load_config
from stackctl.agent.core import APPROVE, POLL, START, SYNC, Agent, PassResult, worst
from stackctl.agent.gitsource import CommitInfo
from stackctl.apply.rollout import RolloutReport
from stackctl.errors import EXIT_ERROR, EXIT_OK, EXIT_ROLLED_BACK, EXIT_TIMEOUT
from tests.unit.fake_engine import FakeEngine


class FakeSource:
    """Commits are folders of files; `push` adds one."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.commits: list[str] = []
        self.fetches = 0

    def push(self, env: dict[str, str], message: str = "change") -> str:
        sha = f"{len(self.commits) + 1:040x}"
        tree = self.root / sha
        (tree / "app").mkdir(parents=True)
        doc = {
            "version": "3.8",
            "services": {"web": {"image": "busybox:latest", "environment": env, "deploy": {"replicas": 0}}},
        }
        (tree / "app" / "stack.yml").write_text(yaml.safe_dump(doc))
        (tree / "message").write_text(message)
        self.commits.append(sha)
        return sha

    def fetch(self) -> str:
        self.fetches += 1
        return self.commits[-1]

    def commit_info(self, sha: str) -> CommitInfo:
        return CommitInfo(sha, "Ann", (self.root / sha / "message").read_text(), "")

    def export(self, sha: str) -> Path:
        return self.root / sha

    @property
    def config(self) -> Any:
        from stackctl.agent.config import SourceConfig

        return SourceConfig("default", "file:///srv/stacks.git")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def rollout(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The exit code the next waits report (EXIT_OK when empty): the lab tests wait for real."""
    codes: list[int] = []

    def fake_wait(*args: Any, **kwargs: Any) -> RolloutReport:
        return RolloutReport(codes.pop(0) if codes else EXIT_OK)

    monkeypatch.setattr("stackctl.deploy._wait", fake_wait)
    return codes


def make_agent(
    tmp_path: Path, stack: str = "", clock: float = 1_796_000_000.0
) -> tuple[Agent, FakeSource, FakeEngine, list[PassResult]]:
    path = tmp_path / "agent.yml"
    path.write_text(
        "sources:\n  - url: file:///srv/stacks.git\nstacks:\n  - name: shop\n"
        "    files: [app/stack.yml]\n    resolve_image: never\n" + stack
    )
    source = FakeSource(tmp_path / "git")
    engine = FakeEngine()
    agent = Agent(
        load_config(str(path)),
        engine_factory=lambda: engine,
        sources={"default": source},
        clock=Clock(clock),
        log=lambda line: None,
    )  # type: ignore[dict-item]
    results: list[PassResult] = []
    agent.listeners.append(results.append)
    return agent, source, engine, results


def writes(engine: FakeEngine) -> list[tuple[str, str]]:
    return [c for c in engine.calls if c[0] in ("create", "update", "remove")]


def revisions(engine: FakeEngine) -> list[dict[str, Any]]:
    from stackctl.history import list_revisions

    return [r.to_json() for r in list_revisions(engine, "shop")]


def test_new_commit_deployed_then_unchanged_passes_write_nothing(tmp_path: Path, rollout: list[int]) -> None:
    agent, source, engine, results = make_agent(tmp_path)
    sha = source.push({"V": "1"}, "first")
    assert agent.pass_all(START) == EXIT_OK
    state = agent.states["shop"]
    assert state.status == "synced" and state.commit is not None and state.commit.sha == sha
    revs = revisions(engine)
    assert len(revs) == 1 and revs[0]["git"]["commit"] == sha and revs[0]["git"]["subject"] == "first"
    assert revs[0]["git"]["url"] == "file:///srv/stacks.git" and revs[0]["git"]["author"] == "Ann"
    assert revs[0]["files"] == ["app/stack.yml"]  # the repository's path, not the agent's checkout
    before = len(writes(engine))
    for _ in range(50):
        assert agent.pass_all(POLL) == EXIT_OK
    assert len(writes(engine)) == before  # no service update, no revision, no lock
    assert [r.wrote for r in results] == [True] + [False] * 50


def test_failed_commit_is_not_retried_until_a_new_commit_or_a_sync(
    tmp_path: Path, rollout: list[int]
) -> None:
    agent, source, engine, results = make_agent(tmp_path, "    rollback_on_failure: true\n")
    good = source.push({"V": "1"})
    agent.pass_all(START)
    import copy

    (service,) = engine.store["service"].values()
    kept = copy.deepcopy(service["Spec"])
    bad = source.push({"V": "2"}, "bad")
    rollout.append(EXIT_ROLLED_BACK)
    assert agent.pass_all(POLL) == EXIT_ROLLED_BACK
    service["Spec"] = kept  # what the swarm's rollback does (the fake does not wait or undo)
    state = agent.states["shop"]
    assert state.status == "rolled back" and state.failed_commit == bad and state.commit is not None
    assert state.commit.sha == good
    count = len(revisions(engine))
    for _ in range(5):
        agent.pass_all(POLL)
    assert len(revisions(engine)) == count  # no retry loop
    assert sum(1 for r in results if r.wrote and r.status == "rolled back") == 1
    rollout.append(EXIT_TIMEOUT)
    assert agent.pass_source("default", SYNC, only="shop") == EXIT_TIMEOUT  # a manual sync tries again
    fixed = source.push({"V": "3"}, "fixed")
    assert agent.pass_all(POLL) == EXIT_OK
    assert state.status == "synced" and state.commit is not None and state.commit.sha == fixed


def test_restarted_agent_continues_from_the_history(tmp_path: Path, rollout: list[int]) -> None:
    agent, source, engine, _ = make_agent(tmp_path)
    source.push({"V": "1"})
    agent.pass_all(START)
    bad = source.push({"V": "2"})
    rollout.append(EXIT_ROLLED_BACK)
    agent.pass_all(POLL)
    again = Agent(agent.config, engine_factory=lambda: engine, sources=agent.sources, log=lambda line: None)
    count = len(writes(engine))
    assert again.pass_all(START) == EXIT_ROLLED_BACK  # the failed commit, read from the history
    assert again.states["shop"].failed_commit == bad and len(writes(engine)) == count


def test_manual_apply_waits_for_an_approve(tmp_path: Path, rollout: list[int]) -> None:
    agent, source, engine, _ = make_agent(tmp_path, "    apply: manual\n")
    sha = source.push({"V": "1"})
    assert agent.pass_all(START) == EXIT_OK
    state = agent.states["shop"]
    assert state.status == "waiting for approval" and state.pending_commit == sha and not writes(engine)
    assert agent.approve("shop") == sha
    assert agent.pass_source("default", APPROVE, only="shop") == EXIT_OK
    assert state.status == "synced" and writes(engine)
    assert agent.approve("shop") is None


def test_deny_window_holds_until_it_ends(tmp_path: Path, rollout: list[int]) -> None:
    from datetime import datetime, timezone

    friday_17 = datetime(2026, 12, 4, 17, 0, tzinfo=timezone.utc).timestamp()
    agent, source, engine, _ = make_agent(
        tmp_path, "    windows:\n      - deny: '0 16 * * 5'\n        duration: 64h\n", clock=friday_17
    )
    source.push({"V": "1"})
    agent.pass_all(START)
    state = agent.states["shop"]
    assert state.status == "held" and "deny window" in state.message and not writes(engine)
    agent.clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=timezone.utc).timestamp()  # type: ignore[attr-defined]
    assert agent.window_verdict(agent.config.stacks[0]).allowed
    agent.pass_all(POLL)
    assert state.status == "synced"


def test_bad_files_are_an_error_once(tmp_path: Path, rollout: list[int]) -> None:
    agent, source, engine, results = make_agent(tmp_path)
    sha = source.push({"V": "1"})
    (source.root / sha / "app" / "stack.yml").write_text("services: [\n")
    assert agent.pass_all(START) == EXIT_ERROR
    state = agent.states["shop"]
    assert state.status == "error" and "stack.yml" in state.message and state.failed_commit == sha
    assert not writes(engine)


def test_worst_exit_code() -> None:
    assert worst([]) == 0 and worst([0, 3, 0]) == 3 and worst([5, 4, 3]) == 3 and worst([5, 4]) == 4
    assert worst([5, 1]) == 1 and worst([1, 130]) == 130


def test_engine_lost_is_tried_again_not_marked_failed(tmp_path: Path, rollout: list[int]) -> None:
    from stackctl.errors import LOST, EngineError

    agent, source, engine, results = make_agent(tmp_path)
    source.push({"V": "1"})
    engine.failures[("objects", "service")] = EngineError("the engine went away", failure=LOST)
    assert agent.pass_all(START) == EXIT_ERROR
    state = agent.states["shop"]
    assert state.status == "error" and state.failed_commit is None and not results[-1].wrote
    assert agent.pass_all(POLL) == EXIT_OK and state.status == "synced"


def test_drift_pass_uses_the_last_fetched_commit(tmp_path: Path, rollout: list[int]) -> None:
    from stackctl.agent.core import DRIFT

    agent, source, engine, _ = make_agent(tmp_path)
    source.push({"V": "1"})
    agent.pass_all(START)
    fetches = source.fetches
    assert agent.pass_source("default", DRIFT, only="shop") == EXIT_OK
    assert source.fetches == fetches


def test_stopping_interrupts_the_wait_once(tmp_path: Path) -> None:
    from stackctl.apply.rollout import PROGRESS, WATCH, RolloutEvent

    agent, *_ = make_agent(tmp_path)
    callback = agent._interrupt_when_stopping()
    callback(RolloutEvent(PROGRESS, "rollout"))  # running: nothing happens
    agent.stopping.set()
    callback(RolloutEvent(WATCH, "rollout"))  # only a progress event of the wait interrupts it
    with pytest.raises(KeyboardInterrupt):
        callback(RolloutEvent(PROGRESS, "rollout"))
    callback(RolloutEvent(PROGRESS, "rollout"))  # once: the wait then ends as interrupted


def _encrypted_commit(source: FakeSource, folder: Path, value: str) -> str:
    """A commit whose stack takes its secret from a SOPS file encrypted for `folder/keys.txt`."""
    from tests.sops_helpers import encrypt

    sha = source.push({"V": "1"})
    app = source.root / sha / "app"
    (app / ".sops.yaml").write_text((folder / ".sops.yaml").read_text())
    encrypt(app, "db.sops", value)
    doc = {"version": "3.8", "secrets": {"db": {"file": "./db.sops"}},
           "services": {"web": {"image": "busybox:latest", "secrets": ["db"], "deploy": {"replicas": 0}}}}
    (app / "stack.yml").write_text(yaml.safe_dump(doc))
    return sha


@pytest.mark.parametrize("key", ["right", "wrong"])
def test_encrypted_secrets_decrypt_with_the_agents_key_file(
    tmp_path: Path, rollout: list[int], monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    import base64
    import uuid

    from stackctl.secrets import decrypt as dec
    from tests.sops_helpers import leftover_plaintext, make_key, write_sops_config

    for var in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", dec.IDENTITY_ENV_VAR):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # no default key file either
    keys = tmp_path / "keys"
    keys.mkdir()
    write_sops_config(keys, make_key(keys / "keys.txt"))
    make_key(keys / "other.txt")
    key_file = keys / ("keys.txt" if key == "right" else "other.txt")
    agent, source, engine, results = make_agent(tmp_path, f"    age_key_file: {key_file}\n")
    value = f"agent-{uuid.uuid4().hex}"
    _encrypted_commit(source, keys, value)
    code = agent.pass_all(START)
    if key == "right":
        assert code == EXIT_OK
        (secret,) = engine.store["secret"].values()
        assert base64.b64decode(secret["Spec"]["Data"]).decode() == value
    else:
        assert code == EXIT_ERROR and not writes(engine)
        message = agent.states["shop"].message
        assert "db.sops" in message and value not in message
    assert all(value not in repr(r) for r in results)
    assert leftover_plaintext(value, (tmp_path,)) == []


def test_a_deploying_pass_loads_the_files_once(
    tmp_path: Path, rollout: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pass plans and deploys the same DeployRequest: the commit's files are read (and
    decrypted) once, not once for the preview and again for the deploy."""
    import stackctl.deploy

    loads: list[object] = []
    real = stackctl.deploy.load_stack_files

    def counted(*args: Any, **kwargs: Any) -> Any:
        loads.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(stackctl.deploy, "load_stack_files", counted)
    agent, source, engine, _ = make_agent(tmp_path)
    source.push({"V": "1"}, "first")
    assert agent.pass_all(START) == EXIT_OK
    assert len(loads) == 1 and len(revisions(engine)) == 1
    assert revisions(engine)[0]["note"].startswith("git ")
