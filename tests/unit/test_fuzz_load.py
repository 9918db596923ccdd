"""Hostile input: mutated stack files never crash `validate` or `config`.

Hypothesis mutates valid stack files (types, keys, values, YAML structure, anchors and aliases,
interpolation syntax, invalid UTF-8, huge and deep documents) and runs `stackctl validate` and
`stackctl config` in-process on each. Whatever the input, the command must either succeed or
fail with a diagnostic: exit code 0, 1 or 2, no traceback, no "internal error", bounded time and
memory, and not one connection to the engine (DOCKER_HOST points at a socket that records them).

Every input that ever crashed is kept in tests/unit/fuzz_regressions/ and replayed here.
Under CI the search is derandomised (same examples every run); locally it explores:
STACKCTL_FUZZ_EXAMPLES=2000 python -m pytest tests/unit/test_fuzz_load.py
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from stackctl.cli import app
from stackctl.engine import gateway

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
REGRESSIONS = HERE / "fuzz_regressions"
CORPUS = REPO.parent / "shared" / "corpus" / "files"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
MAX_EXAMPLES = int(os.environ.get("STACKCTL_FUZZ_EXAMPLES", "120"))
SECONDS_PER_RUN = 10.0  # one validate/config of one (possibly hostile) file
MAX_RSS_BYTES = 2 << 30  # the whole fuzz run, in-process
ALLOWED_EXIT = {0, 1, 2}

SEED_STACKS = [
    """\
version: "3.8"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo ${GREETING:-hi}"]
    environment:
      A: "1"
      B: ${VAR}
    ports: ["8080:80", {target: 443, published: 8443, mode: host}]
    networks: [front, back]
    secrets: [db_pw]
    configs: [{source: app_conf, target: /etc/app.conf}]
    volumes: ["data:/data", "./local:/local:ro"]
    healthcheck: {test: ["CMD", "true"], interval: 10s, retries: 3}
    deploy:
      replicas: 2
      update_config: {parallelism: 1, delay: 5s, order: start-first, failure_action: rollback}
      restart_policy: {condition: on-failure, max_attempts: 3}
      resources: {limits: {cpus: "0.5", memory: 64M}}
      placement: {constraints: ["node.role == worker"]}
      labels: {traefik.enable: "true"}
  db:
    image: busybox
    deploy: {mode: global, endpoint_mode: dnsrr}
    networks: {back: {aliases: [database]}}
    logging: {driver: json-file, options: {max-size: 10m}}
networks:
  front: {}
  back: {driver: overlay, attachable: true, driver_opts: {encrypted: ""}}
volumes:
  data: {driver: local}
secrets:
  db_pw: {file: ./pw.txt}
configs:
  app_conf: {file: ./app.conf}
""",
    """\
version: "3.3"
x-common: &common
  image: busybox
  labels: [a=b]
services:
  one:
    <<: *common
    user: "1000"
  two:
    <<: *common
    extra_hosts: ["h:10.0.0.1"]
    dns: 1.1.1.1
    stop_grace_period: 1m30s
secrets:
  ext: {external: true, name: "${SECRET_NAME:-real}"}
""",
    """\
services:
  only:
    image: "busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000"
    entrypoint: /bin/sh
    sysctls: {net.core.somaxconn: 1024}
    ulimits: {nofile: {soft: 100, hard: 200}, nproc: 10}
    cap_add: [NET_ADMIN]
    init: true
