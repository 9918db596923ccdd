"""A secret's value never appears: not in any command's output or --debug log (text and JSON),
not in the revision history stored in the swarm, not in any spec or label the stack leaves there.

Every command runs on a stack with secrets and configs, then again after the secret file
changed (so diff, deploy and rollback all have a secret change to talk about). Each output is
searched for the values themselves and for their base64, hex and JSON-escaped forms.
"""

from __future__ import annotations

import base64
import json
import subprocess
import textwrap
import uuid
import zlib
from pathlib import Path
from typing import Any

import pytest

STACK_PREFIX = "rl"
pytestmark = pytest.mark.integration


def _forms(value: str) -> list[str]:
    """The ways a value can show up in text: itself, base64 (of it and with its newline), hex."""
    raw = value.encode()
    out = {value, raw.hex()}
    for data in (raw, raw + b"\n"):
        enc = base64.b64encode(data).decode()
        out.add(enc.rstrip("="))
        out.add(base64.urlsafe_b64encode(data).decode().rstrip("="))
    return sorted(out)


def _assert_clean(what: str, text: str, secrets: list[str]) -> None:
    for value in secrets:
        for form in _forms(value):
            assert form not in text, f"{what}: the secret value leaked (as {form!r}):\n{text[-3000:]}"


def _decode_all(data: bytes) -> str:
    """A stored blob and whatever base64/zlib layers it has, as one searchable text."""
    texts = [data.decode(errors="replace")]
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("data"), str):
        try:
            texts.append(zlib.decompress(base64.b64decode(doc["data"])).decode(errors="replace"))
        except (ValueError, zlib.error):
            pass
    return "\n".join(texts)


def _stack_file(folder: Path) -> Path:
    (folder / "app.conf").write_text("listen=8080\n")
    path = folder / "stack.yml"
    path.write_text(textwrap.dedent("""\
        version: "3.8"
        services:
          app:
            image: busybox:latest
            command: ["sh", "-c", "echo started; sleep 3600"]
            environment:
              NOT_A_SECRET: rl-visible-marker
            secrets:
              - db_pw
              - source: api_key
                target: /run/secrets/api
                mode: 0400
            configs:
              - source: app_conf
                target: /etc/app.conf
            deploy:
              replicas: 1
          idle:
            image: busybox:latest
            secrets: [db_pw]
            deploy:
              replicas: 0
        secrets:
          db_pw:
            file: ./db_pw.txt
          api_key:
            file: ./api_key.txt
            labels:
              purpose: test
        configs:
          app_conf:
            file: ./app.conf
        """))
    return path


def _swarm_texts(stack: str, env: dict[str, str]) -> dict[str, str]:
    """Everything the swarm holds about the stack: specs, labels, and the stored history."""
    texts: dict[str, str] = {}

    def docker(*args: str) -> str:
        return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=60).stdout

    for kind in ("service", "network", "secret", "config"):
        ids = docker(kind, "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}").split()
        if ids:
            texts[f"{kind} inspect"] = docker(kind, "inspect", *ids)
    history_filter = f"label=com.docker.stackctl.history={stack}"
    history_ids = docker("config", "ls", "-q", "--filter", history_filter).split()
    texts["history configs"] = ""
    if history_ids:
        for cfg in json.loads(docker("config", "inspect", *history_ids)):
            blob = base64.b64decode(cfg["Spec"].get("Data") or "")
            texts["history configs"] += json.dumps(cfg) + "\n" + _decode_all(blob) + "\n"
    return texts


def _cleanup_history(stack: str, env: dict[str, str]) -> None:
    history_filter = f"label=com.docker.stackctl.history={stack}"
    ids = subprocess.run(["docker", "config", "ls", "-q", "--filter", history_filter],
                         env=env, capture_output=True, text=True, timeout=30).stdout.split()
    if ids:
        subprocess.run(["docker", "config", "rm", *ids], env=env, capture_output=True, timeout=30)


