"""`stackctl secrets encrypt|check FILE...`: make SOPS files with `.sops.yaml`, check they decrypt."""

from __future__ import annotations

import hashlib
import sys

from stackctl.errors import EXIT_ERROR, EXIT_OK


def encrypt(*, files: list[str], stdin: bool = False) -> int:
    """Encrypt each FILE in place (or write the one FILE from stdin) with the `.sops.yaml` rules."""
    from stackctl.errors import UsageError
    from stackctl.secrets.encrypt import EncryptError
    from stackctl.secrets.encrypt import encrypt as run_sops

    if stdin and len(files) != 1:
        raise UsageError("--stdin writes one FILE: give exactly one")
    code = EXIT_OK
    for path in files:
        try:
            run_sops(path, sys.stdin.buffer.read() if stdin else None)
        except EncryptError as err:
            print(f"error: {err}" + (f" ({err.hint})" if err.hint else ""), file=sys.stderr)
            code = EXIT_ERROR
            continue
        print(f"{path}: encrypted")
    return code


def check(*, files: list[str], data_key: str | None = None) -> int:
    """Decrypt each FILE in memory with the keys at hand; say it does (with a digest) or why not."""
    from stackctl.secrets.decrypt import DecryptError, read_file_kind

    code = EXIT_OK
    for path in files:
        try:
            data, kind = read_file_kind(path)
            if data_key:
                from stackctl.secrets.decrypt import pick

                data = pick(path, data, data_key)
        except OSError as err:
            print(f"{path}: error: cannot read: {err.strerror or err}", file=sys.stderr)
            code = EXIT_ERROR
            continue
        except DecryptError as err:
            print(f"{path}: error: {err.reason}" + (f": {err.detail}" if err.detail else "")
                  + (f" ({err.hint})" if err.hint else ""), file=sys.stderr)
            code = EXIT_ERROR
            continue
        digest = "sha256:" + hashlib.sha256(data).hexdigest()[:12]  # as the plan shows it (plan/digests.py)
        what = f"{kind}-encrypted" if kind else "not encrypted (plain file)"
        picked = f", {data_key}" if data_key else ""
        print(f"{path}: ok: {what}{picked}, {len(data)} bytes, {digest}")
    return code
