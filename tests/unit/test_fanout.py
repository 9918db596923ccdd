"""Fan-out (docs/fan-out.md): stackctl.yml targets and waves, and the wave logic of the driver on the
in-memory fake of the engine gateway (one fake per target). Waiting on real tasks, bakes on real
swarms and unreachable labs are the lab's (tests/integration/test_fanout.py)."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from stackctl.apply.convergence import CONVERGED, FAILED
from stackctl.apply.wait import bake_services
from stackctl.deploy import DeployOptions
from stackctl.errors import (
    EXIT_DEPLOY_FAILED,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    UsageError,
    ValidationError,
)
from stackctl.fanout import driver
from stackctl.fanout.driver import FanoutOptions, find_resume, roll_out
from stackctl.fanout.spec import Rollout, load_rollout
from stackctl.history import list_revisions
from stackctl.project import load_project
from stackctl.render.fanout import end_table_rows, plan_block_lines
from tests.unit.fake_engine import FakeEngine, refusal

APP = 'version: "3.8"\nservices:\n  web:\n    image: "busybox:${TAG:-1}"\n    environment:\n' \
      '      REGION: ${REGION:-none}\n    deploy:\n      replicas: 0\n'

PROJECT = """\
version: "1"
stack: shop
files: [app.yml]
environments:
  prod:
    targets:
      - {name: canary, host: "tcp://canary:2376", labels: {tier: canary}}
      - {name: eu, host: "tcp://eu:2376", labels: {tier: main}}
      - {name: us, context: us, labels: {tier: main}, variables: {REGION: us}}
    rollout:
      waves:
        - {targets: [canary], bake: 2m, gates: [{http: "https://canary.example.com/healthz"}]}
        - {labels: {tier: main}, max_parallel: 2}
      on_failure: rollback_wave
