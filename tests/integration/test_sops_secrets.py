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


def _logs_once_printed(service: str, env: dict[str, str], want: str, times: int = 1) -> str:
    """The service's logs, once its tasks printed `want` `times` times (polled, bounded)."""
    deadline = time.monotonic() + 90
    text = ""
    while time.monotonic() < deadline:
        text = subprocess.run(["docker", "service", "logs", "--raw", service], env=env,
                              capture_output=True, text=True, timeout=30).stdout
        if text.count(want) >= times:
            return text
        time.sleep(1)
    raise AssertionError(f"no task of {service} printed {want}:\n{text}")


def _digests_read_back(stack: str, env: dict[str, str], want: str) -> dict[str, str]:
    """What the newest reader task printed, once it printed `want`'s line."""
    text = _logs_once_printed(f"{stack}_reader", env, want)
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


def _env_stack_file(folder: Path) -> Path:
    path = folder / "env-stack.yml"
    path.write_text(textwrap.dedent("""\
        version: "3.8"
        services:
          app:
            image: busybox:latest
            command:
              - sh
              - -c
              - >-
                echo key=$$(echo -n "$$API_KEY" | sha256sum);
                echo url=$$(echo -n "$$DB_URL" | sha256sum); echo ENDENV; exec sleep 3600
            env_file: ./app.sops.env
            environment:
              DB_URL: postgres://app:${DB_PASSWORD}@db/app
              LEVEL: info
        """))
    return path


def _service_env(stack: str, env: dict[str, str]) -> dict[str, str]:
    raw = _docker(env, "service", "inspect", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}",
                  f"{stack}_app")
    return dict(item.split("=", 1) for item in json.loads(raw or "[]"))


def _stored_history(stack: str, env: dict[str, str]) -> str:
    """Every revision the swarm holds for `stack`, decoded (JSON text)."""
    import base64

    from stackctl.history import _decode

    ids = _docker(env, "config", "ls", "-q", "--filter", f"label=com.docker.stackctl.history={stack}").split()
    assert ids, "no revision recorded"
    datas = json.loads(_docker(env, "config", "inspect", "--format", "{{json .Spec.Data}}", *ids)
                       .replace("\n", ",").rstrip(",").join("[]"))
    return "\n".join(json.dumps(_decode(base64.b64decode(d))) for d in datas)


