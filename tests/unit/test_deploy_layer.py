"""The deploy service layer, the executor, undo, ordering and rm-as-a-plan on the in-memory fake of
stackctl's engine gateway (tests/unit/fake_engine.py). Waiting on real tasks is the lab's job
(tests/integration/test_ordering.py, test_deploy_lock.py); here the gate's wait is replaced."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from stackctl.apply.convergence import CONVERGED, FAILED, TIMEOUT, ServiceOutcome
from stackctl.apply.executor import ApplyResult, apply_plan, undo
from stackctl.apply.ordering import DependencyError, DependencyGate
from stackctl.deploy import (
    DeployOptions,
    DeployRequest,
    LockTaken,
    LockWaiting,
    PlanReady,
    UpToDate,
    deploy,
    ordering_for,
)
from stackctl.errors import EXIT_DEPLOY_FAILED, EXIT_OK, EXIT_TIMEOUT, ApplyError
from stackctl.model.depends import Ordering, dependency_graph
from stackctl.observe import observe_stack
from tests.unit.fake_engine import FakeEngine

HEALTH = {"test": ["CMD", "true"], "interval": "1s"}


def shop(level: str = "1", *, app_level: str | None = None, restart: bool = False) -> dict[str, Any]:
    """db (healthcheck) -> migrate (job) -> app, plus a cache nothing depends on."""
    app_deps: dict[str, Any] = {"db": {"condition": "service_healthy", "required": True},
                                "migrate": {"condition": "service_completed_successfully", "required": True}}
    if restart:
        app_deps["db"]["restart"] = True
    return {"services": {
        "db": {"image": "busybox", "environment": {"L": level}, "healthcheck": HEALTH},
        "migrate": {"image": "busybox", "deploy": {"mode": "replicated-job"},
                    "depends_on": {"db": {"condition": "service_healthy", "required": True}}},
        "app": {"image": "busybox", "environment": {"L": app_level or "1"}, "depends_on": app_deps},
        "cache": {"image": "busybox"},
    }}


class Waits:
    """Stands in for the gate's wait (apply.rollout.watch): records what was waited on, in order."""

    def __init__(self, states: dict[str, str] | None = None) -> None:
        self.calls: list[list[str]] = []
        self.states = states or {}

    def __call__(self, engine: Any, names: list[str], **kwargs: Any) -> list[ServiceOutcome]:
        self.calls.append(list(names))
        written = [s["Spec"]["Name"] for s in engine.store["service"].values()]
        assert all(n in written for n in names)
        return [ServiceOutcome(n, self.states.get(n, CONVERGED), "tasks keep failing" if
                               self.states.get(n) == FAILED else "timed out after 1s", None, 0, 1)
                for n in names]


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Waits:
    recorder = Waits()
    monkeypatch.setattr("stackctl.apply.ordering.watch", recorder)
    return recorder


def _deploy(fake: FakeEngine, config: dict[str, Any], events: list[object] | None = None,
            **options: Any) -> Any:
    opts = DeployOptions(resolve_image="never", detach=True, **options)
    sink = events.append if events is not None else None
    return deploy(DeployRequest("shop", config), opts, engine=fake, on_event=sink)


def _written(fake: FakeEngine) -> list[str]:
    """Service names in the order they were created or updated."""
    return [name for method, name in fake.log if method in ("create", "update")]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeEngine:
    engine = FakeEngine()
    engine.log = []  # type: ignore[attr-defined]
    create, update = engine.create, engine.update

    def logged_create(kind: str, spec: Any, **kw: Any) -> Any:
        if kind == "service":
            engine.log.append(("create", spec["Name"]))  # type: ignore[attr-defined]
        return create(kind, spec, **kw)

    def logged_update(kind: str, ident: str, version: int, spec: Any, **kw: Any) -> Any:
        if kind == "service":
            engine.log.append(("update", spec["Name"]))  # type: ignore[attr-defined]
        return update(kind, ident, version, spec, **kw)

    monkeypatch.setattr(engine, "create", logged_create)
    monkeypatch.setattr(engine, "update", logged_update)
    return engine


# --- the service layer ------------------------------------------------------------------------------


