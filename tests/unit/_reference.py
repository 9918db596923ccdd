"""The oracle for load tests: `docker stack config` when the CLI is here, else a stored golden file.

Goldens live in tests/golden/load/ with the working directory written as @WD@; set
STACKCTL_UPDATE_GOLDEN=1 (with the docker CLI present) to rewrite them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "load"


def _find_reference() -> str | None:
    """A docker CLI that has `stack config` (CLI >= 23); an older one (the lab's 20.10) does not count."""
    candidates = [os.environ.get("STACKCTL_REFERENCE_DOCKER"), shutil.which("docker"),
                  "/usr/local/bin/docker"]
    for candidate in candidates:
        if not candidate or not os.path.exists(candidate):
            continue
        try:
            probe = subprocess.run([candidate, "stack", "config", "-c", "-"], input=b"services: {}\n",
                                   capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0:
            return candidate
    return None


DOCKER = _find_reference()
HAVE_DOCKER = DOCKER is not None


def reference_config(
    name: str, files: Sequence[Path], env: Mapping[str, str], workdir: Path
) -> tuple[int, str]:
    """(exit code, stdout) of the reference for `files`; from the golden file when docker is absent."""
    golden = GOLDEN / f"{name}.yml"
    if HAVE_DOCKER:
        args = [str(DOCKER), "stack", "config"]
        for f in files:
            args += ["-c", str(f)]
        full_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
        proc = subprocess.run(args, cwd="/", env=full_env, capture_output=True, text=True, timeout=60)
        if os.environ.get("STACKCTL_UPDATE_GOLDEN"):
            GOLDEN.mkdir(parents=True, exist_ok=True)
            text = proc.stdout.replace(str(workdir), "@WD@") if proc.returncode == 0 else "ERROR\n"
            golden.write_text(text)
        return proc.returncode, proc.stdout
    text = golden.read_text()
    if text == "ERROR\n":
        return 1, ""
    return 0, text.replace("@WD@", str(workdir))