""",
]


def _seed_texts() -> list[str]:
    texts = list(SEED_STACKS)
    extra = [REPO / "tests" / "unit" / "data" / "load" / "normalize" / "all_service_keys.yml"]
    if CORPUS.is_dir():
        extra += sorted(CORPUS.glob("*.y*ml"))[:12]
    for path in extra:
        try:
            text = path.read_text()
            if isinstance(yaml.safe_load(text), dict):
                texts.append(text)
        except (OSError, yaml.YAMLError, UnicodeDecodeError):
            continue
    return texts


SEEDS = _seed_texts()

COMPOSE_KEYS = [
    "version", "services", "networks", "volumes", "secrets", "configs", "image", "command", "entrypoint",
    "environment", "env_file", "ports", "deploy", "replicas", "mode", "placement", "constraints",
    "preferences", "resources", "limits", "reservations", "cpus", "memory", "restart_policy", "condition",
    "update_config", "rollback_config", "parallelism", "delay", "order", "failure_action", "healthcheck",
    "test", "interval", "timeout", "retries", "start_period", "labels", "logging", "driver", "options",
    "external", "name", "file", "target", "source", "published", "protocol", "uid", "gid", "x-ext",
    "driver_opts", "attachable", "ipam", "config", "subnet", "aliases", "extends", "build", "links",
    "depends_on", "cap_add", "sysctls", "ulimits", "soft", "hard", "tmpfs", "stop_grace_period",
    "endpoint_mode", "max_replicas_per_node", "template_driver", "content", "<<", "", " ", "x-",
]

INTERPOLATION_PIECES = [
    "$", "$$", "${", "}", "${VAR}", "${VAR:-d}", "${VAR-d}", "${VAR:?must be set}", "${VAR?}", "${UNSET}",
    "${UNSET:?gone}", "${1X}", "${}", "${VAR:-${NESTED}}", "${VAR:-${UNSET:-${VAR}}}", "$VAR", "$UNSET",
    "${VAR:+x}", "${ VAR }", "${VAR:-}", "${VAR:-$$}", "$${VAR}", "${VAR", "${NESTED:-a:b}", "${é}",
    "${VAR:?${VAR}}", "${" * 50, "}" * 50,
]

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
    st.sampled_from(["10s", "1m30s", "-5s", "0", "1e309", "0x1F", "0o777", "512M", "1.5G", "-1", "yes", "no",
                     "on", "off", "~", "null", "busybox", "a:b:c", "80:80/udp", "host", "ingress",
                     "node.role==manager", "../../etc/passwd", "/dev/zero", "\t", "\x85", "\u2028"]),
)


@st.composite
def interpolated(draw: Any) -> str:
    parts = draw(st.lists(st.one_of(st.sampled_from(INTERPOLATION_PIECES), st.text(max_size=5)),
                          min_size=1, max_size=6))
    return "".join(parts)


values = st.recursive(
    st.one_of(scalars, interpolated()),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(COMPOSE_KEYS), st.text(max_size=8)), children, max_size=4),
    ),
    max_leaves=12,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


def _parent(root: Any, path: tuple[Any, ...]) -> Any:
    node = root
    for key in path[:-1]:
        node = node[key]
    return node


@st.composite
def mutated_data(draw: Any) -> Any:
    """A seed stack with 1-6 structural mutations: replace, delete, add, rename, wrap, retype."""
    root: Any = yaml.safe_load(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        paths = list(_paths(root))
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "delete", "add", "rename", "wrap", "interpolate", "retype"]))
        if not path:
            if op in ("replace", "retype"):
                root = draw(values)
            continue
        parent, key = _parent(root, path), path[-1]
        try:
            if op == "replace":
                parent[key] = draw(values)
            elif op == "delete":
                del parent[key]
            elif op == "add" and isinstance(parent[key], dict):
                parent[key][draw(st.sampled_from(COMPOSE_KEYS))] = draw(values)
            elif op == "add" and isinstance(parent[key], list):
                parent[key].append(draw(values))
            elif op == "rename" and isinstance(parent, dict):
                parent[draw(st.one_of(st.sampled_from(COMPOSE_KEYS), st.text(max_size=6)))] = parent.pop(key)
            elif op == "wrap":
                parent[key] = draw(st.sampled_from([[parent[key]], {"x": parent[key]}, str(parent[key])]))
            elif op == "interpolate":
                parent[key] = draw(interpolated())
            elif op == "retype":
                value = parent[key]
                parent[key] = draw(st.sampled_from([
                    str(value), [value] if not isinstance(value, list) else dict(enumerate(value)),
                    1, 1.5, True, None, {}, [],
                ]))
        except (KeyError, IndexError, TypeError):
            continue
    return root


def _dump(data: Any) -> bytes:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()
    except yaml.YAMLError:
        return yaml.safe_dump(str(data)).encode()


TEXT_FRAGMENTS = [
    b"&a ", b"*a", b"<<: *a\n", b"&x [*x]", b"? ", b": ", b"- ", b"\t", b"\n  ", b"{", b"}", b"[", b"]",
    b"'", b'"', b"!!binary ", b"!!python/object:os.system ", b"!!set ", b"!!omap ", b"!!timestamp ",
    b"%YAML 1.1\n", b"---\n", b"...\n", b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x00", b"\xef\xbb\xbf",
    b"#", b"|\n", b">-\n", b"${", b"$$", b"\r", b"\x1b[31m", b"\\u0000", b"\"\\x00\"",
]


@st.composite
def mutated_bytes(draw: Any) -> bytes:
    """YAML text of a mutated stack, then 0-4 byte-level edits (structure, encoding, syntax)."""
    text = _dump(draw(mutated_data())) if draw(st.booleans()) else draw(st.sampled_from(SEEDS)).encode()
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        pos = draw(st.integers(min_value=0, max_value=len(text)))
        op = draw(st.sampled_from(["insert", "delete", "duplicate", "indent"]))
        if op == "insert":
            piece = draw(st.one_of(st.sampled_from(TEXT_FRAGMENTS), st.binary(max_size=6)))
            text = text[:pos] + piece + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(min_value=1, max_value=20)):]
        elif op == "duplicate":
            lines = text.split(b"\n")
            i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            text = b"\n".join(lines[:i + 1] + [lines[i]] + lines[i + 1:])
        else:
            lines = text.split(b"\n")
            i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[i] = draw(st.sampled_from([b" ", b"   ", b"\t", b""])) + lines[i]
            text = b"\n".join(lines)
    return text


# --- the harness --------------------------------------------------------------------------------


class EngineTrap:
    """A unix socket that DOCKER_HOST points at; any connection to it is recorded."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connections = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(str(path))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def trap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineTrap]:
    folder = tmp_path_factory.mktemp("engine")
    trap = EngineTrap(folder / "docker.sock")
    yield trap
    trap.close()
    assert trap.connections == 0, "validate/config connected to the engine"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A stack folder with the files the seeds refer to."""
    folder = tmp_path_factory.mktemp("stack")
    (folder / "pw.txt").write_text("hunter2\n")
    (folder / "app.conf").write_text("a=1\n")
    (folder / "local").mkdir()
    return folder


@pytest.fixture(scope="module")
def no_engine_calls() -> Iterator[list[str]]:
    """engine.connect (the gateway's, which open_engine calls), replaced for this module: any call is
    recorded (and refused)."""
    calls: list[str] = []
    real = gateway.connect

    def refuse(*args: Any, **kwargs: Any) -> Any:
        calls.append(repr((args, kwargs)))
        return real(*args, **kwargs)

    gateway.connect = refuse  # type: ignore[assignment]
    yield calls
    gateway.connect = real  # type: ignore[assignment]
    assert calls == [], "validate/config called engine.connect"


COMMANDS = [
    ["validate"], ["validate", "--format", "json"], ["config"], ["config", "--format", "json"],
]


def check_input(data: bytes, workdir: Path, trap: EngineTrap, name: str = "stack.yml") -> None:
    """Run every command on `data`; assert a clean success or a diagnostic, fast, engine untouched."""
    path = workdir / name
    path.write_bytes(data)
    env = {"DOCKER_HOST": f"unix://{trap.path}", "DOCKER_CONTEXT": None, "STACKCTL_TRACEBACK": None,
           "VAR": "value", "NESTED": "inner", "SECRET_NAME": "s"}
    runner = CliRunner()
    before = trap.connections
    for command in COMMANDS:
        started = time.monotonic()
        result = runner.invoke(app, [*command, "-c", str(path)], env=env, catch_exceptions=True)
        elapsed = time.monotonic() - started
        output = result.output  # stdout and stderr, as a terminal shows them
        where = f"{' '.join(command)} on {data[:300]!r}"
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            f"{where}: raised {result.exception!r}")
        assert result.exit_code in ALLOWED_EXIT, f"{where}: exit {result.exit_code}\n{output}"
        assert "Traceback" not in output and "internal error" not in output, f"{where}:\n{output}"
        assert elapsed < SECONDS_PER_RUN, f"{where}: took {elapsed:.1f}s"
        if result.exit_code != 0:
            assert output.strip(), f"{where}: failed (exit {result.exit_code}) without saying why"
        if command == ["validate", "--format", "json"]:
            doc = json.loads(result.stdout)
            assert doc["ok"] is (result.exit_code == 0), f"{where}: {doc}"
    assert trap.connections == before, f"{name}: something connected to the engine"


# Under CI: the same examples every run and no example database (a red CI must be reproducible).
CI_SETTINGS: dict[str, Any] = {"derandomize": True, "database": None} if IN_CI else {}


@settings(max_examples=MAX_EXAMPLES, deadline=None, **CI_SETTINGS,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=mutated_bytes())
def test_mutated_stack_files_never_crash(data: bytes, workdir: Path, trap: EngineTrap,
                                         no_engine_calls: list[str]) -> None:
    check_input(data, workdir, trap)


@settings(max_examples=max(MAX_EXAMPLES // 3, 10), deadline=None, **CI_SETTINGS,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(value=values, where=st.sampled_from(["image", "command", "environment", "deploy", "ports",
                                            "labels", "healthcheck", "secrets", "networks", "volumes"]))
def test_any_value_under_any_service_key(value: Any, where: str, workdir: Path, trap: EngineTrap,
                                         no_engine_calls: list[str]) -> None:
    stack = {"version": "3.8", "services": {"s": {"image": "busybox", where: value}}}
    check_input(_dump(stack), workdir, trap)


def test_memory_stayed_bounded() -> None:
    """ru_maxrss is the peak of this whole process (KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert peak < MAX_RSS_BYTES, f"peak RSS {peak / 2**20:.0f} MiB"


# --- hostile documents, each in a memory- and time-limited process -------------------------------


def _alias_bomb(levels: int = 9, fanout: int = 9) -> bytes:
    lines = ['version: "3.8"', "x-l0: &l0 [" + ", ".join(['"lol"'] * fanout) + "]"]
    for i in range(1, levels):
        lines.append(f"x-l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fanout) + "]")
    lines += ["services:", "  a:", "    image: busybox", f"    command: *l{levels - 1}"]
    return ("\n".join(lines) + "\n").encode()


def _huge_document() -> bytes:
    services = "".join(f"  s{i}:\n    image: busybox\n    environment: {{A: \"{'x' * 200}\"}}\n"
                       for i in range(5000))
    return f'version: "3.8"\nservices:\n{services}'.encode()


HOSTILE = {
    "alias_bomb.yml": _alias_bomb(),
    "deep_lists.yml": b'version: "3.8"\nservices:\n  a:\n    image: busybox\n    labels: '
                      + b"[" * 100000 + b"]" * 100000 + b"\n",
    "deep_maps.yml": b'version: "3.8"\nx-d: ' + b"{a: " * 50000 + b"1" + b"}" * 50000 + b"\n",
    "deep_block.yml": b'version: "3.8"\nx-d:\n' + b"".join(b" " * i + b"- \n" for i in range(1, 3000)),
    "huge_string.yml": b'version: "3.8"\nservices:\n  a:\n    image: "' + b"b" * (16 << 20) + b'"\n',
    "huge_document.yml": _huge_document(),
    "many_keys.yml": b'version: "3.8"\nx-k:\n' + b"".join(b"  k%d: %d\n" % (i, i) for i in range(100000)),
    "interpolation_storm.yml": b'version: "3.8"\nservices:\n  a:\n    image: "' + b"${VAR:-" * 5000
                               + b"x" + b"}" * 5000 + b'"\n',
    "long_line_of_dollars.yml": b'version: "3.8"\nservices:\n  a:\n    image: "' + b"$" * 1_000_000 + b'"\n',
    "recursive_merge.yml": b'version: "3.8"\nservices:\n  a: &a\n    image: busybox\n    deploy:\n'
                           b"      <<: *a\n",
}


def _run_limited(path: Path, command: list[str], trap: EngineTrap) -> subprocess.CompletedProcess[str]:
    """stackctl in a child limited to 2 GiB of address space and 60 s of CPU."""

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        resource.setrlimit(resource.RLIMIT_CPU, (60, 60))

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "STACKCTL_"))}
    env["DOCKER_HOST"] = f"unix://{trap.path}"
    return subprocess.run([sys.executable, "-m", "stackctl", *command, "-c", str(path)], env=env,
                          capture_output=True, text=True, timeout=90, preexec_fn=limits)


