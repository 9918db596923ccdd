"""The executor's pool of writers: output and ApplyResult in plan order whatever order the engine
answers in; a failed write stops the rest; "update out of sequence" is re-planned inside the pool.

Runs on the in-memory gateway (tests/unit/fake_engine.py) made slow per service, so that writes
overlap and finish out of order; the lab tests check the real engine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from stackctl.apply.executor import ApplyEvent, ApplyResult, apply_plan
from stackctl.convert import convert_stack
from stackctl.errors import ApplyError
from stackctl.observe import observe_stack
from stackctl.plan import Plan, make_plan
from tests.unit.fake_engine import FakeEngine, refusal


class SlowEngine(FakeEngine):
    """Service writes take `delay[name]` seconds; `refuse` names services whose create fails.
    Counts the writes in flight at once."""

    def __init__(self) -> None:
        super().__init__()
        self.delay: dict[str, float] = {}
        self.refuse: set[str] = set()
        self.guard = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0
        self.started: list[str] = []

    def _slow(self, name: str) -> None:
        with self.guard:
            self.started.append(name)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.delay.get(name, 0.0))
        with self.guard:
            self.in_flight -= 1

    def create(self, kind: str, spec: Mapping[str, Any], *, headers: Mapping[str, str] | None = None
               ) -> dict[str, Any]:
        name = str(spec.get("Name", ""))
        if kind == "service":
            self._slow(name)
            if name in self.refuse:
                raise refusal(400, f"rpc error: code = InvalidArgument desc = refused {name}")
        with self.guard:
            return super().create(kind, spec, headers=headers)

    def update(self, kind: str, ident: str, version: int, spec: Mapping[str, Any], *,
               headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        if kind == "service":
            self._slow(str(spec.get("Name", "")))
        with self.guard:
            return super().update(kind, ident, version, spec, headers=headers)


def _config(count: int, env: str = "1") -> dict[str, Any]:
    return {"services": {f"s{i:02d}": {"image": "busybox", "environment": {"X": env}} for i in range(count)}}


def _plan(engine: FakeEngine, config: dict[str, Any]) -> Plan:
    return make_plan(convert_stack(config, "shop"), observe_stack(engine, "shop"), prune=False)


def _service_lines(events: list[ApplyEvent]) -> list[str]:
    return [e.text() for e in events if e.kind == "service"]


def test_concurrent_creates_report_in_plan_order() -> None:
    engine = SlowEngine()
    names = [f"shop_s{i:02d}" for i in range(12)]
    for i, name in enumerate(names):  # the first ones answer last
        engine.delay[name] = 0.005 * (len(names) - i)
    plan = _plan(engine, _config(12))
    order = [a.name for a in plan.by_kind("service")]
    events: list[ApplyEvent] = []
    result = apply_plan(engine, plan, resolve_image="never", on_event=events.append, workers=8)
    assert engine.most_in_flight > 1  # the writes did overlap
    assert _service_lines(events) == [f"Creating service {n}" for n in order]
    assert [o.name for o in result.created if o.kind == "service"] == order
    assert list(result.images) == order
    # The network (an earlier phase) comes first, as when writing one at a time.
    assert events[0].kind == "network" and events[0].action == "create"


def test_the_same_events_with_one_worker_and_with_eight() -> None:
    texts = []
    for workers in (1, 8):
        engine = SlowEngine()
        for i in range(10):
            engine.delay[f"shop_s{i:02d}"] = 0.002 * ((7 * i) % 10)
        events: list[ApplyEvent] = []
        apply_plan(engine, _plan(engine, _config(10)), resolve_image="never", on_event=events.append,
                   workers=workers)
        texts.append([e.text() for e in events])
    assert texts[0] == texts[1]


def test_a_failed_write_stops_the_rest_and_reports_what_was_written() -> None:
    engine = SlowEngine()
    for i in range(30):
        engine.delay[f"shop_s{i:02d}"] = 0.01
    engine.refuse.add("shop_s02")
    plan = _plan(engine, _config(30))
    events: list[ApplyEvent] = []
    with pytest.raises(ApplyError) as caught:
        apply_plan(engine, plan, resolve_image="never", on_event=events.append, workers=4)
    result: ApplyResult = caught.value.result  # type: ignore[attr-defined]
    assert len(engine.started) < 30  # no new write started after the failure
    written = sorted(s["Spec"]["Name"] for s in engine.store["service"].values())
    assert sorted(o.name for o in result.created if o.kind == "service") == written  # in-flight ones too
    assert "shop_s02" not in written
    assert [f["name"] for f in result.failures] == ["shop_s02"]
    assert [d.message for d in caught.value.diagnostics] == [
        "failed to create service shop_s02: Error response from daemon: rpc error: code = InvalidArgument "
        "desc = refused shop_s02"]
    assert f"({result.writes} changes applied before the failure)" in str(caught.value)
    # What was reported is in plan order, and only what was started.
    order = [a.name for a in plan.by_kind("service")]
    lines = _service_lines(events)
    assert lines == [f"Creating service {n}" for n in order[:len(lines)]]
    assert sorted(n for n in order if f"Creating service {n}" in lines) == sorted(engine.started)


def test_remove_keeps_going_after_a_failure() -> None:
    engine = SlowEngine()
    apply_plan(engine, _plan(engine, _config(6)), resolve_image="never")
    engine.failures[("remove", "service")] = refusal(500, "boom")
    empty = make_plan(convert_stack({"services": {}}, "shop"), observe_stack(engine, "shop"), prune=True)
    with pytest.raises(ApplyError) as caught:
        apply_plan(engine, empty, resolve_image="never", keep_going=True, workers=4, remove_retry=0)
    result: ApplyResult = caught.value.result  # type: ignore[attr-defined]
    assert len([o for o in result.removed if o.kind == "service"]) == 5
    assert len(engine.store["service"]) == 1


def test_update_out_of_sequence_is_planned_again_inside_the_pool() -> None:
    engine = SlowEngine()
    apply_plan(engine, _plan(engine, _config(8)), resolve_image="never")
    plan = _plan(engine, _config(8, env="2"))
    # Someone else updates two services after we planned: one to something else, one to what we want.
    ids = {s["Spec"]["Name"]: s["ID"] for s in engine.store["service"].values()}
    for name, env in (("shop_s03", "other"), ("shop_s05", "2")):
        live = engine.store["service"][ids[name]]
        spec = dict(live["Spec"])
        spec["TaskTemplate"] = {**spec["TaskTemplate"], "ContainerSpec": {
            **spec["TaskTemplate"]["ContainerSpec"], "Env": [f"X={env}"]}}
        engine.update("service", ids[name], live["Version"]["Index"], spec)
    for i in range(8):
        engine.delay[f"shop_s{i:02d}"] = 0.002 * (8 - i)
    events: list[ApplyEvent] = []
    result = apply_plan(engine, plan, resolve_image="never", on_event=events.append, workers=8)
    assert result.conflicts == ["shop_s03", "shop_s05"]
    assert [o.name for o in result.updated] == [f"shop_s{i:02d}" for i in range(8) if i != 5]
    for svc in engine.store["service"].values():
        assert svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["X=2"]
    texts = [e.text() for e in events]
    at = texts.index(next(t for t in texts if t.startswith("Updating service shop_s03")))
    assert texts[at + 1] == ("service shop_s03 changed while deploying (update out of sequence); "
                             "planned it again")
    assert texts[at + 2].startswith("Updating service shop_s03")
    assert any(t.startswith("Skipping service shop_s05: changed concurrently") for t in texts)
    # Plan order throughout: s00..s07, whatever order the writes finished in.
    services = [t.split()[2] for t in texts if t.split()[1:2] == ["service"]]
    assert services == sorted(services)
