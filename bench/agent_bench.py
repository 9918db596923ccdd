"""The agent's two numbers (issue 25): CPU of a warm pass over an unchanged 100-service stack (fetch
aside; target ≤ 50 ms) and the time from a signed webhook to the first engine write (target ≤ 2 s).

    eval "$(stackctl lab env --name NAME)"     # any lab: the bench reads DOCKER_HOST
    python bench/agent_bench.py [--services 100] [--passes 20]

It makes a git repository in a temporary folder, deploys a stack named `agb<pid>` (replicas 0),
measures, and removes the stack and its history again.
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
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.gen import deploy_stack  # noqa: E402

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV},
        timeout=60,
    ).stdout.strip()


def push(work: Path, text: str, message: str) -> str:
    (work / "stack.yml").write_text(text)
    git("add", "-A", cwd=work)
    git("commit", "-qm", message, cwd=work)
    git("push", "-q", "origin", "HEAD:main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--passes", type=int, default=20)
    args = parser.parse_args()
    if not os.environ.get("DOCKER_HOST"):
        print('set DOCKER_HOST to a lab manager: eval "$(stackctl lab env --name NAME)"', file=sys.stderr)
        return 1
    from stackctl.agent.config import load_config
    from stackctl.agent.core import POLL, START, Agent
    from stackctl.agent.webhooks import sign
    from stackctl.engine import open_engine
    from stackctl.history import remove_history

    stack = f"agb{os.getpid()}"
    engine = open_engine(None, False)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        git("init", "-q", "--bare", "-b", "main", str(root / "stacks.git"), cwd=root)
        git("init", "-q", "-b", "main", str(root / "work"), cwd=root)
        git("remote", "add", "origin", str(root / "stacks.git"), cwd=root / "work")
        sha = push(root / "work", deploy_stack(args.services), "bench v0")
        (root / "webhook").write_text("bench-secret\n")
        (root / "agent.yml").write_text(
            json.dumps(
                {
                    "sources": [{"url": f"file://{root / 'stacks.git'}", "interval": "1h"}],
                    "stacks": [{"name": stack, "files": ["stack.yml"], "resolve_image": "never"}],
                    "listen": "127.0.0.1:0",
                    "cache_dir": str(root / "cache"),
                    "webhook_secret_file": str(root / "webhook"),
                }
            )
        )
        try:
            agent = Agent(
                load_config(str(root / "agent.yml")), engine_factory=lambda: engine, log=lambda s: None
            )
            assert agent.pass_all(START) == 0, agent.states[stack].message
            config = agent.config.stacks[0]
            cpu = []
            for _ in range(args.passes):
                started = time.process_time()
                agent._pass(config, sha, POLL)  # the pass without its fetch
                cpu.append((time.process_time() - started) * 1000)
            median = statistics.median(cpu)
            print(
                f"warm unchanged pass, {args.services} services: {median:.1f} ms CPU "
                f"(median of {args.passes}, min {min(cpu):.1f}); "
                f"target <= 50 ms: {'met' if median <= 50 else 'NOT met'}"
            )

            proc = subprocess.Popen(
                [sys.executable, "-m", "stackctl", "agent", "run", "--config", str(root / "agent.yml")],
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                url = ""
                while not url:
                    line = proc.stderr.readline() if proc.stderr else ""
                    if not line:
                        raise SystemExit("the agent did not start")
                    if "event=listening" in line:
                        url = line.split("url=", 1)[1].split()[0]
                time.sleep(2.0)  # its start pass
                push(root / "work", deploy_stack(args.services, variant=1), "bench v1")
                changed = f"{stack}_svc{args.services // 2:03d}"
                before = engine.inspect("service", changed)["Version"]["Index"]
                body = json.dumps({"ref": "refs/heads/main"}).encode()
                headers = {"X-GitHub-Event": "push", **sign("github", body, b"bench-secret")}
                sent = time.monotonic()
                urllib.request.urlopen(
                    urllib.request.Request(url + "/hooks/github", data=body, headers=headers, method="POST"),
                    timeout=10,
                ).read()
                while engine.inspect("service", changed)["Version"]["Index"] == before:
                    if time.monotonic() - sent > 60:
                        raise SystemExit("no write within 60 s")
                    time.sleep(0.02)
                took = time.monotonic() - sent
                print(
                    f"signed webhook -> first engine write (the changed service): {took:.2f} s; "
                    f"target <= 2 s: {'met' if took <= 2 else 'NOT met'}"
                )
            finally:
                proc.terminate()
                proc.wait(15)
        finally:
            subprocess.run(["docker", "stack", "rm", stack], capture_output=True, timeout=120)
            remove_history(engine, stack)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