def test_encrypted_env_values_are_never_shown_stored_or_left(
        tmp_path: Path, stack_name: str, lab_env: dict[str, str]) -> None:
    """An encrypted env_file and an encrypted --env-file: config, diff, deploy (text, JSON, --debug),
    history and rollback show digests only; the swarm's service has the values (its task prints their
    sha256); the revisions stored in the swarm do not hold them; no file is left with them."""
    key = tmp_path / "keys.txt"
    write_sops_config(tmp_path, make_key(key))
    keys = [f"envkey-{tag}-{uuid.uuid4().hex}" for tag in ("one", "two", "three")]
    passwords = [f"envpw-{tag}-{uuid.uuid4().hex}" for tag in ("one", "two", "three")]
    values = keys + passwords
    url = [f"postgres://app:{pw}@db/app" for pw in passwords]

    def encrypt_values(n: int) -> None:
        encrypt(tmp_path, "app.sops.env", f"API_KEY={keys[n]}\n")
        encrypt(tmp_path, "vars.sops.env", f"DB_PASSWORD={passwords[n]}\n")

    encrypt_values(0)
    stack_file = str(_env_stack_file(tmp_path))
    files = ("-c", stack_file, "--env-file", "vars.sops.env")
    env = {**lab_env, "SOPS_AGE_KEY_FILE": str(key)}
    outputs: list[str] = []

    def run(*args: str, ok: tuple[int, ...] = (0,), stdout: bool = False) -> str:
        done = stackctl(*args, cwd=tmp_path, env=env, timeout=240)
        text = (done.stdout + done.stderr).decode()
        outputs.append(text)
        assert done.returncode in ok, f"stackctl {' '.join(args)}: exit {done.returncode}\n{text}"
        return done.stdout.decode() if stdout else text

    def shown(value: str, source: str | None = None) -> str:
        return f"sha256:{_sha(value)[:12]} (sensitive" + (f": from {source})" if source else ")")

    try:
        config = run("config", *files)
        assert f"API_KEY: '{shown(keys[0], 'app.sops.env')}'" in config, config
        assert f"DB_URL: '{shown(url[0], 'vars.sops.env')}'" in config and "LEVEL: info" in config, config
        as_json = json.loads(run("config", *files, "--format", "json", stdout=True))
        assert as_json["services"]["app"]["environment"]["API_KEY"] == shown(keys[0], "app.sops.env")
        run("diff", stack_name, *files, ok=(2,))
        run("diff", stack_name, *files, "--format", "json", ok=(2,))
        run("deploy", stack_name, *files, "--detach", "--debug")
        assert _service_env(stack_name, lab_env)["API_KEY"] == keys[0]  # the engine has the value
        label = _docker(lab_env, "service", "inspect", "--format",
                        '{{index .Spec.Labels "com.docker.stackctl.sensitive"}}', f"{stack_name}_app")
        assert label.split() == ["environment.API_KEY,environment.DB_URL"], label  # names, never values
        _logs_once_printed(f"{stack_name}_app", lab_env, f"key={_sha(keys[0])}")

        # a new value, encrypted again: digests on both sides, in text, --debug and JSON
        encrypt_values(1)
        plan = run("diff", stack_name, *files, "--debug", ok=(2,))
        assert (f"environment.API_KEY: {shown(keys[0])} → {shown(keys[1], 'app.sops.env')}") in plan, plan
        assert (f"environment.DB_URL: {shown(url[0])} → {shown(url[1], 'vars.sops.env')}") in plan, plan
        doc = json.loads(run("diff", stack_name, *files, "--format", "json", ok=(2,), stdout=True))
        changes = {c["compose_path"]: c for a in doc["actions"] for c in a["changes"]}
        assert changes["environment.API_KEY"]["new"] == shown(keys[1], "app.sops.env"), changes
        deployed = json.loads(run("deploy", stack_name, *files, "--detach", "--format", "json", stdout=True))
        assert deployed["plan"]["changes"], deployed
        assert _service_env(stack_name, lab_env)["API_KEY"] == keys[1]
        assert _service_env(stack_name, lab_env)["DB_URL"] == url[1]
        _logs_once_printed(f"{stack_name}_app", lab_env, f"key={_sha(keys[1])}")

        between = run("history", stack_name, "1", "2")
        assert shown(keys[0], "app.sops.env") in between, between
        assert shown(keys[1], "app.sops.env") in between, between
        run("history", stack_name)
        run("history", stack_name, "2", "--format", "json")

        # rollback to 1: its values are taken from the swarm (the service's previous spec)
        back = run("rollback", stack_name, "--detach")
        assert "sha256:" in back, back
        assert _service_env(stack_name, lab_env)["API_KEY"] == keys[0]
        assert _service_env(stack_name, lab_env)["DB_URL"] == url[0]
        _logs_once_printed(f"{stack_name}_app", lab_env, f"url={_sha(url[0])}", times=2)  # a new task

        # a third value deployed: revision 2's values are on the swarm no more: refused, nothing written
        encrypt_values(2)
        run("deploy", stack_name, *files, "--detach")
        version = _docker(lab_env, "service", "inspect", "--format", "{{.Version.Index}}",
                          f"{stack_name}_app")
        refused = run("rollback", stack_name, "--to", "2", "--detach", ok=(1,))
        assert "services.app.environment.API_KEY is sensitive (from app.sops.env)" in refused, refused
        assert "deploy that revision from its files" in refused, refused
        assert _docker(lab_env, "service", "inspect", "--format", "{{.Version.Index}}",
                       f"{stack_name}_app") == version, "the refused rollback wrote"
        assert _service_env(stack_name, lab_env)["API_KEY"] == keys[2]

        stored = _stored_history(stack_name, lab_env)
        assert shown(keys[2], "app.sops.env") in stored
        for value in values + url:
            assert value not in stored, "a sensitive value is stored in the history"
        for text in outputs:
            for value in values + url:
                assert value not in text, f"a sensitive value was printed:\n{text}"
        run("rm", stack_name)
    finally:
        stackctl("rm", stack_name, cwd=tmp_path, env=lab_env)
    _no_plaintext_left(values)
