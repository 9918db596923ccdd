"""Age keys and SOPS files made on the fly for the tests (nothing committed needs a private key).

Plaintext goes to `sops` through a pipe (what `stackctl secrets encrypt --stdin` runs), never a file;
`leftover_plaintext` searches the working tree, /tmp, /run and /dev/shm for a value afterwards.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SEARCHED = (REPO, Path("/tmp"), Path("/run"), Path("/dev/shm"))
MAX_SEARCHED_BYTES = 32 * 1024 * 1024  # a file larger than this is no plaintext we wrote


def make_key(path: Path) -> str:
    """A new age identity in `path` (age-keygen's format); its public key (the recipient)."""
    from pyrage import x25519

    identity = x25519.Identity.generate()
    path.write_text(f"# created: by a test\n# public key: {identity.to_public()}\n{identity}\n")
    path.chmod(0o600)
    return str(identity.to_public())


def write_sops_config(folder: Path, recipient: str) -> None:
    """The project's `.sops.yaml`: every *.sops* file in the folder for `recipient`."""
    (folder / ".sops.yaml").write_text(
        "creation_rules:\n"
        "  - path_regex: .*\\.sops(\\.(yaml|yml|json|env))?$\n"
        f"    age: {recipient}\n")


def stackctl(*args: str, cwd: Path, env: dict[str, str] | None = None, input: bytes | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """This tree's stackctl in `cwd` (sops finds `.sops.yaml` from there)."""
    full = {**os.environ, **(env or {}), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "stackctl", *args], cwd=cwd, env=full, input=input,
                          capture_output=True, timeout=timeout)


def encrypt(folder: Path, name: str, plaintext: str) -> Path:
    """`folder/name` holding `plaintext` SOPS-encrypted with the folder's `.sops.yaml`."""
    from stackctl.secrets.encrypt import encrypt as sops_encrypt  # what `secrets encrypt --stdin` runs

    sops_encrypt(name, plaintext.encode(), cwd=str(folder))
    assert plaintext.encode() not in (folder / name).read_bytes()
    return folder / name


def leftover_plaintext(value: str, roots: tuple[Path, ...] = SEARCHED) -> list[str]:
    """Every regular file under `roots` that holds `value` (symlinks not followed)."""
    needle = value.encode()
    found: list[str] = []
    for root in roots:
        for folder, _dirs, files in os.walk(root, followlinks=False):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    info = os.lstat(path)
                    if not stat.S_ISREG(info.st_mode) or not 0 < info.st_size <= MAX_SEARCHED_BYTES:
                        continue
                    with open(path, "rb") as fh:
                        if needle in fh.read():
                            found.append(path)
                except OSError:
                    continue
    return found
