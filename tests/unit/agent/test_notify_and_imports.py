"""Notifications (message shape, retries with backoff, never blocking) and what the CLI imports."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stackctl.agent.config import NotifyConfig
from stackctl.agent.core import PassResult
from stackctl.agent.notify import Notifier, message

HEAVY = ("starlette", "uvicorn", "prometheus_client", "croniter", "httpx", "anyio", "stackctl.agent")


def result(**kw: Any) -> PassResult:
    base: dict[str, Any] = {
        "stack": "shop",
        "status": "rolled back",
        "exit_code": 4,
        "commit": "a" * 40,
        "wrote": True,
        "duration": 1.0,
        "plan_summary": "1 to update",
        "subject": "bump",
    }
    base.update(kw)
    return PassResult(**base)


def test_message_is_slack_compatible() -> None:
    doc = message(result())
    assert doc["text"].startswith('❌ stack shop: rolled back at git aaaaaaaaaaaa "bump" (1 to update)')
    assert doc["stack"] == "shop" and doc["commit"] == "a" * 40 and doc["plan"] == "1 to update"


def test_retries_with_backoff_then_delivers() -> None:
    answers = [500, 503, 200]
    bodies: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(answers.pop(0))
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        slept: list[float] = []
        lines: list[str] = []
        notifier = Notifier(
            (NotifyConfig(f"http://127.0.0.1:{server.server_address[1]}/x"),),
            lines.append,
            sleep=slept.append,
        )
        notifier.on_pass(result(wrote=False))  # unchanged passes send nothing
        assert notifier.queue.empty()
        assert notifier.deliver(notifier.targets[0], json.dumps(message(result())).encode())
        assert slept == [1.0, 2.0] and len(bodies) == 3 and notifier.sent == 1
    finally:
        server.shutdown()
        server.server_close()


def test_unreachable_receiver_is_dropped_with_its_host_only() -> None:
    lines: list[str] = []
    notifier = Notifier(
        (NotifyConfig("http://user:tok@127.0.0.1:9/hook/SECRETPATH", timeout=0.5),),
        lines.append,
        sleep=lambda s: None,
    )
    assert not notifier.deliver(notifier.targets[0], b"{}")
    assert notifier.dropped == 1 and "host=127.0.0.1" in lines[0]
    assert "SECRETPATH" not in lines[0] and "tok" not in lines[0]


def _modules_after(code: str) -> list[str]:
    script = (
        "import sys\n"
        + code
        + "\nprint('MODULES:' + ' '.join(m for m in sys.modules if m.startswith("
        + repr(HEAVY)
        + ")))"
    )
    cp = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={"DOCKER_HOST": "unix:///nonexistent/docker.sock", "PATH": "/usr/bin:/bin"},
    )
    assert "MODULES:" in cp.stdout, cp.stderr
    return cp.stdout.rsplit("MODULES:", 1)[1].split()


def test_help_and_deploy_do_not_import_the_agents_libraries(tmp_path: Any) -> None:
    stack = tmp_path / "s.yml"
    stack.write_text("version: '3.8'\nservices:\n  web:\n    image: busybox\n")
    run = (
        "from stackctl import cli\ntry:\n    cli.app({args}, prog_name='stackctl')\n"
        "except SystemExit:\n    pass\n"
    )
    assert _modules_after(run.format(args="['--help']")) == []
    assert (
        _modules_after(run.format(args=f"['deploy', 'x', '-c', '{stack}', '--resolve-image', 'never']")) == []
    )
    assert _modules_after(run.format(args="['agent', '--help']")) == []
