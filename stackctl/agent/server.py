"""The agent's HTTP app (starlette): webhooks, the API, health, metrics and the status page.

starlette: a small, typed, well-kept ASGI toolkit (served by uvicorn) that gives routing, request
bodies read as a stream (so a 1 MiB bound holds before a large body is read) and a test client,
without a framework's weight. The app only queues triggers: passes run on the agent's worker
thread, so a request never waits for a deploy.

Who can do what (docs/agent.md, threat model): anyone who reaches the port can read the status
(GET: no secrets in it); only holders of the webhook secret can make the agent fetch; only holders
of the API token can force a sync or approve a plan.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from stackctl.agent.core import APPROVE, SYNC, WEBHOOK
from stackctl.agent.webhooks import MAX_BODY, PROVIDERS, BadPayload, Deliveries, parse_push, signature_ok

if TYPE_CHECKING:
    from stackctl.agent.config import StackConfig
    from stackctl.agent.core import Agent
    from stackctl.agent.metrics import Metrics

STACKS_SCHEMA = "stackctl.agent.stacks/v1"
# (source, stack or None, reason): what the worker thread should pass over next
Trigger = Callable[[str, "str | None", str], None]


def read_secret(path: str | None) -> bytes:
    """A secret file's first line (b"" when not configured); OSError when it cannot be read."""
    if not path:
        return b""
    lines = Path(path).read_bytes().splitlines()
    return lines[0].strip() if lines else b""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class _TooLarge(Exception):
    pass


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def make_app(
    agent: Agent, metrics: Metrics, trigger: Trigger, *, webhook_secret: bytes = b"", api_token: bytes = b""
) -> Starlette:
    deliveries = Deliveries()

    async def hook(request: Request) -> Response:
        provider = request.path_params["provider"]
        if provider not in PROVIDERS:
            return _error(404, f"no webhook receiver {provider!r} (github, gitea, gitlab)")

        def answer(status: int, result: str, message: str) -> JSONResponse:
            metrics.webhook(provider, result)
            return JSONResponse({"result": result, "message": message}, status_code=status)

        try:
            body = await _body(request)
        except _TooLarge:
            return answer(413, "too_large", f"the body is over {MAX_BODY} bytes")
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not webhook_secret:
            return answer(401, "unauthorized", "webhooks are off: the agent has no webhook_secret_file")
        if not signature_ok(provider, headers, body, webhook_secret):
            return answer(401, "unauthorized", "missing or wrong signature")
        try:
            push = parse_push(provider, headers, body)
        except BadPayload as err:
            return answer(400, "bad_request", str(err))
        if not deliveries.first_time(push.delivery):
            return answer(200, "duplicate", f"delivery {push.delivery} was received already")
        if not push.is_push:
            return answer(200, "ignored", f"event {push.event!r} is not a push")
        sources = [s for s in agent.config.sources if s.ref == push.ref]
        if not sources:
            return answer(202, "ignored", f"no source follows {push.ref}")
        for source in sources:
            trigger(source.name, None, WEBHOOK)
        return answer(202, "accepted", f"fetching {', '.join(s.name for s in sources)}")

    def authorized(request: Request) -> Response | None:
        if not api_token:
            return _error(403, "the API is off: the agent has no api_token_file")
        given = request.headers.get("authorization", "")
        if not given.startswith("Bearer ") or not hmac.compare_digest(given[7:].strip().encode(), api_token):
            return _error(401, "missing or wrong bearer token")
        return None

    def api_stack(request: Request) -> StackConfig | Response:
        """The stack an API call names, or the answer that refuses it (token, unknown stack)."""
        refused = authorized(request)
        if refused is not None:
            return refused
        stack = agent.config.stack(request.path_params["name"])
        if stack is None:
            return _error(404, f"no stack {request.path_params['name']!r} in the agent's config")
        return stack

    async def sync(request: Request) -> Response:
        stack = api_stack(request)
        if isinstance(stack, Response):
            return stack
        trigger(stack.source, stack.name, SYNC)
        return JSONResponse({"stack": stack.name, "message": f"sync of {stack.name} queued"}, status_code=202)

    async def approve(request: Request) -> Response:
        stack = api_stack(request)
        if isinstance(stack, Response):
            return stack
        commit = agent.approve(stack.name)
        if commit is None:
            return _error(409, f"stack {stack.name} waits for no approval")
        trigger(stack.source, stack.name, APPROVE)
        message = f"git {commit[:12]} of {stack.name} approved: applying"
        return JSONResponse({"stack": stack.name, "commit": commit, "message": message}, status_code=202)

    async def stacks(request: Request) -> Response:
        return JSONResponse(
            {
                "schema": STACKS_SCHEMA,
                "stacks": [s.to_json() for s in agent.states.values()],
                "sources": [
                    {
                        "name": s.name,
                        "url": s.public_url,
                        "ref": s.ref,
                        "head": agent.heads.get(s.name),
                        "error": agent.git_errors.get(s.name) or None,
                    }
                    for s in agent.config.sources
                ],
            }
        )

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        ok, problems = await run_in_threadpool(agent.ready)
        text = "ready\n" if ok else "not ready\n" + "".join(f"{p}\n" for p in problems)
        return PlainTextResponse(text, status_code=200 if ok else 503)

    async def metrics_page(request: Request) -> Response:
        from stackctl.agent.metrics import CONTENT_TYPE

        return Response(metrics.text(), media_type=CONTENT_TYPE)

    async def index(request: Request) -> Response:
        from stackctl.agent.page import status_page

        sources = {s.name: s.public_url for s in agent.config.sources}
        return HTMLResponse(status_page(list(agent.states.values()), sources, dict(agent.git_errors)))

    async def history(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        from stackctl.agent.page import history_page
        from stackctl.errors import StackctlError
        from stackctl.history import list_revisions

        name = request.path_params["name"]
        if agent.config.stack(name) is None:
            return PlainTextResponse(f"no stack {name} in the agent's config\n", status_code=404)
        try:
            revisions = await run_in_threadpool(list_revisions, agent.engine(), name)
        except StackctlError as err:
            return PlainTextResponse(f"cannot read the history: {err.message}\n", status_code=503)
        return HTMLResponse(history_page(name, revisions))

    async def not_allowed(request: Request) -> Response:
        return _error(405, "use POST")

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics_page, methods=["GET"]),
        Route("/api/v1/stacks", stacks, methods=["GET"]),
        Route("/api/v1/stacks/{name}/sync", sync, methods=["POST"]),
        Route("/api/v1/stacks/{name}/approve", approve, methods=["POST"]),
        Route("/stacks/{name}/history", history, methods=["GET"]),
        Route("/hooks/{provider}", hook, methods=["POST"]),
    ]
    return Starlette(routes=routes)

