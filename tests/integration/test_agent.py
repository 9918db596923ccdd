"""`stackctl agent` on the lab with real parts: a bare git repository with real pushes (file:// and
`git daemon` on an ephemeral loopback port), the agent as a process on 127.0.0.1:0, HMAC-signed
webhook requests, Prometheus text parsed by prometheus_client.parser, notifications to a local
receiver. Stacks are prefixed `ag`; most use `replicas: 0`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from stackctl.agent.webhooks import sign
from tests.integration.agent_parts import (
    REPO_ROOT,
    AgentProcess,
    GitDaemon,
    Receiver,
    Repo,
    wait_for,
    write_config,
)

pytestmark = pytest.mark.integration
STACK_PREFIX = "ag"
SECRET = b"webhook-secret-for-tests"
TOKEN = "api-token-for-tests"


def stack_doc(
    env: dict[str, str], replicas: int = 0, action: str = "continue", **extra: Any
) -> dict[str, Any]:
    svc: dict[str, Any] = {
        "image": "busybox:latest",
        "command": ["sleep", "86400"],
        "environment": env,
        "deploy": {
            "replicas": replicas,
            "update_config": {"parallelism": 1, "monitor": "2s", "failure_action": action},
            "rollback_config": {"parallelism": 0, "monitor": "1s"},
            "restart_policy": {"delay": "1s"},
        },
    }
    svc.update(extra)
    return {"version": "3.8", "services": {"web": svc}}


def config(
    tmp_path: Path, url: str, stacks: list[dict[str, Any]], *, interval: str = "2s", **top: Any
) -> Path:
    (tmp_path / "webhook").write_bytes(SECRET + b"\n")
    (tmp_path / "token").write_text(TOKEN + "\n")
    for s in stacks:
        s.setdefault("files", ["app/stack.yml"])
        s.setdefault("resolve_image", "never")
        s.setdefault("timeout", "60s")
    doc = {
        "sources": [{"url": url, "branch": "main", "interval": interval}],
        "stacks": stacks,
        "listen": "127.0.0.1:0",
        "cache_dir": str(tmp_path / "cache"),
        "webhook_secret_file": str(tmp_path / "webhook"),
        "api_token_file": str(tmp_path / "token"),
        **top,
    }
    return write_config(tmp_path / "agent.yml", doc)


def service(docker_client: Any, name: str) -> dict[str, Any]:
    return dict(docker_client.api.inspect_service(name))


def env_of(docker_client: Any, name: str) -> list[str]:
    return list(service(docker_client, name)["Spec"]["TaskTemplate"]["ContainerSpec"].get("Env") or [])


def revisions(run_stackctl: Any, lab_env: dict[str, str], stack: str) -> list[dict[str, Any]]:
    cp = run_stackctl("history", stack, "--format", "json", env=lab_env)
    assert cp.returncode == 0, cp.stderr
    return list(json.loads(cp.stdout)["revisions"])


def metrics(agent: AgentProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    status, body = agent.get("/metrics")
    assert status == 200
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path / "git")


@pytest.fixture
def daemon(repo: Repo) -> Any:
    """`git daemon` serving the repository on an ephemeral loopback port."""
    server = GitDaemon(repo.bare.parent)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def started() -> Any:
    agents: list[AgentProcess] = []

    def start(path: Path, env: dict[str, str]) -> AgentProcess:
        agent = AgentProcess(path, env)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop()


def synced_at(agent: AgentProcess, stack: str, sha: str) -> bool:
    row = agent.stack(stack)
    return row["status"] == "synced" and (row["commit"] or {}).get("commit") == sha


def test_push_applied_by_polling_recorded_with_its_commit(
    stack_name: str,
    tmp_path: Path,
    repo: Repo,
    lab_env: dict[str, str],
    docker_client: Any,
    run_stackctl: Any,
    started: Any,
) -> None:
    sha1 = repo.push({"app/stack.yml": stack_doc({"V": "1"})}, "first version")
    agent = started(config(tmp_path, repo.url, [{"name": stack_name}], interval="2s"), lab_env)
    wait_for(lambda: synced_at(agent, stack_name, sha1), 60, "the first commit applied")
    sha2 = repo.push({"app/stack.yml": stack_doc({"V": "2"})}, "bump V to 2")
    pushed = time.monotonic()
    wait_for(lambda: "V=2" in env_of(docker_client, f"{stack_name}_web"), 30, "the push applied")
    assert time.monotonic() - pushed < 2 + 5  # the interval, and the pass itself
    wait_for(lambda: synced_at(agent, stack_name, sha2), 30, "the agent to say synced")
    revs = revisions(run_stackctl, lab_env, stack_name)
    assert [r["git"]["commit"] for r in revs] == [sha1, sha2]
    assert revs[-1]["git"]["subject"] == "bump V to 2" and revs[-1]["git"]["author"] == "Ann Operator"
    assert revs[-1]["git"]["url"] == repo.url
    cp = run_stackctl("history", stack_name, env=lab_env)
    assert f'git {sha2[:12]} "bump V to 2" (Ann Operator)' in cp.stdout
    cp = run_stackctl(
        "agent", "sync", stack_name, "--config", str(tmp_path / "agent.yml"), "--url", agent.url
    )
    assert cp.returncode == 0 and f"sync of {stack_name} queued" in cp.stdout, cp.stderr
    cp = run_stackctl(
        "agent", "approve", stack_name, "--url", agent.url, "--token-file", str(tmp_path / "token")
    )
    assert cp.returncode == 1 and "409" in cp.stderr  # nothing waits for an approval
    assert agent.stop() < 10  # SIGTERM: gone within 10 s


def test_webhooks_over_git_daemon(
    stack_name: str,
    tmp_path: Path,
    repo: Repo,
    lab_env: dict[str, str],
    docker_client: Any,
    started: Any,
    daemon: GitDaemon,
) -> None:
    sha1 = repo.push({"app/stack.yml": stack_doc({"V": "1"})}, "v1")
    agent = started(
        config(tmp_path, daemon.url("stacks.git"), [{"name": stack_name}], interval="1h"), lab_env
    )
    wait_for(lambda: synced_at(agent, stack_name, sha1), 60, "the first commit applied")
    fetch_head = tmp_path / "cache" / "sources" / "default.git" / "FETCH_HEAD"
    fetched = fetch_head.stat().st_mtime_ns

    body = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()
    gh = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
    # wrong or missing signatures: 401, nothing fetched
    wrong = sign("github", body, b"not-the-secret")
    assert agent.post("/hooks/github", body, {**gh, "X-GitHub-Delivery": "a1", **wrong})[0] == 401
    assert agent.post("/hooks/github", body, {**gh, "X-GitHub-Delivery": "a2"})[0] == 401
    assert agent.post("/hooks/gitea", body, {"X-Gitea-Event": "push", "X-Gitea-Signature": "00"})[0] == 401
    assert agent.post("/hooks/gitlab", body, {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "x"})[0] == 401
    # over 1 MiB: 413
    big = b"{" + b" " * (1024 * 1024 + 10) + b"}"
    assert agent.post_expecting("/hooks/github", big, {**gh, **sign("github", big, SECRET)})[0] == 413
    # another branch: 202, ignored
    other = json.dumps({"ref": "refs/heads/feature"}).encode()
    status, answer = agent.post(
        "/hooks/github", other, {**gh, "X-GitHub-Delivery": "a3", **sign("github", other, SECRET)}
    )
    assert status == 202 and json.loads(answer)["result"] == "ignored"
    time.sleep(1.0)  # a fetch, had one started, would have written FETCH_HEAD by now
    assert fetch_head.stat().st_mtime_ns == fetched, "a refused or ignored webhook fetched"

    sha2 = repo.push({"app/stack.yml": stack_doc({"V": "2"})}, "v2")
    sent = time.monotonic()
    status, answer = agent.post(
        "/hooks/github", body, {**gh, "X-GitHub-Delivery": "b1", **sign("github", body, SECRET)}
    )
    assert status == 202, answer
    wait_for(
        lambda: "V=2" in env_of(docker_client, f"{stack_name}_web"),
        10,
        "the webhook's push applied",
        every=0.05,
    )
    took = time.monotonic() - sent
    print(f"webhook -> service updated: {took:.2f}s")
    wait_for(lambda: synced_at(agent, stack_name, sha2), 10, "the agent to say synced")
    assert took < 3.0  # the 2 s, with room for a loaded 2-core machine
    # the same delivery again: ignored
    status, answer = agent.post(
        "/hooks/github", body, {**gh, "X-GitHub-Delivery": "b1", **sign("github", body, SECRET)}
    )
    assert status == 200 and json.loads(answer)["result"] == "duplicate"
    # Gitea and GitLab signatures work too
    sha3 = repo.push({"app/stack.yml": stack_doc({"V": "3"})}, "v3")
    status, _ = agent.post(
        "/hooks/gitea",
        body,
        {"X-Gitea-Event": "push", "X-Gitea-Delivery": "c1", **sign("gitea", body, SECRET)},
    )
    assert status == 202
    wait_for(lambda: synced_at(agent, stack_name, sha3), 20, "the gitea push applied")
    sha4 = repo.push({"app/stack.yml": stack_doc({"V": "4"})}, "v4")
    status, _ = agent.post(
        "/hooks/gitlab", body, {"X-Gitlab-Event": "Push Hook", **sign("gitlab", body, SECRET)}
    )
    assert status == 202
    wait_for(lambda: synced_at(agent, stack_name, sha4), 20, "the gitlab push applied")

    m = metrics(agent)
    by_result = {
        dict(k[1])["result"]: v
        for k, v in m.items()
        if k[0] == "stackctl_agent_webhook_requests_total" and dict(k[1])["provider"] == "github"
    }
    assert by_result == {"unauthorized": 2, "too_large": 1, "ignored": 1, "accepted": 1, "duplicate": 1}
    page = agent.get("/")[1].decode() + repr(m) + agent.text()
    assert SECRET.decode() not in page and TOKEN not in page


def test_unchanged_passes_write_nothing(
    stack_name: str,
    tmp_path: Path,
    repo: Repo,
    lab_env: dict[str, str],
    docker_client: Any,
    engine: Any,
    run_stackctl: Any,
) -> None:
    from stackctl.agent.config import load_config
    from stackctl.agent.core import POLL, START, Agent

    sha = repo.push({"app/stack.yml": stack_doc({"V": "1"})}, "v1")
    path = config(tmp_path, repo.url, [{"name": stack_name}])
    agent = Agent(load_config(str(path)), engine_factory=lambda: engine, log=lambda line: None)
    assert agent.pass_all(START) == 0
    assert agent.states[stack_name].commit is not None and agent.states[stack_name].commit.sha == sha
    version = service(docker_client, f"{stack_name}_web")["Version"]["Index"]
    count = len(revisions(run_stackctl, lab_env, stack_name))
    for _ in range(50):
        assert agent.pass_all(POLL) == 0
    assert service(docker_client, f"{stack_name}_web")["Version"]["Index"] == version
    assert len(revisions(run_stackctl, lab_env, stack_name)) == count == 1
    locks = subprocess.run(
        ["docker", "config", "ls", "-q", "--filter", f"name=stackctl-lock-{stack_name}"],
        env=lab_env,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.split()
    assert locks == []


def test_bad_commit_rolled_back_once_then_next_good_commit_applies(
    stack_name: str,
    tmp_path: Path,
    repo: Repo,
    lab_env: dict[str, str],
    docker_client: Any,
    run_stackctl: Any,
    started: Any,
) -> None:
    receiver = Receiver()
    try:
        sha1 = repo.push({"app/stack.yml": stack_doc({"V": "1"}, replicas=1, action="rollback")}, "good")
        path = config(
            tmp_path,
            repo.url,
            [{"name": stack_name, "rollback_on_failure": True}],
            interval="2s",
            notify=[{"url": receiver.url}],
        )
        agent = started(path, lab_env)
        wait_for(lambda: synced_at(agent, stack_name, sha1), 90, "the first commit applied")
        wait_for(lambda: len(receiver.bodies) == 1, 20, "the first deploy's notification")
        bad = stack_doc(
            {"V": "2"},
            replicas=1,
            action="rollback",
            healthcheck={"test": ["CMD", "false"], "interval": "1s", "retries": 1, "timeout": "1s"},
        )
        sha2 = repo.push({"app/stack.yml": bad}, "a healthcheck that never passes")
        row = wait_for(
            lambda: (r := agent.stack(stack_name))["status"] in ("rolled back", "failed") and r,
            120,
            "the bad commit to fail",
        )
        assert row["failed_commit"] == sha2 and row["commit"]["commit"] == sha1
        assert "V=1" in env_of(docker_client, f"{stack_name}_web")  # undone
        wait_for(lambda: len(receiver.bodies) == 2, 20, "the failure's notification")
        note = receiver.bodies[1]
        assert note["stack"] == stack_name and note["commit"] == sha2 and note["status"] == row["status"]
        assert stack_name in note["text"] and "text" in note
        m = metrics(agent)
        assert m[("stackctl_agent_sync_failures_total", (("stack", stack_name),))] == 1
        count = len(revisions(run_stackctl, lab_env, stack_name))
        time.sleep(6)  # three polling intervals: no retry of the failed commit
        assert len(revisions(run_stackctl, lab_env, stack_name)) == count
        assert len(receiver.bodies) == 2
        assert metrics(agent)[("stackctl_agent_sync_failures_total", (("stack", stack_name),))] == 1
        sha3 = repo.push({"app/stack.yml": stack_doc({"V": "3"}, replicas=1, action="rollback")}, "fixed")
        wait_for(lambda: synced_at(agent, stack_name, sha3), 90, "the next good commit applied")
        assert "V=3" in env_of(docker_client, f"{stack_name}_web")
    finally:
        receiver.close()


def test_drift_healed_and_reported(
    stack_name: str,
    tmp_path: Path,
    repo: Repo,
    lab_env: dict[str, str],
    docker_client: Any,
    run_stackctl: Any,
    started: Any,
    engine: Any,
) -> None:
    other = stack_name + "r"
    try:
        files = {"app/stack.yml": stack_doc({"V": "1"})}
        sha = repo.push(files, "v1")
        path = config(
            tmp_path,
            repo.url,
            [{"name": stack_name, "drift": "heal"}, {"name": other, "drift": "report"}],
            interval="1h",
        )
        agent = started(path, lab_env)
        wait_for(
            lambda: synced_at(agent, stack_name, sha) and synced_at(agent, other, sha), 60, "both applied"
        )
        for name in (stack_name, other):
            cp = subprocess.run(
                ["docker", "service", "update", "-q", "--env-add", "X=1", f"{name}_web"],
                env=lab_env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert cp.returncode == 0, cp.stderr
        changed = time.monotonic()
        wait_for(lambda: "X=1" not in env_of(docker_client, f"{stack_name}_web"), 10, "the drift healed")
        assert time.monotonic() - changed < 10
        revs = revisions(run_stackctl, lab_env, stack_name)
        assert "drift healed" in revs[-1]["description"] and revs[-1]["git"]["commit"] == sha
        row = wait_for(
            lambda: (r := agent.stack(other))["status"] == "drifted" and r, 10, "the drift reported"
        )
        assert row["drift"] == ["web: environment.X"]
        assert "X=1" in env_of(docker_client, f"{other}_web")  # report only
        assert any(
            "event=drift" in line and f"stack={other}" in line and "environment.X" in line
            for line in agent.text().splitlines()
        )
        assert metrics(agent)[("stackctl_agent_drift", (("stack", other),))] == 1
    finally:
        remove_stack(lab_env, engine, other)


def remove_stack(lab_env: dict[str, str], engine: Any, name: str) -> None:
    from stackctl.history import remove_history

    subprocess.run(["docker", "stack", "rm", name], env=lab_env, capture_output=True, timeout=60)
    remove_history(engine, name)


def test_git_server_stopped_not_ready_no_writes_then_recovers(
    stack_name: str,
    tmp_path: Path,
    repo: Repo,
    lab_env: dict[str, str],
    run_stackctl: Any,
    started: Any,
    daemon: GitDaemon,
) -> None:
    sha = repo.push({"app/stack.yml": stack_doc({"V": "1"})}, "v1")
    agent = started(
        config(tmp_path, daemon.url("stacks.git"), [{"name": stack_name}], interval="2s"), lab_env
    )
    wait_for(lambda: synced_at(agent, stack_name, sha), 60, "the first commit applied")
    wait_for(lambda: agent.get("/readyz")[0] == 200, 10, "ready")
    count = len(revisions(run_stackctl, lab_env, stack_name))
    daemon.stop()
    status, body = wait_for(lambda: (a := agent.get("/readyz"))[0] == 503 and a, 20, "not ready")
    assert b"git:" in body
    assert len(revisions(run_stackctl, lab_env, stack_name)) == count
    daemon.start()
    wait_for(lambda: agent.get("/readyz")[0] == 200, 20, "ready again")


def test_deny_window_holds_a_push_until_it_ends(
    stack_name: str, tmp_path: Path, repo: Repo, lab_env: dict[str, str], docker_client: Any, started: Any
) -> None:
    sha1 = repo.push({"app/stack.yml": stack_doc({"V": "1"})}, "v1")
    now = time.gmtime()
    if now.tm_sec > 35:  # the window must start in this minute and end soon after the push
        time.sleep(61 - now.tm_sec)
        now = time.gmtime()
    cron = f"{now.tm_min} {now.tm_hour} * * *"
    hold = now.tm_sec + 20  # seconds from the start of this minute
    agent = started(
        config(
            tmp_path,
            repo.url,
            [{"name": stack_name, "windows": [{"deny": cron, "duration": f"{hold}s"}]}],
            interval="1s",
        ),
        lab_env,
    )
    row = wait_for(lambda: (r := agent.stack(stack_name))["status"] == "held" and r, 20, "the window to hold")
    assert "deny window" in row["message"]
    assert not docker_client.api.services(filters={"name": f"{stack_name}_web"})
    wait_for(lambda: synced_at(agent, stack_name, sha1), 40, "the push applied once the window ended")
    assert time.gmtime().tm_min != now.tm_min or time.gmtime().tm_sec >= hold


def test_status_page_in_chromium(
    stack_name: str, tmp_path: Path, repo: Repo, lab_env: dict[str, str], started: Any, engine: Any
) -> None:
    browser = next((b for b in ("chromium", "chromium-browser") if _which(b)), None)
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing (scripts/setup.sh installs it)")
        pytest.skip("chromium is missing")
    sha = repo.push({"app/stack.yml": stack_doc({"V": "1"})}, "page <b>escaped</b>")
    second = stack_name + "p"
    try:
        agent = started(
            config(
                tmp_path, repo.url, [{"name": stack_name}, {"name": second, "apply": "manual"}], interval="1h"
            ),
            lab_env,
        )
        wait_for(lambda: synced_at(agent, stack_name, sha), 60, "applied")
        wait_for(
            lambda: agent.stack(second)["status"] == "waiting for approval", 30, "the manual stack waits"
        )
        args = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--user-data-dir=" + str(tmp_path / "c"),
        ]
        cp = subprocess.run(
            [*args, "--dump-dom", agent.url + "/"], capture_output=True, text=True, timeout=90
        )
        dom = cp.stdout
        assert f'id="stack-{stack_name}"' in dom and f'id="stack-{second}"' in dom, cp.stderr[-2000:]
        assert "waiting for approval" in dom and sha[:12] in dom
        assert "page &lt;b&gt;escaped&lt;/b&gt;" in dom
        shot = tmp_path / "agent-status.png"
        subprocess.run(
            [*args, "--window-size=1200,500", f"--screenshot={shot}", agent.url + "/"],
            capture_output=True,
            timeout=90,
        )
        assert shot.exists() and shot.stat().st_size > 1000
        # the manual stack applies once approved through the API, with the bearer token
        status, _ = agent.post(f"/api/v1/stacks/{second}/approve", b"{}", {"Authorization": "Bearer wrong"})
        assert status == 401
        status, _ = agent.post(
            f"/api/v1/stacks/{second}/approve", b"{}", {"Authorization": f"Bearer {TOKEN}"}
        )
        assert status == 202
        wait_for(lambda: synced_at(agent, second, sha), 60, "the approved plan applied")
    finally:
        remove_stack(lab_env, engine, second)


def _which(name: str) -> bool:
    import shutil

    return shutil.which(name) is not None


def test_run_once_exit_codes(
    stack_name: str, tmp_path: Path, repo: Repo, lab_env: dict[str, str], run_stackctl: Any
) -> None:
    repo.push({"app/stack.yml": stack_doc({"V": "1"})}, "v1")
    path = config(tmp_path, repo.url, [{"name": stack_name}])
    cp = run_stackctl("agent", "run", "--config", str(path), "--once", env=lab_env)
    assert cp.returncode == 0, cp.stderr
    cp = run_stackctl("agent", "run", "--config", str(path), "--once", env=lab_env)
    assert cp.returncode == 0 and "event=deploy " not in cp.stderr, cp.stderr
    bad = stack_doc({"V": "2"}, replicas=1, command=["false"])
    repo.push({"app/stack.yml": bad}, "exits at once")
    path = config(tmp_path, repo.url, [{"name": stack_name, "timeout": "40s"}])
    cp = run_stackctl("agent", "run", "--config", str(path), "--once", env=lab_env)
    assert cp.returncode == 3, cp.stderr


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_agent_killed_during_a_rollout_converges_with_one_revision_per_commit(
    how: str,
    stack_name: str,
    tmp_path: Path,
    repo: Repo,
    lab_env: dict[str, str],
    docker_client: Any,
    run_stackctl: Any,
    started: Any,
) -> None:
    sha1 = repo.push({"app/stack.yml": stack_doc({"V": "1"}, replicas=1)}, "v1")
    path = config(tmp_path, repo.url, [{"name": stack_name}], interval="1s")
    agent = started(path, lab_env)
    wait_for(lambda: synced_at(agent, stack_name, sha1), 90, "the first commit applied")
    slow = stack_doc({"V": "2"}, replicas=1)
    slow["services"]["web"]["deploy"]["update_config"]["monitor"] = "8s"  # a rollout that takes a while
    sha2 = repo.push({"app/stack.yml": slow}, "v2, slowly")
    wait_for(lambda: "V=2" in env_of(docker_client, f"{stack_name}_web"), 30, "the rollout to start")
    if how == "SIGKILL":
        agent.proc.kill()  # killed during the wait: no revision recorded, the lock left behind
        agent.proc.wait(10)
    else:
        assert agent.stop() < 10  # SIGTERM during the wait: gone within 10 s
        locks = subprocess.run(
            ["docker", "config", "ls", "-q", "--filter", f"name=stackctl-lock-{stack_name}"],
            env=lab_env,
            capture_output=True,
            text=True,
            timeout=30,
        ).stdout.split()
        assert locks == [], agent.text()  # the interrupted deploy released the lock
        assert revisions(run_stackctl, lab_env, stack_name)[-1]["status"] == "interrupted"
    again = started(path, lab_env)
    wait_for(lambda: synced_at(again, stack_name, sha2), 90, "the restarted agent to converge")
    revs = revisions(run_stackctl, lab_env, stack_name)
    assert [r["git"]["commit"] for r in revs] == [sha1, sha2]
    # and it goes on: the next commit applies with its own revision
    sha3 = repo.push({"app/stack.yml": stack_doc({"V": "3"}, replicas=1)}, "v3")
    wait_for(lambda: synced_at(again, stack_name, sha3), 90, "the next commit applied")
    assert [r["git"]["commit"] for r in revisions(run_stackctl, lab_env, stack_name)] == [sha1, sha2, sha3]
    assert again.stop() < 10


def test_ssh_source_with_a_key_file_and_known_hosts(
    stack_name: str, tmp_path: Path, repo: Repo, lab_env: dict[str, str], started: Any
) -> None:
    """ssh:// through a lab manager's sshd: the key and known_hosts files of the config, strict host keys."""
    from stackctl.lab import ssh
    from stackctl.lab.layout import read_state
    from tests.paths import LAB_NAME

    layout = read_state(LAB_NAME)
    assert layout is not None and layout.ssh, "the lab runs no sshd"
    files = ssh.SshFiles.of(layout.place)
    sha = repo.push({"app/stack.yml": stack_doc({"V": "1"})}, "over ssh")
    url = f"ssh://root@{layout.managers[0].ip}{repo.bare}"
    path = config(tmp_path, url, [{"name": stack_name}], interval="1h")
    doc = yaml.safe_load(path.read_text())
    doc["sources"][0].update(ssh_key_file=str(files.key), known_hosts_file=str(files.known_hosts))
    write_config(path, doc)
    agent = started(path, lab_env)
    wait_for(lambda: synced_at(agent, stack_name, sha), 60, "the commit fetched over ssh applied")
    # a known_hosts that does not know the host: the fetch is refused, /readyz says why
    (tmp_path / "empty_known_hosts").write_text("")
    doc["sources"][0]["known_hosts_file"] = str(tmp_path / "empty_known_hosts")
    doc["cache_dir"] = str(tmp_path / "cache2")
    write_config(tmp_path / "strict.yml", doc)
    cp = subprocess.run(
        [
            sys.executable,
            "-m",
            "stackctl",
            "agent",
            "run",
            "--config",
            str(tmp_path / "strict.yml"),
            "--once",
        ],
        env={**os.environ, **lab_env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(REPO_ROOT),
    )
    assert (
        cp.returncode == 1
        and "event=fetch-failed" in cp.stderr
        and "Host key verification failed" in cp.stderr
    )


def test_agent_and_cli_deploy_share_the_lock_both_recorded(
    stack_name: str,
    tmp_path: Path,
    repo: Repo,
    lab_env: dict[str, str],
    docker_client: Any,
    run_stackctl: Any,
    started: Any,
) -> None:
    sha1 = repo.push({"app/stack.yml": stack_doc({"V": "1"}, replicas=1)}, "v1")
    agent = started(config(tmp_path, repo.url, [{"name": stack_name}], interval="1h"), lab_env)
    wait_for(lambda: synced_at(agent, stack_name, sha1), 90, "the first commit applied")
    # a CLI deploy with a slow rollout holds the stack's lock while it waits
    slow = stack_doc({"V": "cli"}, replicas=1)
    slow["services"]["web"]["deploy"]["update_config"]["monitor"] = "6s"
    (tmp_path / "cli.yml").write_text(yaml.safe_dump(slow))
    cli = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stackctl",
            "deploy",
            stack_name,
            "-c",
            str(tmp_path / "cli.yml"),
            "--resolve-image",
            "never",
            "--timeout",
            "90s",
        ],
        env={**os.environ, **lab_env},
        cwd=str(REPO_ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: "V=cli" in env_of(docker_client, f"{stack_name}_web"), 30, "the CLI deploy to write")
        sha2 = repo.push({"app/stack.yml": stack_doc({"V": "2"}, replicas=1)}, "v2 during a CLI deploy")
        status, _ = agent.post(
            f"/api/v1/stacks/{stack_name}/sync", b"{}", {"Authorization": f"Bearer {TOKEN}"}
        )
        assert status == 202
        wait_for(lambda: synced_at(agent, stack_name, sha2), 120, "the agent's pass after the CLI deploy")
        assert cli.wait(60) == 0
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(10)
    revs = revisions(run_stackctl, lab_env, stack_name)
    # the CLI's revision, then the agent's: one after the other
    assert [r["git"]["commit"] if r["git"] else "cli" for r in revs] == [sha1, "cli", sha2]
    assert "V=2" in env_of(docker_client, f"{stack_name}_web")
