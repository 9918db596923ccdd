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


def test_a_dead_holders_lock_is_taken_over_and_said_as_an_event_printed_by_render() -> None:
    import io

    from stackctl.lock import LockTakenOver, StackLock, read_lock
    from stackctl.names import LOCK_PROCESS_LABEL
    from stackctl.render.deploy import DeployPrinter
    from tests.unit.fake_engine import FakeEngine

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    identity = process_identity(child.pid)
    child.wait()
    fake = FakeEngine()
    old = StackLock(fake, "shop", timeout=0)
    old.acquire()
    current = read_lock(fake, "shop")
    assert current is not None
    fake.store["config"][current.id]["Spec"]["Labels"][LOCK_PROCESS_LABEL] = identity
    events: list[object] = []
    new = StackLock(fake, "shop", timeout=0, on_event=events.append)
    new.acquire()
    assert [type(e) for e in events] == [LockTakenOver]
    err = io.StringIO()
    DeployPrinter(out=io.StringIO(), err=err)(events[0])
    assert err.getvalue() == (f"taking over the deploy lock of stack shop: its holder ({old.holder}) "
                              "is no longer running\n")


def test_unlock_says_what_it_removed_or_that_nothing_was_locked() -> None:
    import io

    from stackctl.render.lock import print_unlocked

    out, err = io.StringIO(), io.StringIO()
    print_unlocked("shop", None, out=out, err=err)
    assert (out.getvalue(), err.getvalue()) == ("", "Stack shop is not locked.\n")
    info = _info("")
    out, err = io.StringIO(), io.StringIO()
    print_unlocked("shop", info, out=out, err=err)
    assert out.getvalue() == f"Removed the deploy lock of stack shop (held by {info.describe()}).\n"
    assert err.getvalue() == ""