def test_no_command_leaks_a_secret(stack_name: str, lab_env: dict[str, str], run_stackctl: Any,
                                   tmp_path: Path) -> None:
    first = f"rl-first-{uuid.uuid4().hex}"
    second = f"rl-second-{uuid.uuid4().hex}"
    api_key = f"rl-apikey-{uuid.uuid4().hex}"
    (tmp_path / "db_pw.txt").write_text(first + "\n")
    (tmp_path / "api_key.txt").write_text(api_key)
    stack_file = str(_stack_file(tmp_path))
    values = [first, second, api_key]
    outputs: list[tuple[str, int]] = []
    texts: list[str] = []

    def run(*args: str, ok: tuple[int, ...] = (0,)) -> None:
        proc = run_stackctl(*args, env=lab_env, timeout=240)
        what = "stackctl " + " ".join(args)
        text = proc.stdout + proc.stderr
        assert "Traceback" not in text and "internal error" not in text, f"{what}:\n{text[-3000:]}"
        _assert_clean(what, text, values)
        outputs.append((what, proc.returncode))
        texts.append(text)
        assert proc.returncode in ok, f"{what}: exit {proc.returncode}\n{text[-3000:]}"

    try:
        for fmt in ("text", "json"):
            run("validate", "-c", stack_file, "--format", fmt)
        for fmt in ("yaml", "json"):
            run("config", "-c", stack_file, "--format", fmt)
        for fmt in ("text", "json"):
            run("diff", stack_name, "-c", stack_file, "--format", fmt, "--debug", ok=(2,))
        run("deploy", stack_name, "-c", stack_file, "--timeout", "90s", "--debug")
        run("deploy", stack_name, "-c", stack_file, "--timeout", "90s", "--debug", "--format", "json")
        for fmt in ("table", "json"):
            run("ps", stack_name, "--format", fmt, "--debug")
            run("services", stack_name, "--format", fmt, "--debug")
            run("history", stack_name, "--format", fmt, "--debug")
            run("history", stack_name, "1", "--format", fmt, "--debug")  # a revision's stored config
        run("logs", stack_name, "--debug")

        # The secret changes: diff, deploy and rollback all have something to say about it.
        (tmp_path / "db_pw.txt").write_text(second + "\n")
        for fmt in ("text", "json"):
            run("diff", stack_name, "-c", stack_file, "--format", fmt, "--debug", ok=(0, 2))
        run("deploy", stack_name, "-c", stack_file, "--timeout", "90s", "--debug", ok=(0, 1))
        for fmt in ("table", "json"):
            run("history", stack_name, "--format", fmt, "--debug")
            run("history", stack_name, "1", "2", "--format", fmt, "--debug", ok=(0, 1))  # revision diff
        run("rollback", stack_name, "--plan-only", "--debug", ok=(0, 1))
        run("rollback", stack_name, "--timeout", "90s", "--debug", ok=(0, 1, 3, 4, 5))
        run("rollback", stack_name, "--timeout", "90s", "--debug", "--format", "json", ok=(0, 1, 3, 4, 5))
        run("ps", stack_name, "--format", "json", "--debug", "--no-trunc")
        run("logs", stack_name, "app", "--debug")

        # The control: a plain environment value does show up (in `config`, text and JSON), so the
        # outputs really were searched.
        assert sum("rl-visible-marker" in text for text in texts) >= 2
        for where, text in _swarm_texts(stack_name, lab_env).items():
            _assert_clean(f"the swarm's {where}", text, values)
        history = _swarm_texts(stack_name, lab_env)["history configs"]
        assert "db_pw.txt" in history, "the stored revision history was not found or not decoded"
        assert "rl-visible-marker" in history, "the stored revision history was not decoded"

        run("rm", stack_name, "--debug")
        print("\n".join(f"exit {code}: {what}" for what, code in outputs))
    finally:
        run_stackctl("rm", stack_name, env=lab_env, timeout=120)
        _cleanup_history(stack_name, lab_env)
