"""Timing subprocesses: wall time, peak memory, interleaved runs, medians."""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class Run:
    seconds: float
    max_rss_kb: int
    returncode: int
    reads: int = 0
    writes: int = 0
    stderr: str = ""


@dataclass
class Sample:
    """All runs of one tool in one case."""

    runs: list[Run] = field(default_factory=list)
    extra: list[float] = field(default_factory=list)  # a case's own measure (e.g. seconds after converging)

    @property
    def median(self) -> float | None:
        ok = [r.seconds for r in self.runs if r.returncode == 0]
        return statistics.median(ok) if ok else None

    @property
    def extra_median(self) -> float | None:
        return statistics.median(self.extra) if self.extra else None

    @property
    def peak_rss_mb(self) -> float | None:
        """The largest peak RSS of the successful runs, in MB."""
        ok = [r.max_rss_kb for r in self.runs if r.returncode == 0]
        return max(ok) / 1024 if ok else None

    @property
    def failures(self) -> int:
        return sum(1 for r in self.runs if r.returncode != 0)

    def calls(self) -> tuple[int, int] | None:
        """Median reads and writes of the successful runs."""
        ok = [r for r in self.runs if r.returncode == 0]
        if not ok:
            return None
        return int(statistics.median(r.reads for r in ok)), int(statistics.median(r.writes for r in ok))


GNU_TIME = "/usr/bin/time"


def run_timed(argv: Sequence[str], env: Mapping[str, str] | None = None, cwd: str | None = None,
              timeout: float = 600.0) -> Run:
    """Run argv to completion; wall time from spawn to reap, and the command's peak RSS.

    The peak RSS comes from /usr/bin/time when it is installed (it adds ~1 ms to the wall time of
    both tools alike); without it, from wait4(), whose floor is this Python process's own RSS.
    """
    memory = None
    if os.path.exists(GNU_TIME):
        memory = tempfile.NamedTemporaryFile(prefix="bench-rss-", delete=False)
        memory.close()
        argv = [GNU_TIME, "-q", "-f", "%M", "-o", memory.name, *argv]
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(argv), env=dict(env) if env is not None else None, cwd=cwd,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            killer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()[-4000:].decode(errors="replace")
    max_rss_kb = usage.ru_maxrss
    if memory is not None:
        try:
            max_rss_kb = int(open(memory.name).read().split()[-1])
        except (OSError, ValueError, IndexError):
            pass
        finally:
            os.unlink(memory.name)
    return Run(seconds=seconds, max_rss_kb=max_rss_kb, returncode=proc.returncode, stderr=stderr)


def interleave(tools: Sequence[str], runs: int, once: Callable[[str, int], Run | None],
               warmup: bool = True) -> dict[str, Sample]:
    """Alternate the tools run by run (ABBA order), so both see the same machine load."""
    samples = {tool: Sample() for tool in tools}
    if warmup:
        for tool in tools:
            once(tool, -1)
    for i in range(runs):
        order = list(tools) if i % 2 == 0 else list(reversed(tools))
        for tool in order:
            result = once(tool, i)
            if result is not None:
                samples[tool].runs.append(result)
    return samples
