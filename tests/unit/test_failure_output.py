"""The failure output of a rollout (issue 16): one line per fact, in words, with the failing task's
last log lines and the commands to run next. Golden text for the pure formatting; the log reading on
the in-memory fake of the gateway (the lab test is tests/integration/test_failure_output.py)."""

from __future__ import annotations

import io
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from stackctl.apply.convergence import ServiceOutcome, ServiceProgress
from stackctl.apply.executor import apply_plan
from stackctl.apply.logtail import choose_lines, clean_line, read_log_tail, with_log_tails
from stackctl.errors import EXIT_ROLLED_BACK
from stackctl.observe import observe_stack
from stackctl.render.progress import RolloutDisplay, count_line, progress_line, summary_lines
from stackctl.swarm.logs import log_frames
from tests.unit.fake_engine import FakeEngine, log_frame, refusal

TASK = "wtg7xnttf5bo" + "a" * 13


def outcome(name: str = "shop_web", state: str = "rolled_back", **extra: Any) -> ServiceOutcome:
    values: dict[str, Any] = {
        "message": "the swarm rolled the update back (failure_action: rollback)",
        "task_error": "task wtg7xnttf5bo (slot 1, failed): non-zero exit (1)", "running": 1, "desired": 1,
        "task_id": TASK, "update_state": "rollback_completed", "log_tail": ("starting", "boom-XYZ"),
        "log_task_id": TASK}
    values.update(extra)
    return ServiceOutcome(name, state, **values)


# --- the verdict, golden ---------------------------------------------------------------------------


def test_a_rolled_back_service_says_what_failed_its_log_and_what_the_swarm_did() -> None:
    assert summary_lines([outcome()], "shop", had_previous=True) == [
        "service shop_web: the new version's tasks failed",
        "  error: task wtg7xnttf5bo (slot 1, failed): non-zero exit (1)",
        "  last 2 log lines of task wtg7xnttf5bo:",
        "    | starting",
        "    | boom-XYZ",
        "  the swarm rolled the service back to its previous spec; the previous version runs",
        "1 service: 1 rolled back (previous version running)",
        "next:",
        "  stackctl logs shop web   # the whole log of shop_web",
        "  stackctl ps shop         # every task and its error",
    ]


def test_a_paused_update_offers_the_rollback_and_counts_the_others() -> None:
    paused = outcome(state="paused", update_state="paused", message="update paused: x")
    ok = ServiceOutcome("shop_db", "converged", "1/1 running", None, 1, 1)
    lines = summary_lines([ok, paused], "shop", had_previous=True)
    assert "  the update is paused: replaced tasks run the new spec, the others the previous one" in lines
    assert "2 services: 1 converged, 1 paused" in lines
    assert lines[-1] == "  stackctl rollback shop   # back to the last revision that worked"
    # a stack deployed for the first time has nothing to roll back to
    assert not any("rollback" in line for line in summary_lines([ok, paused], "shop", had_previous=False))


def test_rolled_back_beside_updated_services_offers_the_rollback_of_the_stack() -> None:
    ok = ServiceOutcome("shop_db", "converged", "1/1 running", None, 1, 1)
    lines = summary_lines([ok, outcome()], "shop", had_previous=True)
    assert any(line.startswith("  stackctl rollback shop") for line in lines)


def test_no_line_is_said_twice_and_no_engine_state_name_shows() -> None:
    states = [("failed", None, "tasks keep failing (3 tasks failed since the deploy began)"),
              ("paused", "rollback_paused", "rollback paused: x"), ("rolled_back", "rollback_completed", "x"),
              ("timeout", None, "timed out after 6s: 0/1 running")]
    outs = [outcome(f"shop_s{i}", s, update_state=u, message=m) for i, (s, u, m) in enumerate(states)]
    lines = summary_lines(outs, "shop", had_previous=True)
    text = "\n".join(lines)
    for raw in ("rolled_back", "rollback_completed", "rollback_paused", "timeout"):
        assert raw not in text, raw
    # the same task error and log (shared by the test's services) aside, no line is said twice
    facts = [line for line in lines if not line.startswith(("    | ", "  error:", "  last "))]
    assert len(facts) == len(set(facts)), facts
    assert lines.count("next:") == 1 and sum("stackctl ps shop" in line for line in lines) == 1
    assert "4 services: 1 rolled back (previous version running), 1 paused, 1 failed, 1 timed out" in lines


