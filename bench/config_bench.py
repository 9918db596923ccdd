"""Time `stackctl config` against `docker stack config` on generated 200- and 1000-service files.

Usage: python bench/config_bench.py [--runs 5]. Prints the median wall time of each (runs
interleaved) and the ratio; the target is at most 2x the reference.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def stack_file(services: int) -> str:
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


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd="/")
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed: {proc.stderr.decode()[:500]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    stackctl = shutil.which("stackctl") or sys.exit("stackctl not on PATH")
    docker = shutil.which("docker", path="/usr/local/bin") or shutil.which("docker") or sys.exit("no docker")
    print(f"{'services':>8} {'stackctl s':>11} {'docker s':>9} {'ratio':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for count in (200, 1000):
            path = Path(tmp) / f"stack-{count}.yml"
            path.write_text(stack_file(count))
            ours, theirs = [], []
            for _ in range(args.runs):
                ours.append(timed([stackctl, "config", "-c", str(path)]))
                theirs.append(timed([docker, "stack", "config", "-c", str(path)]))
            mine, ref = statistics.median(ours), statistics.median(theirs)
            print(f"{count:>8} {mine:>11.3f} {ref:>9.3f} {mine / ref:>6.2f}")


if __name__ == "__main__":
    main()
