"""SOPS and age files decrypted in memory (stackctl/secrets/decrypt.py), and every reader using it:
secret/config files (convert), service env_file (load), --env-file / stackctl.yml env_files
(interpolation), validate's check, `stackctl secrets encrypt|check`. Real `sops` and pyrage, keys
made on the fly; no engine."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from stackctl.secrets import decrypt as dec
from stackctl.secrets.decrypt import AgeKeys, DecryptError
from tests.sops_helpers import REPO, encrypt, leftover_plaintext, make_key, stackctl, write_sops_config


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a key, its `.sops.yaml`, and an environment that knows only that key."""
    for var in ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", dec.IDENTITY_ENV_VAR):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    write_sops_config(tmp_path, make_key(tmp_path / "keys.txt"))
    make_key(tmp_path / "other.txt")
    return tmp_path


def _keys(folder: Path) -> AgeKeys:
    return AgeKeys.from_file(str(folder / "keys.txt"))


def _secret() -> str:
    return f"unit-{uuid.uuid4().hex}"


def test_encrypted_files_are_recognised_by_name_or_content() -> None:
    assert dec.encryption_of("a/db.sops.yaml", b"") == "sops"
    assert dec.encryption_of("pw.sops", b"") == "sops"
    assert dec.encryption_of("x.age", b"") == "age"
    assert dec.encryption_of("x.bin", b"age-encryption.org/v1\n-> X25519") == "age"
    assert dec.encryption_of("x.txt", b"-----BEGIN AGE ENCRYPTED FILE-----\n") == "age"
    enc = "ENC[AES256_GCM,data:x]"
    assert dec.encryption_of("secrets.yaml", f"a: {enc}\nsops:\n    mac: {enc}\n".encode()) == "sops"
    assert dec.encryption_of("secrets.json", f'{{"a": "{enc}", "sops": {{"mac": ""}}}}'.encode()) == "sops"
    assert dec.encryption_of("app.env", f"A={enc}\nsops_mac={enc}\n".encode()) == "sops"
    assert dec.encryption_of("plain.yaml", b"sops_count: 3\nname: sops\n") is None
    assert dec.encryption_of("tool.yaml", b"sops:\n  version: 3\n") is None  # no ENC[...]: plain
    assert dec.encryption_of("plain.txt", b"hunter2\n") is None


def test_keys_come_from_every_place_sops_looks_and_the_option(folder: Path) -> None:
    xdg = folder / "xdg" / "sops" / "age"
    xdg.mkdir(parents=True)
    make_key(xdg / "keys.txt")
    text = (folder / "other.txt").read_text()
    env = {"XDG_CONFIG_HOME": str(folder / "xdg"), "SOPS_AGE_KEY": text,
           "SOPS_AGE_KEY_FILE": str(folder / "keys.txt")}
    keys = dec.load_keys(identity_file=str(folder / "keys.txt"), environ=env)
    assert len(keys.identities) == 3  # the option's file and $SOPS_AGE_KEY_FILE are the same key
    assert keys.sources[1] == "$SOPS_AGE_KEY" and keys.sources[-1] == str(xdg / "keys.txt")
    assert "AGE-SECRET-KEY" not in repr(keys)
    assert dec.load_keys(environ={dec.IDENTITY_ENV_VAR: str(folder / "keys.txt"), "HOME": "/nonexistent"}
                         ).identities == _keys(folder).identities
    assert dec.load_keys(environ={"HOME": "/nonexistent"}).identities == ()
    with pytest.raises(DecryptError, match="cannot decrypt /nonexistent/key.txt: unreadable"):
        dec.load_keys(environ={"SOPS_AGE_KEY_FILE": "/nonexistent/key.txt"})


@pytest.mark.parametrize("name,plaintext", [
    ("db.sops.yaml", "database:\n  password: {v}\n"),
    ("db.sops.json", '{{"database": {{"password": "{v}"}}}}'),
    ("db.sops.env", "PASSWORD={v}\n"),
    ("db.sops", "{v}\nsecond line\n"),
])
def test_sops_files_decrypt_in_memory(folder: Path, name: str, plaintext: str) -> None:
    value = _secret()
    path = encrypt(folder, name, plaintext.format(v=value))
    data = dec.read_file(str(path), _keys(folder))
    assert value.encode() in data
    if name.endswith((".yaml", ".json")):
        assert dec.read_file(str(path), _keys(folder), data_key="database.password") == value.encode()
    with dec.using_keys(_keys(folder)):  # the agent's seam: keys from its own file
        assert dec.read_file(str(path)) == data
    unnamed = folder / ("copy" + {".yaml": ".yml", ".json": ".json", ".env": ".env"}.get(path.suffix, ""))
    unnamed.write_bytes(path.read_bytes())  # no .sops in the name: recognised by its metadata
    assert dec.read_file(str(unnamed), _keys(folder)) == data


