"""SOPS/age-encrypted secrets deployed on the lab (docs/secrets.md).

Keys and encrypted files are made on the fly; plaintext reaches sops through a pipe only. A
one-shot task reads the secret back (`cat /run/secrets/X | sha256sum`: its logs carry the
digest, not the value); a changed value re-encrypted is a new version with the old one kept;
a wrong key and a tampered file stop before any write, naming the file; afterwards no file under
the working tree, /tmp, /run or /dev/shm holds a value.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.sops_helpers import encrypt, leftover_plaintext, make_key, stackctl, write_sops_config

STACK_PREFIX = "sops"
pytestmark = pytest.mark.integration


def _stack_file(folder: Path) -> Path:
    path = folder / "stack.yml"
    path.write_text(textwrap.dedent("""\
        version: "3.8"
        services:
          reader:
            image: busybox:latest
            command:
              - sh
              - -c
              - >-
                echo db=$$(cat /run/secrets/db_password | sha256sum);
                echo tok=$$(cat /run/secrets/token | sha256sum); echo ENDREAD
            secrets: [db_password, token]
            deploy:
              restart_policy:
                condition: none
        secrets:
          db_password:
            file: ./db.sops.yaml
            x-data-key: database.password
          token:
            file: ./token.age
        """))
    return path


def _docker(env: dict[str, str], *args: str) -> str:
    return subprocess.run(["docker", *args], env=env, capture_output=True, text=True, timeout=60).stdout


def _digests_read_back(stack: str, env: dict[str, str], want: str) -> dict[str, str]:
    """What the newest reader task printed, once it printed `want`'s line (polled, bounded)."""
    deadline = time.monotonic() + 90
    text = ""
    while time.monotonic() < deadline:
        text = subprocess.run(["docker", "service", "logs", "--raw", f"{stack}_reader"], env=env,
                              capture_output=True, text=True, timeout=30).stdout
        if want in text:
            break
        time.sleep(1)
    assert want in text, f"the reader never printed {want}:\n{text}"
    return dict(re.findall(r"^(db|tok)=([0-9a-f]{64})", text, re.M))


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _stack_objects(stack: str, env: dict[str, str]) -> list[str]:
    label = f"label=com.docker.stack.namespace={stack}"
    return [line for kind in ("service", "secret", "config", "network")
            for line in _docker(env, kind, "ls", "-q", "--filter", label).split()]