def test_a_log_that_could_not_be_read_says_so_in_one_line() -> None:
    lines = summary_lines([outcome(log_tail=(), log_task_id=None, log_error="no answer within 5s")], "shop")
    assert "  log: could not be read (no answer within 5s)" in lines
    quiet = summary_lines([outcome(log_tail=(), log_task_id=None)], "shop")
    assert "  log: the task wrote nothing since the deploy began" in quiet


def test_the_undo_verdict_suggests_nothing() -> None:
    failed = outcome(state="failed", message="tasks keep failing (x)")
    lines = summary_lines([failed], "shop", next_steps=False)
    assert lines[-1] == "1 service: 1 failed"


def test_count_line() -> None:
    assert count_line([outcome()]) == "1 service: 1 rolled back (previous version running)"
    ok = ServiceOutcome("a", "converged", "", None, 1, 1)
    assert count_line([ok, ok]) == "2 services: 2 converged"


def test_progress_speaks_in_words_and_leaves_the_ending_to_the_verdict() -> None:
    p = ServiceProgress("shop_web", update_state="rollback_paused", message="0/1 running")
    assert progress_line(p) == "shop_web: 0/1 running [rollback paused]"
    out = io.StringIO()
    display = RolloutDisplay(out, live=False)
    display([ServiceProgress("shop_web", message="updating, 0/1 running")])
    display([ServiceProgress("shop_web", final="rolled_back", message="the swarm rolled it back")])
    assert out.getvalue() == "shop_web: updating, 0/1 running\n"


def test_the_outcome_json_carries_the_log_tail() -> None:
    doc = outcome().to_json()
    assert doc["state"] == "rolled_back" and doc["update_state"] == "rollback_completed"
    assert doc["log_tail"] == ["starting", "boom-XYZ"] and doc["log_task_id"] == TASK
    assert doc["task_id"] == TASK and doc["log_error"] is None
    assert ServiceOutcome("a", "converged", "", None, 1, 1).to_json()["log_tail"] is None


# --- reading the log ---------------------------------------------------------------------------------


def test_log_frames_demultiplex_stdout_and_stderr_and_stop_at_the_limit() -> None:
    raw = log_frame("out", task="t") + log_frame("err", task="t", stream=2)
    lines = list(log_frames(io.BytesIO(raw).read, tty=False))
    assert [(s, line.rsplit(" ", 1)[1]) for s, line in lines] == [(1, "out"), (2, "err")]
    assert list(log_frames(io.BytesIO(b"a\nb").read, tty=True)) == [(1, "a"), (1, "b")]
    assert len(list(log_frames(io.BytesIO(raw * 100).read, tty=False, limit=1))) == 1


def test_clean_line_strips_escapes_and_cuts_long_lines() -> None:
    assert clean_line("\x1b[31mred\x1b[0m\x07 done\r\n") == "red done"
    assert clean_line("10%\r50%\r100%") == "100%"
    assert clean_line("x" * 500, width=10) == "x" * 9 + "…"


def test_choose_lines_prefers_the_blamed_task_then_the_newest_failed_one() -> None:
    entries = [("2", "a", "a2"), ("1", "a", "a1"), ("3", "b", "b3")]
    entries += [(str(i), "c", f"c{i}") for i in range(9)]
    assert choose_lines(entries, "a") == ("a", ("a1", "a2"))
    assert choose_lines(entries, "c", lines=3) == ("c", ("c6", "c7", "c8"))
    assert choose_lines(entries, "gone", ["b", "a"]) == ("b", ("b3",))
    assert choose_lines(entries, None) == (None, ())


def _iso(seconds_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).isoformat()


def _service(fake: FakeEngine) -> str:
    fake.add("service", {"Name": "shop_web", "TaskTemplate": {"ContainerSpec": {"Image": "busybox"}}})
    return next(iter(fake.store["service"]))


