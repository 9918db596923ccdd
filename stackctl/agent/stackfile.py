"""`stackctl agent stack`: a stack file that runs the agent itself as a swarm service on a manager.

One replica pinned to a manager, the docker socket bound (the agent deploys through it), the config
as a swarm config and the webhook secret, API token and deploy key as swarm secrets, a healthcheck
on /healthz. Deployed with `stackctl deploy`, and then listed in its own config, the agent manages
itself from git.
"""

from __future__ import annotations

TEMPLATE = """\
# The stackctl agent as a swarm service (docs/agent.md). Deploy it with:
#   stackctl deploy stackctl-agent -c agent-stack.yml
# and put agent.yml, the secrets' files and this file in your repository to let it manage itself.
version: "3.8"
services:
  agent:
    image: {image}
    command: ["stackctl", "agent", "run", "--config", "/etc/stackctl/agent.yml"]
    volumes:
      - type: bind
        source: /var/run/docker.sock
        target: /var/run/docker.sock
      - type: volume
        source: cache
        target: /var/lib/stackctl/agent
    configs:
      - source: agent_config
        target: /etc/stackctl/agent.yml
    secrets:
      - webhook
      - agent_token
      - deploy_key
      - known_hosts
    ports:
      - target: {port}
        published: {port}
        mode: host
    healthcheck:
      test:
        - CMD
        - python3
        - -c
        - "import urllib.request as u; u.urlopen('http://127.0.0.1:{port}/healthz', timeout=3)"
      interval: 30s
      timeout: 5s
      retries: 3
      start_period: 30s
    stop_grace_period: 15s
    deploy:
      replicas: 1
      placement:
        constraints:
          - node.role == manager
      update_config:
        order: stop-first
      restart_policy:
        condition: any
volumes:
  cache: {{}}
configs:
  agent_config:
    file: {config_file}
secrets:
  webhook:
    file: ./secrets/webhook
  agent_token:
    file: ./secrets/agent_token
  deploy_key:
    file: ./secrets/deploy_key
  known_hosts:
    file: ./secrets/known_hosts
"""


def agent_stack_file(*, image: str, config_file: str, port: int) -> str:
    """The stack file; the agent's config must say `listen: 0.0.0.0:PORT` and name /run/secrets/... files."""
    return TEMPLATE.format(image=image, config_file=config_file, port=port)