def test_age_files_decrypt_in_process(folder: Path) -> None:
    import pyrage

    value = _secret()
    public = (folder / "keys.txt").read_text().split("public key: ")[1].split()[0]
    recipient = pyrage.x25519.Recipient.from_str(public)
    (folder / "token.age").write_bytes(pyrage.encrypt(value.encode(), [recipient]))
    assert dec.read_file(str(folder / "token.age"), _keys(folder)) == value.encode()
    with pytest.raises(DecryptError) as err:
        dec.read_file(str(folder / "token.age"), AgeKeys.from_file(str(folder / "other.txt")))
    assert err.value.reason == dec.WRONG_KEY and str(folder / "token.age") in str(err.value)
    damaged = bytearray((folder / "token.age").read_bytes())
    damaged[-5] ^= 1
    (folder / "token.age").write_bytes(bytes(damaged))
    with pytest.raises(DecryptError) as err:
        dec.read_file(str(folder / "token.age"), _keys(folder))
    assert err.value.reason == dec.TAMPERED
    (folder / "plain.age").write_text("not encrypted\n")
    with pytest.raises(DecryptError, match="not encrypted"):
        dec.read_file(str(folder / "plain.age"), _keys(folder))


def test_the_reasons_a_sops_file_does_not_decrypt(folder: Path) -> None:
    value = _secret()
    path = encrypt(folder, "db.sops.yaml", f"database:\n  password: {value}\n")
    cases = {dec.NO_KEY: AgeKeys(), dec.WRONG_KEY: AgeKeys.from_file(str(folder / "other.txt"))}
    for reason, keys in cases.items():
        with pytest.raises(DecryptError) as err:
            dec.read_file(str(path), keys)
        assert err.value.reason == reason and str(path) in err.value.message
    with pytest.raises(DecryptError, match="no such value.*no database.user") as err:
        dec.read_file(str(path), _keys(folder), data_key="database.user")
    assert err.value.hint == "keys there: password"
    text = path.read_text()
    for field in ("mac: ENC[AES256_GCM,data:", "password: ENC[AES256_GCM,data:"):  # the MAC, a value
        at = text.index(field) + len(field)
        path.write_text(text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1:])
        with pytest.raises(DecryptError) as err:
            dec.read_file(str(path), _keys(folder))
        assert err.value.reason == dec.TAMPERED, err.value
        assert value not in str(err.value)


def test_pick_never_quotes_the_document() -> None:
    with pytest.raises(DecryptError) as err:
        dec.pick("f.yaml", b"a: [unclosed hunter2\n", "a")
    assert "hunter2" not in str(err.value) and "line" in str(err.value)
    assert dec.pick("f.yaml", b"a:\n  b: [x, {c: 3}]\n", "a.b.1.c") == b"3"


ONE_SECRET = """\
    version: "3.8"
    services:
      app:
        image: busybox
    secrets:
      db:
        file: ./db.sops.yaml
    """


def _stack(folder: Path, body: str) -> str:
    path = folder / "stack.yml"
    path.write_text(textwrap.dedent(body))
    return str(path)


def test_secrets_configs_and_env_files_of_a_stack_decrypt(folder: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.convert import convert_stack
    from stackctl.pipeline import load_stack

    password, setting, greeting, variable = _secret(), _secret(), _secret(), _secret()
    encrypt(folder, "db.sops.yaml", f"database:\n  password: {password}\n")
    encrypt(folder, "app.sops.json", json.dumps({"setting": setting}))
    encrypt(folder, "app.sops.env", f"GREETING={greeting}\n")
    encrypt(folder, "vars.sops.env", f"TAG={variable}\n")
    stack = _stack(folder, """\
        version: "3.8"
        services:
          app:
            image: busybox:${TAG}
            env_file: ./app.sops.env
            secrets: [db]
            configs: [app]
        secrets:
          db:
            file: ./db.sops.yaml
            x-data-key: database.password
        configs:
          app:
            file: ./app.sops.json
        """)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(folder / "keys.txt"))
    loaded = load_stack([stack], env_files=[str(folder / "vars.sops.env")], environ={}, decrypt=True)
    assert loaded.config["services"]["app"]["environment"] == {"GREETING": greeting}
    assert loaded.config["services"]["app"]["image"] == f"busybox:{variable}"
    desired = convert_stack(loaded.config, "s", environ={})
    import base64

    assert base64.b64decode(desired.secrets["s_db"]["Data"]) == password.encode()
    assert setting.encode() in base64.b64decode(desired.configs["s_app"]["Data"])
    assert leftover_plaintext(password) == []