def test_read_log_tail_takes_the_failing_tasks_newest_lines() -> None:
    fake = FakeEngine()
    sid = _service(fake)
    fake.logs[sid] = b"".join(log_frame(f"line {i}", task=TASK, stamp=f"2026-11-28T18:00:0{i}Z",
                                        stream=1 + i % 2) for i in range(8))
    fake.logs[sid] += log_frame("other task", task="x" * 25, stamp="2026-11-28T18:00:09Z")
    got = read_log_tail(fake, outcome(log_tail=None, log_task_id=None), since=time.time(), lines=5)
    assert got.log_tail == ("line 3", "line 4", "line 5", "line 6", "line 7") and got.log_task_id == TASK


def test_read_log_tail_reports_an_engine_refusal_in_one_line() -> None:
    fake = FakeEngine()
    _service(fake)
    fake.failures[("service_logs", "service")] = refusal(
        501, 'configured logging driver does not support reading')
    got = read_log_tail(fake, outcome(log_tail=None), since=None)
    assert got.log_tail == () and got.log_error == "configured logging driver does not support reading"


def test_a_log_that_never_answers_does_not_hold_the_verdict() -> None:
    fake = FakeEngine()
    _service(fake)
    release = threading.Event()

    def hanging(service_id: str, params: Any) -> Any:
        release.wait(10)
        raise refusal(500, "late")

    fake.service_logs = hanging  # type: ignore[method-assign]
    started = time.monotonic()
    got = with_log_tails(fake, [outcome(log_tail=None)], since=None, timeout=0.3)
    release.set()
    assert time.monotonic() - started < 2
    assert got[0].log_error == "no answer within 0.3s"


def test_follow_rollout_puts_the_log_tail_in_the_outcome_and_the_verdict() -> None:
    from stackctl.apply.rollout import VERDICT, RolloutEvent, follow_rollout
    from stackctl.convert import convert_stack
    from stackctl.plan import make_plan

    fake = FakeEngine()
    config: dict[str, Any] = {"services": {"web": {"image": "busybox"}}}
    def plan() -> Any:
        return make_plan(convert_stack(config, "shop"), observe_stack(fake, "shop"), prune=False)

    apply_plan(fake, plan(), resolve_image="never")
    config["services"]["web"]["command"] = ["sh", "-c", "echo boom-XYZ; exit 1"]
    result = apply_plan(fake, plan(), resolve_image="never")
    sid = next(iter(fake.store["service"]))
    fake.store["service"][sid]["UpdateStatus"] = {"State": "rollback_completed", "StartedAt": _iso(-1),
                                                  "Message": "rollback completed"}
    task = fake.add("task", {}, ServiceID=sid, Slot=1, DesiredState="shutdown",
                    Status={"State": "failed", "Err": "task: non-zero exit (1)", "Timestamp": _iso(-1)})
    fake.logs[sid] = log_frame("boom-XYZ", task=task)
    events: list[RolloutEvent] = []
    report = follow_rollout(fake, result, timeout=5, on_event=events.append, poll=0.01)
    assert report.exit_code == EXIT_ROLLED_BACK
    verdict = next(e for e in events if e.kind == VERDICT)
    assert verdict.stack == "shop" and verdict.had_previous and not verdict.undo_follows
    (web,) = verdict.outcomes
    assert web.log_tail == ("boom-XYZ",) and web.task_id == task and web.update_state == "rollback_completed"
    assert report.to_json()["services"][0]["log_tail"] == ["boom-XYZ"]
    assert web.task_error is not None and web.task_error.endswith("): non-zero exit (1)")


@pytest.mark.parametrize("state", ["converged", "interrupted"])
def test_no_log_is_read_for_services_that_converged_or_were_interrupted(state: str) -> None:
    fake = FakeEngine()
    got = with_log_tails(fake, [outcome(state=state, log_tail=None)], since=None)
    assert got[0].log_tail is None and fake.calls == []


def test_a_failed_dependency_names_the_last_line_of_its_log() -> None:
    from stackctl.apply.ordering import _failure
    from stackctl.model.depends import Edge

    err = _failure([outcome("shop_db", "failed", message="tasks keep failing (3 tasks failed)")],
                   [Edge("shop_app", "shop_db")], 60)
    (diag,) = err.diagnostics
    assert "; its log ends: boom-XYZ (shop_app not written)" in diag.message