"""


def write(tmp_path: Path, text: str = PROJECT) -> str:
    (tmp_path / "app.yml").write_text(APP)
    path = tmp_path / "stackctl.yml"
    path.write_text(text)
    return str(path)


def rollout_of(tmp_path: Path, text: str = PROJECT) -> Rollout:
    return load_rollout(load_project(write(tmp_path, text)), "prod")


# --- stackctl.yml -------------------------------------------------------------------------------------


def test_the_issue_shape_resolves(tmp_path: Path) -> None:
    r = rollout_of(tmp_path)
    assert [t.name for t in r.targets] == ["canary", "eu", "us"]
    assert [w.targets for w in r.waves] == [("canary",), ("eu", "us")]
    assert r.waves[0].bake == 120.0 and r.waves[0].gates[0].kind == "http"
    assert r.waves[0].gates[0].where.endswith("stackctl.yml:12")
    assert r.waves[1].max_parallel == 2 and r.waves[1].bake == 0
    assert r.on_failure == "rollback_wave"
    us = r.target("us")
    assert us.env.context == "us" and us.env.host is None and us.env.variables["REGION"] == "us"
    assert us.env.files == [str(tmp_path / "app.yml")]


def test_the_example_resolves() -> None:
    example = Path(__file__).parents[2] / "examples" / "fanout" / "stackctl.yml"
    r = load_rollout(load_project(str(example)), "prod")
    assert [w.targets for w in r.waves] == [("canary",), ("eu", "us")] and r.on_failure == "rollback_wave"
    assert r.target("us").env.host == "unix:///run/stackctl/labs/fo3/mgr-1/docker.sock"


def test_without_rollout_targets_go_one_by_one(tmp_path: Path) -> None:
    text = PROJECT.split("    rollout:")[0]
    r = rollout_of(tmp_path, text)
    assert [w.targets for w in r.waves] == [("canary",), ("eu",), ("us",)]
    assert r.on_failure == "stop"


WAVES = "stackctl.yml:{}: environments.prod.rollout.waves"
TARGETS = "stackctl.yml:{}: environments.prod.targets"


@pytest.mark.parametrize(("edit", "expected"), [
    (("targets: [canary]", "targets: [canry]"),
     WAVES.format(12) + "[0].targets[0]: no target 'canry' (did you mean 'canary'?)"),
    (("{tier: main}, max_parallel", "{tier: edge}, max_parallel"),
     "stackctl.yml:13: environments.prod.rollout.waves[1].labels: no target has the labels tier=edge"),
    (("- {labels: {tier: main}, max_parallel: 2}", "- {targets: [eu], max_parallel: 2}"),
     "stackctl.yml:11: environments.prod.rollout.waves: target us is in no wave"),
    (("targets: [canary]", "targets: [canary, eu]"),
     "stackctl.yml:13: environments.prod.rollout.waves[1]: target 'eu' is already in wave 1"),
    (("bake: 2m", "bake: 2 minutes"), WAVES.format(12) + '[0].bake: invalid duration "2 minutes"'),
    (('host: "tcp://eu:2376", ', ""), TARGETS.format(8) + "[1]: target 'eu' names no swarm"),
    (("    targets:\n", "    host: tcp://x:1\n    targets:\n"),
     "stackctl.yml:6: environments.prod.host: host and targets are exclusive"),
    (("on_failure: rollback_wave", "on_failure: rewind"),
     "stackctl.yml:14: environments.prod.rollout.on_failure: must be one of 'stop', 'rollback_wave', "
     "'rollback_all'"),
    (('host: "tcp://canary:2376"', 'host: "tcp://canary:2376", context: c'),
     "stackctl.yml:7: environments.prod.targets[0]: context and host are exclusive"),
])
def test_problems_are_located(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    text = PROJECT.replace(*edit)
    assert text != PROJECT
    with pytest.raises(ValidationError) as err:
        rollout_of(tmp_path, text)
    lines = [line.replace(str(tmp_path) + "/", "") for line in err.value.lines()]
    assert any(line.startswith(expected) for line in lines), lines


def test_validate_checks_targets_and_waves(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = write(tmp_path, PROJECT.replace("targets: [canary]", "targets: [canry]"))
    cp = subprocess.run([sys.executable, "-m", "stackctl", "validate", "--env", "prod", "--project", path],
                        capture_output=True, text=True, timeout=60, cwd=str(Path(__file__).parents[2]))
    assert cp.returncode == 1
    assert f"{path}:12: environments.prod.rollout.waves[0].targets[0]: no target 'canry'" in cp.stderr


def test_targets_and_wave_limit_a_run(tmp_path: Path) -> None:
    r = rollout_of(tmp_path)
    assert [w.targets for w in r.limited(["us"]).waves] == [("us",)]
    assert [w.number for w in r.limited(wave=2).waves] == [2]
    with pytest.raises(UsageError, match="no target 'eux'.*did you mean 'eu'"):
        r.limited(["eux"])
    with pytest.raises(UsageError, match="waves 1 to 2"):
        r.limited(wave=3)
    with pytest.raises(UsageError, match="leave no target"):
        r.limited(["canary"], wave=2)


# --- the driver on fakes -------------------------------------------------------------------------------


GATED = 'bake: 2m, gates: [{http: "https://canary.example.com/healthz"}]'


def fakes() -> dict[str, FakeEngine]:
    return {name: FakeEngine() for name in ("canary", "eu", "us")}


def quick(tmp_path: Path, on_failure: str = "rollback_wave", gates: str = "", bake: str = "") -> Rollout:
    text = PROJECT.replace(GATED, ", ".join(x for x in (bake, gates) if x) or "max_parallel: 1")
    text = text.replace("on_failure: rollback_wave", f"on_failure: {on_failure}")
    return rollout_of(tmp_path, text)


def options(**extra: Any) -> FanoutOptions:
    return FanoutOptions(deploy=DeployOptions(resolve_image="never", detach=True), **extra)


def writes(fake: FakeEngine) -> list[tuple[str, str]]:
    return [c for c in fake.calls if c[0] in ("create", "update", "remove") and c[1] != "config"]


def service(fake: FakeEngine) -> dict[str, Any]:
    (svc,) = fake.store["service"].values()
    return svc


def test_waves_go_in_order_and_the_second_runs_two_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from stackctl import deploy as layer

    order: list[str] = []
    together = threading.Barrier(2, timeout=10)  # eu and us must both be inside deploy at the same time
    real = layer.deploy

    def spy(request: Any, opts: Any, **kw: Any) -> Any:
        target = request.rollout["target"]
        order.append(target)
        if target in ("eu", "us"):
            together.wait()
        return real(request, opts, **kw)

    monkeypatch.setattr(layer, "deploy", spy)
    engines = fakes()
    events: list[object] = []
    result = roll_out(quick(tmp_path), options(), on_event=events.append, engines=engines)
    assert result.exit_code == EXIT_OK, result.message
    assert order[0] == "canary" and sorted(order[1:]) == ["eu", "us"]
    assert [t.status for t in result.targets] == ["deployed"] * 3
    for name, fake in engines.items():
        (rev,) = list_revisions(fake, "shop")
        assert rev.rollout == {"id": result.id, "env": "prod", "target": name,
                               "wave": 1 if name == "canary" else 2, "action": "deploy"}
    planned = [e for e in events if isinstance(e, driver.WavePlanned)]
    assert [list(e.plans) for e in planned] == [["canary"], ["eu", "us"]]
    rows = end_table_rows(result)
    assert [r[:4] for r in rows] == [["canary", "1", "2 to create, 0 to update, 0 to remove", "deployed"],
                                     ["eu", "2", "2 to create, 0 to update, 0 to remove", "deployed"],
                                     ["us", "2", "2 to create, 0 to update, 0 to remove", "deployed"]]
    doc = result.to_json()
    assert doc["schema"] == "stackctl.rollout/v1" and len(doc["targets"]) == 3


def test_identical_plans_are_one_block(tmp_path: Path) -> None:
    engines = fakes()
    roll_out(quick(tmp_path).limited(["canary"]), options(), engines=engines)
    prepared, problems = driver.plan_targets(quick(tmp_path), options(), engines=engines)
    assert not problems
    lines = plan_block_lines({n: p.plan for n, p in prepared.items()})
    heads = [line for line in lines if line.startswith("===")]
    assert heads == ["=== Target canary:", "=== Targets eu, us (identical plans):"]


def test_a_failed_target_starts_no_other_and_later_waves_are_never_written(tmp_path: Path) -> None:
    engines = fakes()
    engines["canary"].failures[("create", "service")] = refusal(500, "no space left")
    result = roll_out(quick(tmp_path, "stop"), options(), engines=engines)
    assert result.exit_code == EXIT_ERROR
    assert result.target("canary").status == "failed" and "no space left" in result.target("canary").message
    assert [result.target(n).status for n in ("eu", "us")] == ["not started", "not started"]
    assert writes(engines["eu"]) == writes(engines["us"]) == []


def test_max_parallel_1_starts_nothing_after_a_failure(tmp_path: Path) -> None:
    text = PROJECT.replace("max_parallel: 2", "max_parallel: 1")
    r = load_rollout(load_project(write(tmp_path, text)), "prod").limited(wave=2)
    engines = fakes()
    engines["eu"].failures[("create", "service")] = refusal(500, "disk full")
    result = roll_out(r, options(), engines=engines)
    assert result.target("eu").status == "failed"
    assert result.target("us").status == "not started" and writes(engines["us"]) == []


def test_an_unreachable_target_fails_its_wave_before_any_write(tmp_path: Path) -> None:
    from stackctl.errors import DOWN, EngineError

    engines = fakes()
    engines["us"].failures[("info", "")] = EngineError("cannot connect to tcp://us", failure=DOWN)
    result = roll_out(quick(tmp_path), options(), engines=engines)
    assert result.exit_code == EXIT_ERROR
    assert result.target("canary").status == "deployed"
    assert result.target("us").status == "unreachable"
    assert "target us (context us) cannot be reached" in result.target("us").message
    assert result.target("eu").status == "not started"
    assert writes(engines["eu"]) == [] and writes(engines["us"]) == []


def test_a_failing_gate_rolls_the_wave_back(tmp_path: Path) -> None:
    engines = fakes()
    first = roll_out(quick(tmp_path), options(), engines=engines)
    assert first.exit_code == EXIT_OK
    before = {n: service(f)["Version"]["Index"] for n, f in engines.items()}
    r = quick(tmp_path, gates='gates: [{command: "echo down; exit 1"}]')
    result = roll_out(r, FanoutOptions(deploy=DeployOptions(resolve_image="never", detach=True),
                                       images={"web": "busybox:2"}), engines=engines)
    assert result.exit_code == EXIT_ROLLED_BACK, result.message
    assert "gate command 'echo down; exit 1'" in result.message and "exit 1: down" in result.message
    canary = result.target("canary")
    assert canary.status == "rolled back" and canary.rollback == "rolled back to revision 1"
    spec = service(engines["canary"])["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Image"] == "busybox:1"
    revs = list_revisions(engines["canary"], "shop")
    assert [r.rollout.get("action") for r in revs] == ["deploy", "deploy", "rollback"]
    for name in ("eu", "us"):  # never written
        assert service(engines[name])["Version"]["Index"] == before[name]


def test_rollback_all_goes_back_on_every_target_written(tmp_path: Path) -> None:
    engines = fakes()
    roll_out(quick(tmp_path), options(), engines=engines)
    text = PROJECT.replace(GATED, "max_parallel: 1")
    text = text.replace("max_parallel: 2}", "max_parallel: 2, gates: [{command: [\"false\"]}]}")
    text = text.replace("on_failure: rollback_wave", "on_failure: rollback_all")
    r = rollout_of(tmp_path, text)
    result = roll_out(r, options(images={"web": "busybox:2"}), engines=engines)
    assert result.exit_code == EXIT_ROLLED_BACK
    assert [t.status for t in result.targets] == ["rolled back"] * 3
    for fake in engines.values():
        assert service(fake)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "busybox:1"


def test_stop_leaves_the_failed_wave_as_it_is(tmp_path: Path) -> None:
    engines = fakes()
    roll_out(quick(tmp_path), options(), engines=engines)
    r = quick(tmp_path, "stop", gates="gates: [{command: [\"false\"]}]")
    result = roll_out(r, options(images={"web": "busybox:2"}), engines=engines)
    assert result.exit_code == EXIT_DEPLOY_FAILED
    assert result.target("canary").status == "deployed" and not result.target("canary").rollback
    assert service(engines["canary"])["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "busybox:2"


def test_pins_reach_every_target_and_resume_ships_the_same_images(tmp_path: Path) -> None:
    from stackctl.errors import DOWN, EngineError

    engines = fakes()
    engines["us"].failures[("info", "")] = EngineError("cannot connect", failure=DOWN)
    first = roll_out(quick(tmp_path), options(images={"web": "busybox@sha256:" + "a" * 64}), engines=engines)
    assert first.exit_code == EXIT_ERROR
    point = find_resume(quick(tmp_path), options(), engines=engines)
    assert point.id == first.id and point.done == {"canary"} and point.wave == 1
    assert point.images == {"web": "busybox@sha256:" + "a" * 64}
    canary_version = service(engines["canary"])["Version"]["Index"]
    again = roll_out(quick(tmp_path), options(rollout_id=point.id, images=point.images, done=point.done,
                                              resume_wave=point.wave), engines=engines)
    assert again.exit_code == EXIT_OK, again.message
    assert [t.status for t in again.targets] == ["done earlier", "deployed", "deployed"]
    assert service(engines["canary"])["Version"]["Index"] == canary_version
    for fake in engines.values():
        assert service(fake)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == "busybox@sha256:" + "a" * 64
    assert {r.rollout["id"] for f in engines.values() for r in list_revisions(f, "shop")} == {first.id}


def test_resume_without_a_recorded_rollout_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no rollout to resume"):
        find_resume(quick(tmp_path), options(), engines=fakes())


def test_plan_only_writes_nothing(tmp_path: Path) -> None:
    engines = fakes()
    opts = FanoutOptions(deploy=DeployOptions(resolve_image="never", plan_only=True))
    result = roll_out(quick(tmp_path), opts, engines=engines)
    assert result.exit_code == EXIT_OK and [t.status for t in result.targets] == ["planned"] * 3
    assert all(writes(f) == [] for f in engines.values())
    assert result.to_json()["targets"][0]["deploy"]["plan"]["schema"] == "stackctl.diff/v2"


# --- the bake (apply/wait.py, over apply/convergence.py) ---------------------------------------------


def _stamp(seconds_ago: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _baking(fake: FakeEngine) -> str:
    sid = fake.add("service", {"Name": "shop_web", "Labels": {"com.docker.stack.namespace": "shop"},
                               "Mode": {"Replicated": {"Replicas": 1}}, "TaskTemplate": {}})
    fake.add("task", {}, ServiceID=sid, Slot=1, DesiredState="running",
             Status={"State": "running", "Timestamp": _stamp(60)}, CreatedAt=_stamp(60))
    return sid


def test_bake_passes_while_tasks_keep_running() -> None:
    fake = FakeEngine()
    _baking(fake)
    started = time.monotonic()
    (outcome,) = bake_services(fake, {"label": ["com.docker.stack.namespace=shop"]}, duration=0.3, poll=0.1)
    assert outcome.state == CONVERGED and time.monotonic() - started >= 0.3


def test_bake_fails_at_the_first_task_that_fails() -> None:
    fake = FakeEngine()
    sid = _baking(fake)
    fake.add("task", {}, ServiceID=sid, Slot=1, DesiredState="shutdown",
             Status={"State": "failed", "Err": "task: non-zero exit (1)", "Timestamp": _stamp(-1)},
             CreatedAt=_stamp(-1))
    (outcome,) = bake_services(fake, {"label": ["com.docker.stack.namespace=shop"]}, duration=30, poll=0.1)
    assert outcome.state == FAILED and "during the bake" in outcome.message
    assert outcome.task_error and "non-zero exit (1)" in outcome.task_error


# --- what a user reads (golden) ----------------------------------------------------------------------------

GOLDEN = Path(__file__).parent.parent / "golden" / "fanout"


def test_output_of_a_rollout_whose_gate_fails(tmp_path: Path) -> None:
    import io
    import re

    from stackctl.render.fanout import FanoutPrinter

    engines = fakes()
    roll_out(quick(tmp_path), options(), engines=engines)
    out, err = io.StringIO(), io.StringIO()
    r = quick(tmp_path, gates='gates: [{command: "echo down; exit 1"}]')
    printer = FanoutPrinter(out=out, err=err)
    roll_out(r, options(images={"web": "busybox:2"}), engines=engines, on_event=printer)
    text = f"--- stdout\n{out.getvalue()}--- stderr\n{err.getvalue()}"
    text = re.sub(r"\d{8}T\d{6}Z-[0-9a-f]{4}", "ROLLOUT-ID", text)
    text = re.sub(r"\b\d+\.\ds\b", "N.Ns", text).replace(str(tmp_path) + "/", "")
    from tests.paths import check_golden

    check_golden(GOLDEN / "gate-fails-rollback-wave.txt", text)


@pytest.mark.parametrize(("args", "message"), [
    (["deploy", "--targets", "eu", "-c", "app.yml", "shop"], "--targets, --wave and --resume need --env"),
    (["deploy", "--env", "prod", "--detach"], "--detach: environment 'prod' has waves with a bake or gates"),
    (["deploy", "--env", "prod", "shop"], "environment 'prod' lists targets: STACK cannot be given with it"),
    (["diff", "--env", "prod", "--wave", "3"], "--wave 3: environment 'prod' has waves 1 to 2"),
    (["deploy", "--env", "prod", "--targets", "mars"], "--targets: environment 'prod' has no target 'mars'"),
])
def test_bad_flags_exit_64_before_any_engine(tmp_path: Path, args: list[str], message: str) -> None:
    import subprocess
    import sys

    path = write(tmp_path)
    args = [str(tmp_path / a) if a == "app.yml" else a for a in args]
    cp = subprocess.run([sys.executable, "-m", "stackctl", *args, "--project", path], capture_output=True,
                        text=True, timeout=60, cwd=str(Path(__file__).parents[2]),
                        env={"PATH": "/usr/bin:/bin", "DOCKER_HOST": "tcp://127.0.0.1:1"})
    assert cp.returncode == 64, cp.stderr
    assert message in cp.stderr