def test_deploy_writes_in_tiers_and_waits_on_each_dependency_once(fake: FakeEngine, waits: Waits) -> None:
    events: list[object] = []
    outcome = _deploy(fake, shop(), events)
    assert outcome.exit_code == EXIT_OK
    assert outcome.ordering.tiers == (("shop_cache", "shop_db"), ("shop_migrate",), ("shop_app",))
    written = _written(fake)
    assert written.index("shop_db") < written.index("shop_migrate") < written.index("shop_app")
    assert waits.calls == [["shop_db"], ["shop_migrate"]]  # db not waited on twice; cache never
    assert [type(e) for e in events if isinstance(e, PlanReady)] == [PlanReady]
    assert not fake.store["config"] or all("stackctl-lock" not in c["Spec"]["Name"]
                                           for c in fake.store["config"].values())  # lock released
    assert any(c["Spec"]["Name"].startswith("stackctl-history-shop-") for c in fake.store["config"].values())


def test_no_deps_order_writes_everything_at_once(fake: FakeEngine, waits: Waits) -> None:
    outcome = _deploy(fake, shop(), deps_order=False)
    assert outcome.exit_code == EXIT_OK and outcome.ordering is None and waits.calls == []
    assert sorted(_written(fake)) == ["shop_app", "shop_cache", "shop_db", "shop_migrate"]


def test_unchanged_dependencies_do_not_block(fake: FakeEngine, waits: Waits) -> None:
    _deploy(fake, shop())
    waits.calls.clear()
    fake.log.clear()  # type: ignore[attr-defined]
    outcome = _deploy(fake, shop(app_level="2"))  # only app changes
    assert outcome.exit_code == EXIT_OK and _written(fake) == ["shop_app"] and waits.calls == []


def test_an_update_of_db_and_app_waits_for_db(fake: FakeEngine, waits: Waits) -> None:
    _deploy(fake, shop())
    waits.calls.clear()
    fake.log.clear()  # type: ignore[attr-defined]
    _deploy(fake, shop("2", app_level="2"))
    assert _written(fake) == ["shop_db", "shop_app"] and waits.calls == [["shop_db"]]


def test_restart_true_force_updates_an_unchanged_dependent_after_its_dependency(fake: FakeEngine,
                                                                                waits: Waits) -> None:
    _deploy(fake, shop(restart=True))
    before = fake.inspect("service", "shop_app")["Spec"]["TaskTemplate"].get("ForceUpdate", 0)
    fake.log.clear()  # type: ignore[attr-defined]
    outcome = _deploy(fake, shop("2", restart=True))
    assert _written(fake) == ["shop_db", "shop_app"]
    assert outcome.applied.restarted == ["shop_app"]
    assert fake.inspect("service", "shop_app")["Spec"]["TaskTemplate"]["ForceUpdate"] == before + 1
    fake.log.clear()  # type: ignore[attr-defined]
    _deploy(fake, shop("2", restart=True))  # nothing changed: nothing restarted
    assert _written(fake) == []


@pytest.mark.parametrize(("state", "code"), [(FAILED, EXIT_DEPLOY_FAILED), (TIMEOUT, EXIT_TIMEOUT)])
def test_a_failing_dependency_stops_the_deploy_naming_it(fake: FakeEngine, monkeypatch: pytest.MonkeyPatch,
                                                         state: str, code: int) -> None:
    monkeypatch.setattr("stackctl.apply.ordering.watch", Waits({"shop_db": state}))
    with pytest.raises(DependencyError) as err:
        _deploy(fake, shop())
    assert err.value.exit_code == code
    assert any("dependency shop_db did not become healthy" in line and "shop_migrate not written" in line
               for line in err.value.lines()), err.value.lines()
    assert "shop_migrate" not in _written(fake) and "shop_app" not in _written(fake)
    assert not [c for c in fake.store["config"].values() if "lock" in c["Spec"]["Name"]]