def test_a_stack_whose_file_does_not_decrypt_names_it(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.convert import convert_stack
    from stackctl.errors import ConvertError, LoadError
    from stackctl.pipeline import load_stack

    encrypt(folder, "db.sops.yaml", f"database:\n  password: {_secret()}\n")
    encrypt(folder, "app.sops.env", "=no-name-here\n")
    stack = _stack(folder, ONE_SECRET)
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(folder / "other.txt"))
    loaded = load_stack([stack], environ={})
    with pytest.raises(ConvertError) as err:
        convert_stack(loaded.config, "s", environ={})
    line = err.value.lines()[-1]
    assert f"cannot decrypt {folder / 'db.sops.yaml'}: wrong key" in line, line
    assert line.startswith("secrets.db.file: secret db: ")
    # an encrypted env file's bad line is told by its number, never its text
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(folder / "keys.txt"))
    (folder / "stack.yml").write_text(
        "version: '3.8'\nservices:\n  app:\n    image: b\n    env_file: app.sops.env\n")
    with pytest.raises(LoadError) as load_err:
        load_stack([stack], environ={})
    text = str(load_err.value)
    assert "no variable name on the line" in text and "no-name-here" not in text, text


def test_validate_names_the_file_and_the_reason(folder: Path) -> None:
    encrypt(folder, "db.sops.yaml", f"database:\n  password: {_secret()}\n")
    _stack(folder, ONE_SECRET)
    done = stackctl("validate", "-c", "stack.yml", cwd=folder, env={"HOME": "/nonexistent"})
    err = done.stderr.decode()
    assert done.returncode == 1 and "stack.yml:7: secrets.db.file: secret db: cannot decrypt" in err, err
    assert "db.sops.yaml: no key" in err
    done = stackctl("validate", "-c", "stack.yml", "--age-identity", "keys.txt", cwd=folder)
    assert done.returncode == 0, done.stderr.decode()
    bad = stackctl("validate", "-c", "stack.yml", "--age-identity", "missing.txt", cwd=folder)
    assert bad.returncode == 64 and b"missing.txt: no such readable file" in bad.stderr, bad.stderr


def test_secrets_encrypt_and_check(folder: Path) -> None:
    value = _secret()
    made = stackctl("secrets", "encrypt", "--stdin", "pw.sops", cwd=folder, input=value.encode())
    assert made.returncode == 0 and made.stdout == b"pw.sops: encrypted\n", made.stderr
    assert value.encode() not in (folder / "pw.sops").read_bytes()
    done = stackctl("secrets", "check", "pw.sops", "--age-identity", "keys.txt", cwd=folder)
    out = done.stdout.decode()
    assert done.returncode == 0 and "pw.sops: ok: sops-encrypted" in out and value not in out, out
    done = stackctl("secrets", "check", "pw.sops", cwd=folder, env={"SOPS_AGE_KEY_FILE": "other.txt"})
    assert done.returncode == 1 and "pw.sops: error: wrong key" in done.stderr.decode()
    again = stackctl("secrets", "encrypt", "pw.sops", cwd=folder)
    assert again.returncode == 1 and "encrypted already" in again.stderr.decode()
    (folder / ".sops.yaml").unlink()
    none = stackctl("secrets", "encrypt", "--stdin", "x.sops", cwd=folder, input=b"v")
    assert none.returncode == 1 and "creation rule" in none.stderr.decode()


def test_commands_that_need_no_decryption_do_not_import_it() -> None:
    code = ("import sys, runpy; sys.argv = ['stackctl', '--help']\n"
            "try:\n    runpy.run_module('stackctl', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('pyrage', 'stackctl.secrets'))))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr


def test_stackctl_yml_env_files_decrypt(folder: Path) -> None:
    tag = f"t{uuid.uuid4().hex[:12]}"
    encrypt(folder, "dev.sops.env", f"TAG={tag}\n")
    (folder / "stack.yml").write_text("version: '3.8'\nservices:\n  app:\n    image: busybox:${TAG}\n")
    (folder / "stackctl.yml").write_text(textwrap.dedent("""\
        stack: demo
        files: [stack.yml]
        environments:
          dev: {env_files: [dev.sops.env]}
        """))
    done = stackctl("config", "--env", "dev", "--age-identity", "keys.txt", cwd=folder)
    out = done.stdout.decode()
    # a variable from an encrypted env file is sensitive, and so is the string it went into
    assert done.returncode == 0 and tag not in out, done.stderr
    digest = hashlib.sha256(f"busybox:{tag}".encode()).hexdigest()[:12]
    shown = f"sha256:{digest} (sensitive: from dev.sops.env)"
    assert f"image: '{shown}'" in out, out
    done = stackctl("config", "--env", "dev", cwd=folder, env={"SOPS_AGE_KEY_FILE": "other.txt"})
    assert done.returncode == 1 and b"dev.sops.env: wrong key" in done.stderr, done.stderr
