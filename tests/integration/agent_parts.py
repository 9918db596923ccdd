"""Real parts for the agent's lab tests: a bare git repository with pushes, `git daemon` on an
ephemeral loopback port, the agent as a process, a webhook receiver for notifications."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ann Operator",
    "GIT_AUTHOR_EMAIL": "ann@example.invalid",
    "GIT_COMMITTER_NAME": "Ann Operator",
    "GIT_COMMITTER_EMAIL": "ann@example.invalid",
}


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy (bounded); fail with `what`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def git(*args: str, cwd: Path | str) -> str:
    cp = subprocess.run(
        ["git", *args],
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **GIT_ENV},
    )
    assert cp.returncode == 0, f"git {' '.join(args)}: {cp.stderr}"
    return cp.stdout.strip()


class Repo:
    """A bare repository (`bare`) and a clone to commit and push from (`work`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bare = root / "stacks.git"
        self.work = root / "work"
        root.mkdir(parents=True, exist_ok=True)
        git("init", "-q", "--bare", "-b", "main", str(self.bare), cwd=root)
        git("init", "-q", "-b", "main", str(self.work), cwd=root)
        git("remote", "add", "origin", str(self.bare), cwd=self.work)

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def push(self, files: dict[str, Any], message: str, branch: str = "main") -> str:
        """Write files (dicts as YAML), commit, push; the new commit's SHA."""
        if branch != "main":
            git("checkout", "-q", "-B", branch, cwd=self.work)
        for name, content in files.items():
            path = self.work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content if isinstance(content, str) else yaml.safe_dump(content, sort_keys=False))
        git("add", "-A", cwd=self.work)
        git("commit", "-q", "--allow-empty", "-m", message, cwd=self.work)
        git("push", "-q", "origin", f"HEAD:refs/heads/{branch}", cwd=self.work)
        sha = git("rev-parse", "HEAD", cwd=self.work)
        if branch != "main":
            git("checkout", "-q", "main", cwd=self.work)
        return sha


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GitDaemon:
    """`git daemon` serving the repository's folder on 127.0.0.1 (read-only)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={self.base}",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                str(self.base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def listening() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                return False

        wait_for(listening, 15, "git daemon to listen")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None


class Receiver:
    """A notification receiver on 127.0.0.1: the JSON bodies posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.bodies.append(json.loads(data))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class AgentProcess:
    """`stackctl agent run --config FILE` as a process; its URL from its `listening` line."""

    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.log_path = config.parent / "agent.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "stackctl", "agent", "run", "--config", str(config)],
            cwd=str(REPO_ROOT),
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        line = wait_for(lambda: self._listening(), 30, "the agent to listen")
        self.url = line.split("url=", 1)[1].split()[0]

    def _listening(self) -> str | None:
        if self.proc.poll() is not None:
            raise AssertionError(f"the agent exited ({self.proc.returncode}): {self.text()}")
        for line in self.text().splitlines():
            if "event=listening" in line:
                return line
        return None

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def post_expecting(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST with `Expect: 100-continue`, as curl sends a large body: the headers first, the body only
        after the server's 100. A server that refuses on Content-Length (413) answers before the body
        is sent, so the answer never races a half-sent body (urllib's EPIPE on a closed socket)."""
        import http.client
        from urllib.parse import urlsplit

        url = urlsplit(self.url)
        conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
        try:
            conn.putrequest("POST", path)
            for key, value in {**headers, "Content-Length": str(len(body)), "Expect": "100-continue"}.items():
                conn.putheader(key, value)
            conn.endheaders()
            assert conn.sock is not None
            conn.sock.settimeout(10)
            first = conn.sock.recv(65536, socket.MSG_PEEK)
            if first.startswith(b"HTTP/1.1 100"):
                conn.sock.recv(len(first.split(b"\r\n\r\n", 1)[0]) + 4)  # the 100 and its blank line
                conn.send(body)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    def stack(self, name: str) -> dict[str, Any]:
        status, body = self.get("/api/v1/stacks")
        assert status == 200, body
        doc = json.loads(body)
        assert doc["schema"] == "stackctl.agent.stacks/v1"
        return next(s for s in doc["stacks"] if s["name"] == name)

    def stop(self) -> float:
        """SIGTERM; how long the agent took to exit."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()
        return time.monotonic() - started


def write_config(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path
