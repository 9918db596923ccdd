"""Fan-out wall time (issue 27): a rollout [canary] → [eu, us] with max_parallel 2 on three labs.

    python bench/fanout_bench.py [--runs 3] [--labs fo1,fo2,fo3] [--bake 3]

The labs must be up (`stackctl lab up --name fo1 --workers 0`, fo2, fo3). Each run deploys a fresh stack
(one busybox task per swarm, `--resolve-image never`) through the waves with `--format json`, and reads
the targets' start and end times from the document: the second wave's wall time against the sum of its
two targets' (concurrent: near the slower one), and the whole rollout's. The stacks are removed after.
Prints one markdown row per run and the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
APP = """\
version: "3.8"
services:
  web:
    image: busybox:latest
    deploy:
      replicas: 1
      update_config: {monitor: 2s}
"""


def _host(lab: str) -> str:
    return f"unix:///run/stackctl/labs/{lab}/mgr-1/docker.sock"


def _stamp(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def _clean(stack: str, labs: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    for lab in labs:
        subprocess.run(["docker", "stack", "rm", stack], env={**env, "DOCKER_HOST": _host(lab)},
                       capture_output=True, timeout=60)


def one_run(labs: list[str], bake: float) -> dict[str, float]:
    stack = f"fb{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "app.yml").write_text(APP)
        Path(tmp, "stackctl.yml").write_text(f"""\
version: "1"
stack: {stack}
files: [app.yml]
environments:
  prod:
    targets:
      - {{name: canary, host: "{_host(labs[0])}"}}
      - {{name: eu, host: "{_host(labs[1])}", labels: {{tier: main}}}}
      - {{name: us, host: "{_host(labs[2])}", labels: {{tier: main}}}}
    rollout:
      waves:
        - {{targets: [canary], bake: {bake}s}}
        - {{labels: {{tier: main}}, max_parallel: 2}}
""")
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        started = time.monotonic()
        cp = subprocess.run([sys.executable, "-m", "stackctl", "deploy", "--env", "prod", "--project", tmp,
                             "--resolve-image", "never", "--format", "json"], capture_output=True, text=True,
                            env=env, cwd=str(REPO), timeout=300)
        wall = time.monotonic() - started
    try:
        if cp.returncode != 0:
            raise SystemExit(f"deploy failed ({cp.returncode}): {cp.stderr[-2000:]}")
        t = {d["target"]: d for d in json.loads(cp.stdout)["targets"]}
        spans = {n: (_stamp(t[n]["started"]), _stamp(t[n]["ended"])) for n in t}
        eu, us = spans["eu"], spans["us"]
        return {"wall": wall, "canary": spans["canary"][1] - spans["canary"][0],
                "eu": eu[1] - eu[0], "us": us[1] - us[0],
                "wave2": max(eu[1], us[1]) - min(eu[0], us[0])}
    finally:
        _clean(stack, labs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--labs", default=os.environ.get("STACKCTL_FANOUT_LABS") or "fo1,fo2,fo3")
    parser.add_argument("--bake", type=float, default=3.0)
    args = parser.parse_args(argv)
    labs = args.labs.split(",")
    rows = [one_run(labs, args.bake) for _ in range(args.runs)]
    print("| run | rollout wall | canary | eu | us | wave 2 wall | eu + us | wave 2 / (eu + us) |")
    print("|---|---|---|---|---|---|---|---|")
    for i, r in enumerate([*rows, {k: statistics.median(x[k] for x in rows) for k in rows[0]}], 1):
        name = str(i) if i <= len(rows) else "median"
        print(f"| {name} | {r['wall']:.1f}s | {r['canary']:.1f}s | {r['eu']:.1f}s | {r['us']:.1f}s | "
              f"{r['wave2']:.1f}s | {r['eu'] + r['us']:.1f}s | {r['wave2'] / (r['eu'] + r['us']):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