def check_in_child(path: Path, trap: EngineTrap) -> None:
    """The same promises as check_input, for inputs that could take the whole process down
    (a segfault in the C YAML parser, memory exhaustion): each command in a limited child."""
    for command in (["validate"], ["validate", "--format", "json"], ["config"]):
        started = time.monotonic()
        proc = _run_limited(path, command, trap)
        elapsed = time.monotonic() - started
        output = proc.stdout + proc.stderr
        what = f"{path.name} {' '.join(command)}"
        assert proc.returncode in ALLOWED_EXIT, f"{what}: exit {proc.returncode}\n{output[-2000:]}"
        assert "Traceback" not in output and "internal error" not in output, output[-2000:]
        assert "MemoryError" not in output and "RecursionError" not in output, output[-2000:]
        assert elapsed < 60, f"{what}: {elapsed:.0f}s"
        if proc.returncode:
            assert output.strip(), f"{what}: failed without a diagnostic"


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_documents(name: str, tmp_path: Path, trap: EngineTrap) -> None:
    path = tmp_path / name
    path.write_bytes(HOSTILE[name])
    check_in_child(path, trap)


# --- every input that once crashed ----------------------------------------------------------------


def _regressions() -> list[Path]:
    return sorted(p for p in REGRESSIONS.iterdir() if p.is_file() and p.name != "README.md") \
        if REGRESSIONS.is_dir() else []


@pytest.mark.parametrize("path", _regressions(), ids=lambda p: p.name)
def test_regression(path: Path, trap: EngineTrap) -> None:
    check_in_child(path, trap)
