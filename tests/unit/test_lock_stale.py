"""A deploy lock whose holder died on this machine is recognised as stale (and only then)."""

from __future__ import annotations

import subprocess
import sys

from stackctl.lock import LockInfo, holder_is_gone, process_identity


def _info(process: str) -> LockInfo:
    return LockInfo(name="stackctl-lock-x", id="id", version=1, holder="root@here pid 1", since=0.0,
                    token="t", process=process)


def test_a_running_holder_is_not_gone() -> None:
    assert not holder_is_gone(_info(process_identity()))
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not holder_is_gone(_info(process_identity(child.pid)))
    finally:
        child.kill()
        child.wait()


def test_a_dead_holder_is_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(child.pid)
    child.wait()
    assert identity and holder_is_gone(_info(identity))


def test_a_reused_pid_is_still_gone() -> None:
    boot, pidns, _, _ = process_identity().split(":")
    assert holder_is_gone(_info(f"{boot}:{pidns}:1:0"))  # pid 1 runs, but did not start at tick 0


def test_another_machine_or_an_old_lock_is_never_taken() -> None:
    _, pidns, pid, start = process_identity().split(":")
    assert not holder_is_gone(_info(f"another-boot:{pidns}:999999:{start}"))
    assert not holder_is_gone(_info(""))  # a lock from a stackctl without the label
