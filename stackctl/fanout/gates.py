"""A wave's gates, run after its bake: an HTTP URL that must answer 2xx, or a command that must exit 0.

Each gate is bounded by its `timeout` (default 30 s). An HTTP gate follows redirects and takes
any 2xx; anything else (a 500, a refused connection, a timeout) fails it with the reason. A command
gate runs with the shell's environment plus STACKCTL_ROLLOUT_ID, STACKCTL_ENV and STACKCTL_WAVE;
a string runs in `sh -c`, a list as it is, in the project file's directory. Its last output lines
are the reason when it fails.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from stackctl.fanout.spec import Gate

OUTPUT_LINES = 5


@dataclass(frozen=True)
class GateResult:
    gate: Gate
    ok: bool
    detail: str  # "HTTP 200", "exit 0", or why it failed
    seconds: float

    def to_json(self) -> dict[str, object]:
        return {"gate": self.gate.describe(), "kind": self.gate.kind, "ok": self.ok, "detail": self.detail,
                "seconds": round(self.seconds, 3), "where": self.gate.where}


def run_gate(gate: Gate, extra_env: Mapping[str, str] | None = None, cwd: str | None = None) -> GateResult:
    """`cwd`: where a command gate runs (the project file's directory, as its relative paths)."""
    import time

    started = time.monotonic()
    ok, detail = (_http(str(gate.value), gate.timeout) if gate.kind == "http"
                  else _command(gate.value, gate.timeout, extra_env or {}, cwd or None))
    return GateResult(gate, ok, detail, time.monotonic() - started)


def _http(url: str, timeout: float) -> tuple[bool, str]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "stackctl-gate"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            code = int(answer.status)
    except urllib.error.HTTPError as err:
        return False, f"HTTP {err.code} {err.reason}".rstrip()
    except (urllib.error.URLError, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or err
        return False, f"no answer: {reason}"
    return (200 <= code < 300), f"HTTP {code}"


def _command(value: str | tuple[str, ...], timeout: float, extra_env: Mapping[str, str],
             cwd: str | None) -> tuple[bool, str]:
    argv = ["sh", "-c", value] if isinstance(value, str) else list(value)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, **extra_env}, check=False, cwd=cwd)
    except subprocess.TimeoutExpired:
        return False, f"still running after {timeout:g}s"
    except OSError as err:
        return False, f"cannot run: {err.strerror or err}"
    if proc.returncode == 0:
        return True, "exit 0"
    tail = [line for line in (proc.stdout + proc.stderr).splitlines() if line.strip()][-OUTPUT_LINES:]
    return False, f"exit {proc.returncode}" + (f": {' | '.join(tail)}" if tail else "")
