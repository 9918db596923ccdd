"""The agent's HTTP app through starlette's test client: webhooks, the API, metrics, the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from stackctl.agent.config import load_config
from stackctl.agent.core import Agent
from stackctl.agent.gitsource import CommitInfo
from stackctl.agent.metrics import Metrics
from stackctl.agent.server import make_app
from stackctl.agent.webhooks import MAX_BODY, Deliveries, parse_push, sign, signature_ok

SECRET = b"s3cret-hook"
TOKEN = b"t0ken-api"
PUSH = json.dumps({"ref": "refs/heads/main", "after": "a" * 40}).encode()


@pytest.fixture
def agent(tmp_path: Path) -> Agent:
    path = tmp_path / "agent.yml"
    path.write_text(
        "sources:\n  - url: https://bot:pw@git.example.com/ops/stacks.git\nstacks:\n"
        "  - name: shop\n    files: [a.yml]\n  - name: crm\n    files: [b.yml]\n    apply: manual\n"
    )
    return Agent(load_config(str(path)), log=lambda line: None)


@pytest.fixture
def client(agent: Agent) -> Any:
    triggers: list[tuple[str, str | None, str]] = []
    metrics = Metrics(agent)
    app = make_app(agent, metrics, lambda *t: triggers.append(t), webhook_secret=SECRET, api_token=TOKEN)
    test = TestClient(app)
    test.triggers = triggers  # type: ignore[attr-defined]
    return test


def test_signatures() -> None:
    for provider in ("github", "gitea", "gitlab"):
        headers = {k.lower(): v for k, v in sign(provider, PUSH, SECRET).items()}
        assert signature_ok(provider, headers, PUSH, SECRET)
        assert not signature_ok(provider, headers, PUSH, b"other")
        assert not signature_ok(provider, {}, PUSH, SECRET)
    assert not signature_ok(
        "github", {"x-hub-signature-256": sign("gitea", PUSH, SECRET)["X-Gitea-Signature"]}, PUSH, SECRET
    )  # the prefix is part of GitHub's header
    assert not signature_ok("github", sign("github", PUSH, SECRET), PUSH, b"")  # no secret: nothing passes


def test_parse_push_and_deliveries() -> None:
    push = parse_push("gitlab", {"x-gitlab-event": "Push Hook", "x-gitlab-event-uuid": "u1"}, PUSH)
    assert push.is_push and push.ref == "refs/heads/main" and push.delivery == "u1"
    assert not parse_push("github", {"x-github-event": "ping"}, b"{}").is_push
    seen = Deliveries(size=2)
    assert seen.first_time("a") and not seen.first_time("a") and seen.first_time("b") and seen.first_time("c")
    assert seen.first_time("a")  # forgotten past the bound


def test_webhook_answers(client: Any) -> None:
    gh = {"X-GitHub-Event": "push"}
    assert client.post("/hooks/github", content=PUSH, headers=gh).status_code == 401
    bad = sign("github", PUSH, b"wrong")
    assert client.post("/hooks/github", content=PUSH, headers={**gh, **bad}).status_code == 401
    assert client.triggers == []  # nothing fetched
    big = b"x" * (MAX_BODY + 1)
    assert (
        client.post("/hooks/github", content=big, headers={**gh, **sign("github", big, SECRET)}).status_code
        == 413
    )
    other = json.dumps({"ref": "refs/heads/dev"}).encode()
    answer = client.post("/hooks/github", content=other, headers={**gh, **sign("github", other, SECRET)})
    assert answer.status_code == 202 and answer.json()["result"] == "ignored" and client.triggers == []
    ok = {**gh, "X-GitHub-Delivery": "d1", **sign("github", PUSH, SECRET)}
    assert client.post("/hooks/github", content=PUSH, headers=ok).status_code == 202
    assert client.triggers == [("default", None, "webhook")]
    again = client.post("/hooks/github", content=PUSH, headers=ok)
    assert again.status_code == 200 and again.json()["result"] == "duplicate" and len(client.triggers) == 1
    assert (
        client.post(
            "/hooks/gitea", content=b"not json", headers=sign("gitea", b"not json", SECRET)
        ).status_code
        == 400
    )
    assert client.post("/hooks/bitbucket", content=PUSH).status_code == 404


def test_api_needs_the_bearer_token(client: Any, agent: Agent) -> None:
    assert client.post("/api/v1/stacks/shop/sync").status_code == 401
    assert (
        client.post("/api/v1/stacks/shop/sync", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    auth = {"Authorization": "Bearer " + TOKEN.decode()}
    assert client.post("/api/v1/stacks/nope/sync", headers=auth).status_code == 404
    assert client.post("/api/v1/stacks/shop/sync", headers=auth).status_code == 202
    assert client.triggers == [("default", "shop", "sync")]
    assert client.post("/api/v1/stacks/crm/approve", headers=auth).status_code == 409  # nothing waits
    agent.states["crm"].pending_commit = "c" * 40
    answer = client.post("/api/v1/stacks/crm/approve", headers=auth)
    assert answer.status_code == 202 and agent.states["crm"].approved_commit == "c" * 40
    assert client.get("/api/v1/stacks/shop/sync").status_code == 405


def test_status_json_metrics_and_page_show_no_secret(client: Any, agent: Agent) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    state = agent.states["shop"]
    state.status, state.commit = "synced", CommitInfo("f" * 40, "Ann <x>", "<script>alert(1)</script>", "")
    state.last_sync = 1_796_000_000.0
    agent.git_errors["default"] = ""
    doc = client.get("/api/v1/stacks").json()
    assert doc["schema"] == "stackctl.agent.stacks/v1" and [s["name"] for s in doc["stacks"]] == [
        "shop",
        "crm",
    ]
    assert doc["sources"][0]["url"] == "https://git.example.com/ops/stacks.git"
    text = client.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert samples[("stackctl_agent_stack_status", (("stack", "shop"), ("status", "synced")))] == 1
    assert samples[("stackctl_agent_last_sync_timestamp_seconds", (("stack", "shop"),))] == 1_796_000_000.0
    assert samples[("stackctl_agent_sync_failures_total", (("stack", "crm"),))] == 0
    page = client.get("/").text
    assert 'id="stack-shop"' in page and 'id="stack-crm"' in page and "<script>" not in page
    assert "&lt;script&gt;" in page and "/stacks/shop/history" in page
    assert client.get("/healthz").text == "ok\n"
    for body in (page, text, json.dumps(doc)):
        assert "pw@" not in body and SECRET.decode() not in body and TOKEN.decode() not in body


def test_readyz_503_without_engine_or_git(agent: Agent, client: Any) -> None:
    from stackctl.errors import EngineError

    def no_engine() -> Any:
        raise EngineError("cannot reach the Docker engine")

    agent._engine_factory = no_engine
    agent.git_errors["default"] = "git fetch of https://git.example.com/ops/stacks.git failed: refused"
    answer = client.get("/readyz")
    assert answer.status_code == 503 and "engine:" in answer.text and "git: default" in answer.text