def test_rollback_on_failure_undoes_in_reverse_dependency_order(fake: FakeEngine,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("stackctl.apply.ordering.watch", Waits())
    _deploy(fake, shop())
    monkeypatch.setattr("stackctl.apply.ordering.watch", Waits({"shop_migrate": FAILED}))
    config = shop("2", app_level="2")
    config["services"]["migrate"]["command"] = ["false"]
    fake.log.clear()  # type: ignore[attr-defined]
    with pytest.raises(ApplyError):
        _deploy(fake, config, rollback_on_failure=True)
    assert _written(fake) == ["shop_db", "shop_migrate", "shop_migrate", "shop_db"]  # undo: reverse
    assert fake.inspect("service", "shop_db")["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["L=1"]


def test_plan_only_and_up_to_date_write_nothing(fake: FakeEngine, waits: Waits) -> None:
    events: list[object] = []
    assert _deploy(fake, shop(), events, plan_only=True).exit_code == EXIT_OK
    assert fake.store["service"] == {} and isinstance(events[-1], PlanReady) and events[-1].plan_only
    _deploy(fake, shop())
    events.clear()
    fake.calls.clear()
    assert _deploy(fake, shop(), events).exit_code == EXIT_OK
    assert isinstance(events[-1], UpToDate) and not [c for c in fake.calls if c[0] in ("create", "update")]


def test_a_second_deploy_waits_for_the_lock_then_plans_again(fake: FakeEngine, waits: Waits) -> None:
    from stackctl.lock import StackLock

    _deploy(fake, shop())
    held = StackLock(fake, "shop")
    held.acquire()
    threading.Timer(0.3, held.release).start()
    events: list[object] = []
    started = time.monotonic()
    outcome = _deploy(fake, shop("2", app_level="2"), events)  # two writes: the lock is needed
    assert outcome.exit_code == EXIT_OK and time.monotonic() - started >= 0.3
    waiting = next(e for e in events if isinstance(e, LockWaiting))
    assert waiting.holder.holder == held.holder and waiting.timeout == 600
    taken = next(e for e in events if isinstance(e, LockTaken))
    assert events.index(waiting) < events.index(taken) < next(
        i for i, e in enumerate(events) if isinstance(e, PlanReady))
    assert outcome.lock_waited >= 0.3


def test_a_detached_one_service_update_needs_no_lock_and_writes_the_service_and_its_revision(
        fake: FakeEngine, waits: Waits) -> None:
    from stackctl.lock import StackLock

    _deploy(fake, shop())
    held = StackLock(fake, "shop")
    held.acquire()  # another deploy's lock: a single version-guarded update does not wait for it
    writes: list[tuple[str, str]] = []
    for verb in ("create", "update", "remove"):
        real = getattr(fake, verb)

        def spy(kind: str, *args: Any, _verb: str = verb, _real: Any = real, **kwargs: Any) -> Any:
            writes.append((_verb, kind))
            return _real(kind, *args, **kwargs)

        setattr(fake, verb, spy)
    events: list[object] = []
    outcome = _deploy(fake, shop("2"), events)
    assert outcome.exit_code == EXIT_OK
    assert not any(isinstance(e, LockWaiting) for e in events)
    assert writes == [("update", "service"), ("create", "config")], writes  # the service, the revision


# --- the executor and undo, directly ----------------------------------------------------------------


def _plan(fake: FakeEngine, config: dict[str, Any], *, prune: bool = False) -> Any:
    from stackctl.convert import convert_stack
    from stackctl.plan import make_plan

    return make_plan(convert_stack(config, "shop"), observe_stack(fake, "shop"), prune=prune)


def test_undo_without_order_restores_updates_and_removes_creations(fake: FakeEngine) -> None:
    apply_plan(fake, _plan(fake, {"services": {"a": {"image": "busybox"}}}), resolve_image="never")
    result = apply_plan(fake, _plan(fake, {"services": {"a": {"image": "busybox", "environment": {"X": "1"}},
                                                        "b": {"image": "busybox"}}}), resolve_image="never")
    assert isinstance(result, ApplyResult) and sorted(result.service_names) == ["shop_a", "shop_b"]
    assert undo(fake, result) == []
    names = [s["Spec"]["Name"] for s in fake.store["service"].values()]
    assert names == ["shop_a"]
    assert "Env" not in fake.inspect("service", "shop_a")["Spec"]["TaskTemplate"]["ContainerSpec"]


def test_gate_lets_the_first_tier_through_and_waits_only_for_written_dependencies(waits: Waits) -> None:
    ordering = Ordering.of(dependency_graph(shop()), "shop")
    gate = DependencyGate(FakeEngine(), ordering, timeout=10, on_event=lambda e: None)
    result = ApplyResult(stack="shop")
    assert gate.before(("shop_cache", "shop_db"), ["shop_db"], result) == []
    assert gate.before(("shop_migrate",), ["shop_migrate"], result) == [] and waits.calls == []


def test_ordering_for_a_stack_without_dependencies_is_none() -> None:
    assert ordering_for({"services": {"a": {"image": "x"}}}, "shop") is None
    assert ordering_for(shop(), "shop").order == ("shop_cache", "shop_db", "shop_migrate", "shop_app")


# --- rm: a plan with nothing desired ------------------------------------------------------------------


def test_remove_stack_prunes_everything_of_the_stack(fake: FakeEngine) -> None:
    from stackctl.destroy import remove_stack

    config = {"services": {"web": {"image": "busybox", "networks": ["back"], "secrets": ["token"]}},
              "networks": {"back": {}}, "secrets": {"token": {"environment": "TOKEN"}}}
    from stackctl.convert import convert_stack
    from stackctl.plan import make_plan

    desired = convert_stack(config, "shop", environ={"TOKEN": "s3cret"})
    apply_plan(fake, make_plan(desired, observe_stack(fake, "shop"), prune=False), resolve_image="never")
    fake.add("service", {"Name": "other_web", "Labels": {"com.docker.stack.namespace": "other"}})
    removal = remove_stack(fake, "shop", detach=True)
    assert removal.ok and removal.removed["services"] == ["shop_web"]
    assert removal.removed["networks"] == ["shop_back"] and len(removal.removed["secrets"]) == 1
    assert [s["Spec"]["Name"] for s in fake.store["service"].values()] == ["other_web"]
    assert not fake.store["network"] and not fake.store["secret"]
    assert not remove_stack(fake, "shop").found


# --- the rollout reports through its callback ---------------------------------------------------------


def _iso(seconds_ago: float) -> str:
    from datetime import datetime, timedelta, timezone

    return (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).isoformat()


def _service_id(result: ApplyResult) -> str:
    return next(o.id for o in result.created if o.kind == "service")


def _running_task(fake: FakeEngine, service_id: str, seconds_ago: float = 60) -> None:
    fake.add("task", {}, ServiceID=service_id, Slot=1, DesiredState="running",
             Status={"State": "running", "Timestamp": _iso(seconds_ago)})


def test_follow_rollout_sends_events_and_prints_nothing(fake: FakeEngine, capsys: pytest.CaptureFixture[str]
                                                        ) -> None:
    from stackctl.apply.rollout import CONVERGED_ALL, END, PROGRESS, WATCH, RolloutEvent, follow_rollout

    result = apply_plan(fake, _plan(fake, {"services": {"web": {"image": "busybox"}}}), resolve_image="never")
    _running_task(fake, _service_id(result))
    events: list[RolloutEvent] = []
    report = follow_rollout(fake, result, timeout=5, on_event=events.append, poll=0.01)
    assert report.exit_code == EXIT_OK
    kinds = [e.kind for e in events]
    assert kinds[0] == WATCH and PROGRESS in kinds and kinds[-2:] == [END, CONVERGED_ALL]
    assert events[-1].text == "1 service converged"
    assert capsys.readouterr() == ("", "")


def test_a_paused_update_with_rollback_on_failure_is_undone(fake: FakeEngine) -> None:
    from stackctl.apply.rollout import NOTE, VERDICT, RolloutEvent, follow_rollout
    from stackctl.errors import EXIT_ROLLED_BACK

    first = apply_plan(fake, _plan(fake, {"services": {"web": {"image": "busybox"}}}), resolve_image="never")
    service_id = _service_id(first)
    changed = {"services": {"web": {"image": "busybox", "environment": {"X": "1"}}}}
    result = apply_plan(fake, _plan(fake, changed), resolve_image="never")
    fake.store["service"][service_id]["UpdateStatus"] = {"State": "paused", "StartedAt": _iso(-1),
                                                         "Message": "update paused due to failure"}
    events: list[RolloutEvent] = []

    def on_event(event: RolloutEvent) -> None:
        events.append(event)
        if event.kind == NOTE:  # the undo wrote the old spec: the swarm is calm again
            fake.store["service"][service_id].pop("UpdateStatus", None)
            _running_task(fake, service_id)

    report = follow_rollout(fake, result, timeout=5, rollback_on_failure=True, on_event=on_event, poll=0.01)
    assert report.exit_code == EXIT_ROLLED_BACK and report.undone, [e.text for e in events]
    assert [e.kind for e in events if e.kind == VERDICT] == [VERDICT]
    assert any(e.text == f"undo: Updating service shop_web (id: {service_id})" for e in events)
    assert "Env" not in fake.inspect("service", service_id)["Spec"]["TaskTemplate"]["ContainerSpec"]


# --- the engine during the wait: a swarm electing a leader, an engine gone ----------------------------


def _failing_reads(fake: FakeEngine, monkeypatch: pytest.MonkeyPatch, error: Any, times: int | None) -> None:
    """The first `times` task list calls (None: all of them) raise `error`."""
    from stackctl.errors import EngineError

    objects = fake.objects
    count = [0]

    def failing(kind: str, filters: Any = None) -> list[dict[str, Any]]:
        if kind == "task" and (times is None or count[0] < times):
            count[0] += 1
            raise error if isinstance(error, EngineError) else error()
        return objects(kind, filters)

    monkeypatch.setattr(fake, "objects", failing)


def test_the_wait_asks_again_while_the_swarm_has_no_leader(fake: FakeEngine,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A follower answers 503 until the swarm elects a new leader: the wait carries on meanwhile."""
    from stackctl.apply.rollout import PROGRESS, RolloutEvent, follow_rollout
    from tests.unit.fake_engine import refusal

    result = apply_plan(fake, _plan(fake, {"services": {"web": {"image": "busybox"}}}), resolve_image="never")
    _running_task(fake, _service_id(result))
    no_leader = refusal(503, "The swarm does not have a leader. It's possible that too few managers "
                             "are online.")
    _failing_reads(fake, monkeypatch, no_leader, times=3)
    events: list[RolloutEvent] = []
    report = follow_rollout(fake, result, timeout=5, on_event=events.append, poll=0.01)
    assert report.exit_code == EXIT_OK
    shown = [p.message for e in events if e.kind == PROGRESS for p in e.progress]
    assert any("cannot answer for now" in m and "does not have a leader" in m for m in shown), shown


def test_a_swarm_that_stays_without_a_leader_ends_the_wait_saying_what_was_written(
        fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.apply.rollout import follow_rollout
    from stackctl.errors import EngineError
    from tests.unit.fake_engine import refusal

    monkeypatch.setattr("stackctl.apply.wait.UNAVAILABLE_GRACE", 0.05)
    result = apply_plan(fake, _plan(fake, {"services": {"web": {"image": "busybox"}}}), resolve_image="never")
    _failing_reads(fake, monkeypatch, refusal(503, "The swarm does not have a leader."), times=None)
    started = time.monotonic()
    with pytest.raises(EngineError) as caught:
        follow_rollout(fake, result, timeout=30, on_event=lambda e: None, poll=0.01)
    assert time.monotonic() - started < 5
    lines = caught.value.lines()
    assert lines[0] == "cannot watch the rollout: The swarm does not have a leader.", lines
    assert lines[1:3] == ["done: created network shop_default, service shop_web",
                          "not known: whether the services converged (the swarm carries on with them "
                          "without stackctl)"], lines
    assert lines[3].startswith("next:") and "stackctl ps shop" in lines[3], lines
    assert caught.value.exit_code == 1


def test_an_engine_lost_during_the_wait_is_one_error_naming_it_and_the_writes(
        fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The manager stackctl talks to dies while it waits: no retry, no other manager; a clear end,
    the revision not recorded (nothing could record it) and the lock's release attempted."""
    from stackctl.errors import DOWN, EngineError

    fake.host = "unix:///run/lab/mgr-1/docker.sock"
    gone = EngineError(f"the Docker engine at {fake.host} is not answering (Connection refused: did it "
                       "stop?)", reason="Connection refused", failure=DOWN)
    _failing_reads(fake, monkeypatch, gone, times=None)
    opts = DeployOptions(resolve_image="never", timeout="30s")
    started = time.monotonic()
    with pytest.raises(EngineError) as caught:
        deploy(DeployRequest("shop", {"services": {"web": {"image": "busybox"}}}), opts, engine=fake)
    assert time.monotonic() - started < 5
    lines = caught.value.lines()
    assert lines[0].startswith(f"cannot watch the rollout: the Docker engine at {fake.host} is not answering")
    assert lines[1] == "done: created network shop_default, service shop_web", lines
    from stackctl.history import list_revisions

    assert list_revisions(fake, "shop") == []
    assert not [c for c in fake.store["config"].values() if c["Spec"]["Name"].startswith("stackctl-lock-")]


def test_a_wait_that_fails_on_an_answering_engine_records_a_failed_revision(
        fake: FakeEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.errors import EngineError
    from stackctl.history import list_revisions
    from tests.unit.fake_engine import refusal

    monkeypatch.setattr("stackctl.apply.wait.UNAVAILABLE_GRACE", 0.05)
    _failing_reads(fake, monkeypatch, refusal(503, "The swarm does not have a leader."), times=None)
    with pytest.raises(EngineError):
        deploy(DeployRequest("shop", {"services": {"web": {"image": "busybox"}}}),
               DeployOptions(resolve_image="never", timeout="30s"), engine=fake)
    revisions = list_revisions(fake, "shop")
    assert len(revisions) == 1 and "wait failed: cannot watch the rollout" in revisions[0].description