def _age_file(path: Path, recipient: str, value: str) -> None:
    """An armoured age file made by Debian's `age` (plaintext through a pipe)."""
    done = subprocess.run(["age", "-a", "-r", recipient, "-o", str(path)], input=value.encode(),
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr


def _no_plaintext_left(values: list[str]) -> None:
    deadline = time.monotonic() + 60  # the containers' secret mounts go with the tasks
    found: list[str] = []
    while time.monotonic() < deadline:
        found = [path for value in values for path in leftover_plaintext(value)]
        if not found:
            return
        time.sleep(2)
    raise AssertionError(f"plaintext left in files: {found}")


def test_encrypted_secrets_deploy_rotate_and_leave_no_plaintext(
        tmp_path: Path, stack_name: str, lab_env: dict[str, str]) -> None:
    key = tmp_path / "keys.txt"
    recipient = make_key(key)
    write_sops_config(tmp_path, recipient)
    first, second, token = (f"sops-{tag}-{uuid.uuid4().hex}" for tag in ("first", "second", "token"))
    values = [first, second, token]
    encrypt(tmp_path, "db.sops.yaml", f"database:\n  user: app\n  password: {first}\n")
    _age_file(tmp_path / "token.age", recipient, token)
    stack_file = str(_stack_file(tmp_path))
    env = {**lab_env, "SOPS_AGE_KEY_FILE": str(key)}
    outputs: list[str] = []

    def run(*args: str, ok: tuple[int, ...] = (0,)) -> str:
        done = stackctl(*args, cwd=tmp_path, env=env, timeout=240)
        text = (done.stdout + done.stderr).decode()
        outputs.append(text)
        assert done.returncode in ok, f"stackctl {' '.join(args)}: exit {done.returncode}\n{text}"
        return text

    try:
        assert "OK" in run("validate", "-c", stack_file)
        assert "sha256:" in run("diff", stack_name, "-c", stack_file, ok=(2,))
        run("deploy", stack_name, "-c", stack_file, "--detach")
        got = _digests_read_back(stack_name, lab_env, "ENDREAD")
        assert got == {"db": _sha(first), "tok": _sha(token)}, "the swarm secrets do not hold the plaintext"

        # Rotation: the value changes, the file is encrypted again: a new version, the old one kept.
        encrypt(tmp_path, "db.sops.yaml", f"database:\n  user: app\n  password: {second}\n")
        plan = run("diff", stack_name, "-c", stack_file, ok=(2,))
        new_name = f"{stack_name}_db_password-{_sha(second)[:8]}"
        assert new_name in plan and f"sha256:{_sha(second)[:12]}" in plan, plan
        _docker(lab_env, "service", "rm", f"{stack_name}_reader")  # a fresh one-shot task reads again
        run("deploy", stack_name, "-c", stack_file, "--detach", "--keep-versions", "1")
        got = _digests_read_back(stack_name, lab_env, "ENDREAD")
        assert got["db"] == _sha(second)
        secrets = json.loads(_docker(lab_env, "secret", "ls", "--format", "{{json .Name}}",
                                     "--filter", f"label=com.docker.stack.namespace={stack_name}")
                             .replace("\n", ",").rstrip(",").join("[]"))
        assert new_name in secrets and f"{stack_name}_db_password" in secrets, secrets  # the old one kept

        history = run("history", stack_name, "2", "--format", "json")
        for text in outputs:
            for value in values:
                assert value not in text, "a secret value was printed"
        assert "db.sops.yaml" in history
        run("rm", stack_name)
    finally:
        stackctl("rm", stack_name, cwd=tmp_path, env=lab_env)
    _no_plaintext_left(values)


@pytest.mark.parametrize("fault", ["wrong key", "tampered", "no key"])
def test_a_file_that_does_not_decrypt_stops_before_any_write(
        fault: str, tmp_path: Path, stack_name: str, lab_env: dict[str, str]) -> None:
    key = tmp_path / "keys.txt"
    recipient = make_key(key)
    make_key(tmp_path / "other.txt")  # someone else's key
    write_sops_config(tmp_path, recipient)
    value = f"sops-fault-{uuid.uuid4().hex}"
    path = encrypt(tmp_path, "db.sops.yaml", f"database:\n  password: {value}\n")
    _age_file(tmp_path / "token.age", recipient, f"token-{value}")
    stack_file = str(_stack_file(tmp_path))
    env: dict[str, Any] = {**lab_env, "XDG_CONFIG_HOME": str(tmp_path / "none")}
    env.pop("SOPS_AGE_KEY", None)
    env.pop("SOPS_AGE_KEY_FILE", None)
    if fault == "wrong key":
        env["SOPS_AGE_KEY_FILE"] = str(tmp_path / "other.txt")
    elif fault == "tampered":
        env["SOPS_AGE_KEY_FILE"] = str(key)
        text = path.read_text()
        mac = re.search(r"mac: ENC\[AES256_GCM,data:(.)", text)
        assert mac is not None
        flipped = "A" if mac.group(1) != "A" else "B"
        path.write_text(text[:mac.start(1)] + flipped + text[mac.end(1):])
    reason = {"wrong key": "wrong key", "tampered": "tampered", "no key": "no key"}[fault]

    validate = stackctl("validate", "-c", stack_file, "--format", "json", cwd=tmp_path, env=env)
    assert validate.returncode == 1
    diagnostics = json.loads(validate.stdout)["diagnostics"]
    about_db = [d for d in diagnostics if "db.sops.yaml" in d["message"]]
    assert about_db and reason in about_db[0]["message"], diagnostics
    assert about_db[0]["file"].endswith("stack.yml") and about_db[0]["line"], about_db[0]

    deploy = stackctl("deploy", stack_name, "-c", stack_file, "--detach", cwd=tmp_path, env=env)
    text = (deploy.stdout + deploy.stderr).decode()
    assert deploy.returncode == 1, text
    assert str(path) in text and reason in text, text
    assert value not in text and "Traceback" not in text
    assert _stack_objects(stack_name, lab_env) == [], "something was written"
    _no_plaintext_left([value, f"token-{value}"])
