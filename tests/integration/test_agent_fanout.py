"""`stackctl agent` over an environment of many swarms (issue 27 item 6, docs/agent.md): three named labs
side by side as the targets canary → [eu, us], a bare git repository with real pushes, the agent as a
process. A commit rolls out through the waves (the canary converged and baked before the others
started); a commit whose healthcheck fails is rolled back on the canary (`rollback_wave`), the other
swarms are never written, the commit is marked failed and not tried again.

The labs are three of this module's own, or those $STACKCTL_AGENT_FANOUT_LABS names (hag1,hag2,hag3);
see tests/integration/fanout_labs.py.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from stackctl.lab.layout import LabLayout
from tests.integration.agent_parts import AgentProcess, Receiver, Repo, wait_for, write_config
from tests.integration.fanout_labs import (
    APP,
    OTHER_IMAGE,
    docker,
    lab_names,
    project_text,
    stack_fixture,
    stackctl,
    swarms_fixture,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # three labs of its own: starts first
TARGETS = ("canary", "eu", "us")
LABS = lab_names("STACKCTL_AGENT_FANOUT_LABS", "ao", 3)
BAKE = 2.0


swarms = swarms_fixture(TARGETS, LABS)
stack = stack_fixture("af")


def project(swarms: dict[str, LabLayout], variables: str = "") -> str:
    return project_text(swarms, "shop", wave1=f"bake: {BAKE:g}s", variables=variables)


def service(swarms: dict[str, LabLayout], target: str, stack: str) -> dict[str, Any]:
    cp = docker(swarms[target].manager.host, "service", "inspect", f"{stack}_web")
    assert cp.returncode == 0, cp.stderr
    found: list[dict[str, Any]] = json.loads(cp.stdout)
    return found[0]


def history(swarms: dict[str, LabLayout], target: str, stack: str) -> list[dict[str, Any]]:
    cp = stackctl("history", stack, "--format", "json", env={"DOCKER_HOST": swarms[target].manager.host})
    assert cp.returncode == 0, cp.stderr
    return list(json.loads(cp.stdout)["revisions"])


def passes(agent: AgentProcess, stack: str) -> float:
    """How many passes the agent made over the stack (the sync duration histogram's count)."""
    from prometheus_client.parser import text_string_to_metric_families

    status, body = agent.get("/metrics")
    assert status == 200
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name.endswith("duration_seconds_count") and sample.labels["stack"] == stack:
                return float(sample.value)
    return 0.0


def agent_config(tmp_path: Path, repo: Repo, stack: str, *, stack_keys: dict[str, Any] | None = None,
                 interval: str = "1s", **top: Any) -> Path:
    (tmp_path / "token").write_text("api-token-for-tests\n")
    return write_config(tmp_path / "agent.yml", {
        "sources": [{"url": repo.url, "branch": "main", "interval": interval}],
        "stacks": [{"name": stack, "project": "deploy/stackctl.yml", "env": "prod", "resolve_image": "never",
                    "timeout": "60s", **(stack_keys or {})}],
        "listen": "127.0.0.1:0",
        "cache_dir": str(tmp_path / "cache"),
        "api_token_file": str(tmp_path / "token"),
        **top,
    })


def stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def test_a_commit_rolls_out_through_the_waves_and_a_failing_one_stops_at_the_canary(
        tmp_path: Path, stack: str, swarms: dict[str, LabLayout]) -> None:
    repo = Repo(tmp_path / "git")
    receiver = Receiver()
    config = agent_config(tmp_path, repo, stack, notify=[{"url": receiver.url}])
    sha1 = repo.push({"deploy/stackctl.yml": project(swarms), "deploy/app.yml": APP}, "first version")
    agent = AgentProcess(config, {"DOCKER_HOST": swarms["canary"].manager.host})
    try:
        def synced(sha: str) -> dict[str, Any] | None:
            row = agent.stack(stack)
            ok = row["status"] == "synced" and (row["commit"] or {}).get("commit") == sha
            return row if ok else None

        row = wait_for(lambda: synced(sha1), 90, "the first commit rolled out")
        t = {r["target"]: r for r in row["targets"]}
        assert [(t[n]["wave"], t[n]["status"], t[n]["commit"]) for n in TARGETS] == [
            (1, "deployed", sha1), (2, "deployed", sha1), (2, "deployed", sha1)], row
        # the canary converged and baked before either target of the second wave started
        assert stamp(t["canary"]["ended"]) + BAKE <= min(stamp(t["eu"]["started"]), stamp(t["us"]["started"]))
        for name in TARGETS:  # every target's revision: the rollout and the commit
            (rev,) = history(swarms, name, stack)
            assert rev["rollout"]["id"] == row["rollout_id"] and rev["rollout"]["target"] == name
            assert rev["git"]["commit"] == sha1 and rev["files"] == ["deploy/app.yml"]
        before = {n: service(swarms, n, stack)["Version"]["Index"] for n in ("eu", "us")}

        bad = project(swarms, variables=f'{{HEALTHY: "no", IMAGE: "{OTHER_IMAGE}"}}')
        sha2 = repo.push({"deploy/stackctl.yml": bad}, "a healthcheck that fails")

        def failed() -> dict[str, Any] | None:
            row = agent.stack(stack)
            return row if row["failed_commit"] == sha2 and row["status"] == "rolled back" else None

        row = wait_for(failed, 90, "the failing commit rolled back on the canary")
        t = {r["target"]: r for r in row["targets"]}
        assert t["canary"]["status"] == "rolled back" and t["canary"]["commit"] == sha1
        assert t["canary"]["rollback"] == "rolled back to revision 1"
        assert t["eu"]["status"] == t["us"]["status"] == "not started"
        assert (t["canary"]["revision"], t["eu"]["revision"], t["us"]["revision"]) == (3, 1, 1)
        assert row["commit"]["commit"] == sha1 and "target canary" in row["message"]
        image = service(swarms, "canary", stack)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        assert image.startswith("busybox")
        assert [r["status"] for r in history(swarms, "canary", stack)] == ["deployed", "failed", "deployed"]
        # no retry loop: more passes over the stack, nothing written anywhere
        seen = passes(agent, stack)
        wait_for(lambda: passes(agent, stack) >= seen + 3, 30, "three more polls")
        assert len(history(swarms, "canary", stack)) == 3
        for name in ("eu", "us"):  # never written
            assert service(swarms, name, stack)["Version"]["Index"] == before[name], name
            assert len(history(swarms, name, stack)) == 1
        status, page = agent.get("/")
        assert status == 200 and f'id="stack-{stack}-target-canary"'.encode() in page
        if os.environ.get("STACKCTL_AGENT_SHOTS"):  # docs/agent-status-fanout.png, taken by hand
            shot = Path(os.environ["STACKCTL_AGENT_SHOTS"]) / "agent-status-fanout.png"
            subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                            "--window-size=1400,520", f"--user-data-dir={tmp_path / 'c'}",
                            f"--screenshot={shot}", agent.url + "/"], capture_output=True, timeout=90)
        sent = wait_for(lambda: [b for b in receiver.bodies if b["status"] == "rolled back"], 20,
                        "the notification")
        assert len(sent) == 1 and sent[0]["commit"] == sha2
        assert [(x["target"], x["status"]) for x in sent[0]["targets"]] == [
            ("canary", "rolled back"), ("eu", "not started"), ("us", "not started")]
    finally:
        assert agent.stop() < 10
        receiver.close()


