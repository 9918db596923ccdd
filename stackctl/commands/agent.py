"""`stackctl agent run|check|sync|approve|stack`: CLI wiring for stackctl/agent/ (docs/agent.md).

`run --once` makes one pass over every stack and exits with deploy's exit codes (the worst wins);
`run` keeps going (polling, webhooks, the API, drift checks) until SIGTERM or Ctrl-C. Only `run`
imports the web and metrics libraries; `sync` and `approve` talk to a running agent over HTTP with
the standard library.
"""

from __future__ import annotations

import sys

from stackctl.errors import EXIT_ERROR, EXIT_OK, UsageError


def check(*, config: str) -> int:
    from stackctl.agent.config import load_config

    cfg = load_config(config)
    stacks = ", ".join(s.name for s in cfg.stacks)
    print(
        f"{config}: OK ({len(cfg.sources)} source{'s' if len(cfg.sources) != 1 else ''}, "
        f"{len(cfg.stacks)} stack{'s' if len(cfg.stacks) != 1 else ''}: {stacks})"
    )
    return EXIT_OK


def run(*, config: str, once: bool = False) -> int:
    from stackctl.agent.config import load_config

    cfg = load_config(config)
    if once:
        from stackctl.agent.core import START, Agent

        agent = Agent(cfg)
        try:
            return agent.pass_all(START)
        finally:
            agent.drop_engine()
    from stackctl.agent.runner import serve

    return serve(cfg)


def _api_call(
    action: str,
    name: str,
    *,
    url: str | None,
    token_file: str | None,
    config: str | None,
    timeout: float = 30.0,
) -> int:
    """POST /api/v1/stacks/NAME/ACTION to a running agent with the bearer token."""
    import json
    import urllib.error
    import urllib.request

    base, token_path = url, token_file
    if config:
        from stackctl.agent.config import load_config

        cfg = load_config(config)
        host = "127.0.0.1" if cfg.host in ("0.0.0.0", "::", "") else cfg.host
        scheme = "https" if cfg.tls_cert_file else "http"
        base = base or f"{scheme}://{host}:{cfg.port}"
        token_path = token_path or cfg.api_token_file
    if not base:
        raise UsageError("give the agent's address: --url URL or --config FILE")
    headers = {"Content-Type": "application/json"}
    if token_path:
        try:
            with open(token_path, encoding="utf-8") as fh:
                headers["Authorization"] = "Bearer " + fh.readline().strip()
        except OSError as err:
            raise UsageError(f"{token_path}: cannot read the API token: {err.strerror}") from None
    req = urllib.request.Request(
        f"{base.rstrip('/')}/api/v1/stacks/{name}/{action}", data=b"{}", headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        try:
            detail = json.loads(err.read() or b"{}").get("error", "")
        except ValueError:
            detail = ""
        print(f"error: the agent answered {err.code}{': ' + detail if detail else ''}", file=sys.stderr)
        return EXIT_ERROR
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        print(f"error: cannot reach the agent at {base}: {reason}", file=sys.stderr)
        return EXIT_ERROR
    print(body.get("message") or f"{action} of {name} accepted")
    return EXIT_OK


def sync(
    *, name: str, url: str | None = None, token_file: str | None = None, config: str | None = None
) -> int:
    return _api_call("sync", name, url=url, token_file=token_file, config=config)


def approve(
    *, name: str, url: str | None = None, token_file: str | None = None, config: str | None = None
) -> int:
    return _api_call("approve", name, url=url, token_file=token_file, config=config)


def stack(*, image: str, config_file: str, port: int) -> int:
    from stackctl.agent.stackfile import agent_stack_file

    print(agent_stack_file(image=image, config_file=config_file, port=port), end="")
    return EXIT_OK
