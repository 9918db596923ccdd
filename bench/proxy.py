"""A counting proxy in front of the Engine's unix socket.

Both tools talk to it instead of the manager (DOCKER_HOST=unix://<proxy socket>), so their Engine API
calls are counted the same way without touching the product. The proxy forwards bytes untouched and
parses only the client-to-engine direction, far enough to find where each HTTP request starts.
"""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
_VERSION_PREFIX = re.compile(r"^/v\d+\.\d+")
_OBJECT_ID = re.compile(r"/(services|networks|secrets|configs|tasks|nodes|containers)/([^/]+)")


def route(method: str, target: str) -> str:
    """`POST /v1.41/services/abc/update?version=3` -> `POST /services/{id}/update`."""
    path = _VERSION_PREFIX.sub("", target.split("?", 1)[0])

    def generic(match: re.Match[str]) -> str:
        return match.group(0) if match.group(2) == "create" else f"/{match.group(1)}/{{id}}"

    return f"{method} {_OBJECT_ID.sub(generic, path)}"


@dataclass
class CallCounts:
    """Requests seen since the last reset, by route."""

    routes: Counter[str] = field(default_factory=Counter)

    @property
    def reads(self) -> int:
        return sum(n for r, n in self.routes.items() if r.split(" ", 1)[0] not in WRITE_METHODS)

    @property
    def writes(self) -> int:
        return sum(n for r, n in self.routes.items() if r.split(" ", 1)[0] in WRITE_METHODS)

    @property
    def total(self) -> int:
        return sum(self.routes.values())


class RequestScanner:
    """Finds request boundaries in an HTTP/1.1 client stream (Content-Length or chunked bodies)."""

    def __init__(self, on_request: Callable[[str, str], None]) -> None:
        self._on_request = on_request
        self._buf = b""
        self._state = "head"
        self._remaining = 0
        self._raw = False  # after an Upgrade (hijacked stream): stop parsing

    def feed(self, data: bytes) -> None:
        if self._raw:
            return
        self._buf += data
        while self._buf and not self._raw:
            if self._state == "head":
                end = self._buf.find(b"\r\n\r\n")
                if end < 0:
                    return
                head, self._buf = self._buf[:end].decode("latin-1"), self._buf[end + 4:]
                self._start(head)
            elif self._state == "body":
                take = min(self._remaining, len(self._buf))
                self._buf, self._remaining = self._buf[take:], self._remaining - take
                if self._remaining:
                    return
                self._state = "head"
            elif self._state == "chunk-size":
                end = self._buf.find(b"\r\n")
                if end < 0:
                    return
                size = int(self._buf[:end].split(b";", 1)[0] or b"0", 16)
                self._buf = self._buf[end + 2:]
                if size:
                    self._state, self._remaining = "chunk-data", size + 2
                else:
                    self._state = "trailer"
            elif self._state == "chunk-data":
                take = min(self._remaining, len(self._buf))
                self._buf, self._remaining = self._buf[take:], self._remaining - take
                if self._remaining:
                    return
                self._state = "chunk-size"
            elif self._state == "trailer":
                end = self._buf.find(b"\r\n")
                if end < 0:
                    return
                line, self._buf = self._buf[:end], self._buf[end + 2:]
                if not line:
                    self._state = "head"

    def _start(self, head: str) -> None:
        lines = head.split("\r\n")
        while lines and not lines[0]:
            lines.pop(0)
        if not lines:
            return
        parts = lines[0].split(" ")
        method, target = parts[0], parts[1] if len(parts) > 1 else "/"
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        self._on_request(method, target)
        if "upgrade" in headers.get("connection", "").lower():
            self._raw = True
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = "chunk-size"
        elif int(headers.get("content-length", "0") or 0):
            self._state, self._remaining = "body", int(headers["content-length"])
        else:
            self._state = "head"


class CountingProxy:
    """Listen on `listen_path`, forward every connection to `engine_path`, count the requests."""

    def __init__(self, listen_path: Path, engine_path: str) -> None:
        self.listen_path = listen_path
        self.engine_path = engine_path
        self._lock = threading.Lock()
        self._counts = CallCounts()
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []

    @property
    def docker_host(self) -> str:
        return f"unix://{self.listen_path}"

    def reset(self) -> CallCounts:
        """The counts so far; start again from zero."""
        with self._lock:
            counts, self._counts = self._counts, CallCounts()
        return counts

    def _count(self, method: str, target: str) -> None:
        with self._lock:
            self._counts.routes[route(method, target)] += 1

    def start(self) -> CountingProxy:
        self.listen_path.unlink(missing_ok=True)
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(str(self.listen_path))
        server.listen(128)
        self._server = server
        thread = threading.Thread(target=self._accept_loop, name="bench-proxy", daemon=True)
        thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            try:
                self._server.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._server.close()
            self._server = None
        self.listen_path.unlink(missing_ok=True)

    def __enter__(self) -> CountingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._server is not None
        server = self._server
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.connect(self.engine_path)
        except OSError:
            client.close()
            return
        scanner = RequestScanner(self._count)
        back = threading.Thread(target=_pipe, args=(upstream, client, None), daemon=True)
        back.start()
        _pipe(client, upstream, scanner)
        back.join(timeout=30)


def _pipe(source: socket.socket, sink: socket.socket, scanner: RequestScanner | None) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            if scanner is not None:
                scanner.feed(data)
            sink.sendall(data)
    except OSError:
        pass
    for sock in (sink, source):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    if scanner is None:  # the engine-to-client direction ends last and closes both
        source.close()
        sink.close()