def test_drift_on_one_target_is_healed_there_from_its_engine_events(
        tmp_path: Path, stack: str, swarms: dict[str, LabLayout]) -> None:
    """Polls and the full drift check are an hour away: the eu swarm's engine events trigger the pass."""
    repo = Repo(tmp_path / "git")
    config = agent_config(tmp_path, repo, stack, stack_keys={"drift": "heal", "drift_interval": "1h"},
                          interval="1h")
    sha = repo.push({"deploy/stackctl.yml": project(swarms).replace(f"bake: {BAKE:g}s", "bake: 0s"),
                     "deploy/app.yml": APP}, "first version")
    agent = AgentProcess(config, {"DOCKER_HOST": swarms["canary"].manager.host})
    try:
        wait_for(lambda: agent.stack(stack)["status"] == "synced", 90, "the first commit rolled out")
        versions = {n: service(swarms, n, stack)["Version"]["Index"] for n in ("canary", "us")}
        cp = docker(swarms["eu"].manager.host, "service", "update", "--detach", "--env-add", "DEBUG=1",
                    f"{stack}_web")
        assert cp.returncode == 0, cp.stderr

        def healed() -> bool:
            env = service(swarms, "eu", stack)["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env") or []
            return "DEBUG=1" not in env

        wait_for(healed, 10, "the drift on eu undone")
        revs = wait_for(lambda: [r for r in history(swarms, "eu", stack) if r["note"] == "drift healed"], 30,
                        "the eu revision 'drift healed'")
        assert revs[-1]["git"]["commit"] == sha and revs[-1]["rollout"]["target"] == "eu"
        for name in ("canary", "us"):  # the other targets were not written
            assert service(swarms, name, stack)["Version"]["Index"] == versions[name], name
            assert len(history(swarms, name, stack)) == 1
        assert 'reason=drift note="drift healed"' in agent.text()
    finally:
        assert agent.stop() < 10
