"""Generated stack files for the benchmark cases."""

from __future__ import annotations

from pathlib import Path

TIERS = ("web", "api", "worker")


def config_stack(count: int) -> str:
    """A realistic stack of `count` services, the generator of compose-v1-python.md §2 (same shape, same
    size: 35 lines a service), so the numbers there and here are comparable."""
    out = ['version: "3.8"', "services:"]
    for i in range(count):
        out += [
            f"  svc{i:03d}:",
            f'    image: "registry.example.com/team/app{i % 17}:${{TAG:-1.{i}}}"',
            f'    command: ["serve", "--port", "{8000 + i}"]',
            "    environment:",
            f"      SERVICE_NAME: svc{i:03d}",
            '      LOG_LEVEL: "${LOG_LEVEL:-info}"',
            f'      UPSTREAM: "http://svc{(i + 1) % count:03d}:{8000 + (i + 1) % count}"',
            "    labels:",
            f'      com.example.tier: "{TIERS[i % 3]}"',
            "    ports:",
            f'      - "{20000 + i}:{8000 + i}"',
            "    volumes:",
            f'      - "data{i % 10}:/var/lib/app"',
            "    networks: [front, back]",
            "    secrets: [db_password]",
            "    configs:",
            "      - source: app_conf",
            "        target: /etc/app.conf",
            "    healthcheck:",
            f'      test: ["CMD", "curl", "-f", "http://localhost:{8000 + i}/health"]',
            "      interval: 30s",
            "      timeout: 5s",
            "      retries: 3",
            "    deploy:",
            f"      replicas: {1 + i % 3}",
            "      update_config: {parallelism: 1, delay: 10s, order: start-first, "
            "failure_action: rollback}",
            "      rollback_config: {parallelism: 1}",
            "      restart_policy: {condition: on-failure, max_attempts: 3}",
            "      resources:",
            '        limits: {cpus: "0.50", memory: 256M}',
            "        reservations: {memory: 64M}",
            "      placement:",
            '        constraints: ["node.role == worker"]',
            "      labels:",
            f'        com.example.owner: "team{i % 5}"',
        ]
    out += ["networks:", "  front: {driver: overlay}", "  back: {driver: overlay, attachable: true}"]
    out += ["volumes:"] + [f"  data{j}: {{}}" for j in range(10)]
    out += ["secrets:", "  db_password: {file: ./db_password.txt}"]
    out += ["configs:", "  app_conf: {file: ./app.conf}"]
    return "\n".join(out) + "\n"


def anchored_stack(services: int) -> str:
    """The load helper's shape (first in bench/config_bench.py): a YAML anchor merged into every
    service's deploy (`<<: *common`), list labels, a relative bind mount, a string healthcheck."""
    out = ['version: "3.8"', "x-common: &common", "  restart_policy: {condition: on-failure, delay: 5s}",
           "services:"]
    for i in range(services):
        out += [
            f"  svc{i}:",
            f"    image: registry.example.com/team/app{i % 17}:${{TAG:-1.{i}}}",
            f"    command: [\"serve\", \"--port\", \"{8000 + i}\"]",
            "    environment:",
            f"      APP_ID: \"{i}\"",
            "      LOG_LEVEL: ${LOG_LEVEL:-info}",
            "    labels: [com.example.tier=backend, com.example.owner=team]",
            f"    ports: [\"{10000 + i}:{8000 + i}\"]",
            "    volumes: [\"data:/var/lib/app\", \"./conf:/etc/app:ro\"]",
            "    networks: [front, back]",
            "    healthcheck: {test: \"curl -f http://localhost/ || exit 1\", interval: 30s, timeout: 5s}",
            "    deploy:",
            "      replicas: 2",
            "      <<: *common",
            "      resources: {limits: {cpus: \"0.5\", memory: 256M}}",
            "      update_config: {parallelism: 1, delay: 10s, order: start-first}",
            "      placement: {constraints: [node.role == worker]}",
        ]
    out += ["networks:", "  front: {driver: overlay}", "  back: {driver: overlay, attachable: true}",
            "volumes:", "  data: {}"]
    return "\n".join(out) + "\n"


def write_config_stack(directory: Path, count: int) -> Path:
    """Write stack<count>.yml and the secret/config files it names; return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "db_password.txt").write_text("pw\n")
    (directory / "app.conf").write_text("conf\n")
    path = directory / f"stack{count}.yml"
    path.write_text(config_stack(count))
    return path


def deploy_stack(count: int, *, replicas: int = 0, variant: int = 0, changed: int | None = None) -> str:
    """`count` busybox services on one overlay network. Only the API path matters, so replicas 0 by default.

    `variant` changes one environment value of service number `changed` (default: the middle one), so
    two variants differ in exactly one service.
    """
    changed = count // 2 if changed is None else changed
    out = ['version: "3.8"', "services:"]
    for i in range(count):
        release = f"r{variant}" if i == changed else "r0"
        out += [
            f"  svc{i:03d}:",
            "    image: busybox:latest",
            "    environment:",
            f"      SERVICE_NAME: svc{i:03d}",
            f"      RELEASE: {release}",
            "    labels:",
            f'      com.example.tier: "{TIERS[i % 3]}"',
            "    networks: [back]",
            "    deploy:",
            f"      replicas: {replicas}",
            "      labels:",
            f'        com.example.owner: "team{i % 5}"',
        ]
    out += ["networks:", "  back: {driver: overlay}"]
    return "\n".join(out) + "\n"


def write_deploy_stack(directory: Path, name: str, count: int, **kwargs: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(deploy_stack(count, **kwargs))
    return path
