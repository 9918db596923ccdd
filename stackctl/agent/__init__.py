"""`stackctl agent`: keep swarms equal to git branches, continuously (docs/agent.md).

The package wires the existing pipeline to git and HTTP; it deploys through the deploy service
layer (`stackctl.deploy.deploy`) and nothing else. Modules:

- `config.py`: the agent's YAML config (schemas/agent.json), FILE:LINE errors.
- `gitsource.py`: fetch a source with the `git` CLI into a cache, export a commit's tree.
- `windows.py`: cron-style allow/deny sync windows.
- `core.py`: one pass over a stack (fetch → plan → deploy), the agent's in-memory state.
- `notify.py`: outcome notifications to webhooks, retried in the background.
- `webhooks.py`: signature checks and push parsing for GitHub, Gitea and GitLab.
- `metrics.py`, `page.py`, `server.py`: Prometheus metrics, the status page, the HTTP app.
- `runner.py`: the long-running process (triggers, timers, signals).

Heavy libraries (starlette, uvicorn, prometheus_client, croniter) are imported only by the modules
that need them, and those only by `agent run`: `stackctl --help` and `deploy` never load them.
"""
