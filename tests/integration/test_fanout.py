"""One environment, many swarms (issue 27, docs/fan-out.md) on three labs side by side as three swarms.

The labs (canary, eu, us) are three of this module's own with names unique to the run, or those
$STACKCTL_FANOUT_LABS names (fo1,fo2,fo3); the module brings up those that are not up (one manager, no
worker, no registry, no sshd) and takes down only those it brought up (one test stops a lab's manager).
Stacks are named fo<random> and removed from every lab afterwards, so the module runs beside other
tests and labs. Services are one busybox task per swarm.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from stackctl.lab.layout import LabLayout
from tests.integration.fanout_labs import (
    APP,
    OTHER_IMAGE,
    answers,
    docker,
    lab_names,
    project_text,
    stack_fixture,
    stackctl,
    swarms_fixture,
)

REPO = Path(__file__).resolve().parents[2]
# Three labs of this module's own, unique to the run (brought up and taken down here), unless
# $STACKCTL_FANOUT_LABS names three (e.g. fo1,fo2,fo3: those that are up are used and left up).
LABS = lab_names("STACKCTL_FANOUT_LABS", "fo", 3)
TARGETS = ("canary", "eu", "us")
_stackctl, _docker, _answers = stackctl, docker, answers


swarms = swarms_fixture(TARGETS, LABS)
stack = stack_fixture("fo")


def _project(tmp_path: Path, stack: str, swarms: dict[str, LabLayout], *, wave1: str = "bake: 3s",
             on_failure: str = "rollback_wave") -> str:
    (tmp_path / "app.yml").write_text(APP)
    text = project_text(swarms, stack, wave1=wave1, on_failure=on_failure)
    path = tmp_path / "stackctl.yml"
    path.write_text(text)
    return str(path)


def _deploy(project: str, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return _stackctl("deploy", "--env", "prod", "--project", project, "--resolve-image", "never",
                     "--timeout", "60s", *extra, env=env)


def _json(cp: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(cp.stdout)
    assert doc["schema"] == "stackctl.rollout/v1"
    return doc


def _by_target(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["target"]: t for t in doc["targets"]}


def _service(swarms: dict[str, LabLayout], target: str, stack: str) -> dict[str, Any] | None:
    cp = _docker(swarms[target].manager.host, "service", "inspect", f"{stack}_web")
    if cp.returncode != 0:
        return None
    found: list[dict[str, Any]] = json.loads(cp.stdout)
    return found[0]


def _stamp(text: str) -> float:
    from datetime import datetime

    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def out(cp: subprocess.CompletedProcess[str]) -> str:
    return cp.stdout + cp.stderr


def test_canary_bakes_before_the_main_wave_runs_two_at_once(tmp_path: Path, stack: str,
                                                           swarms: dict[str, LabLayout]) -> None:
    project = _project(tmp_path, stack, swarms)
    started = time.monotonic()
    cp = _deploy(project, "--format", "json")
    wall = time.monotonic() - started
    assert cp.returncode == 0, out(cp)
    doc = _json(cp)
    t = _by_target(doc)
    assert [t[n]["status"] for n in TARGETS] == ["deployed"] * 3
    canary_end = _stamp(t["canary"]["ended"])
    eu, us = (_stamp(t["eu"]["started"]), _stamp(t["eu"]["ended"])), (_stamp(t["us"]["started"]),
                                                                       _stamp(t["us"]["ended"]))
    # the canary converged and baked (3 s) before either target of the second wave started
    assert canary_end + 3.0 <= min(eu[0], us[0]), t
    # the second wave's two targets ran at the same time: their spans overlap
    assert max(eu[0], us[0]) < min(eu[1], us[1]), t
    wave2 = max(eu[1], us[1]) - min(eu[0], us[0])
    print(f"fan-out wall {wall:.1f}s; wave 2 {wave2:.1f}s vs eu {eu[1] - eu[0]:.1f}s + "
          f"us {us[1] - us[0]:.1f}s")
    assert wave2 < (eu[1] - eu[0]) + (us[1] - us[0])
    assert doc["waves"][0]["status"] == "passed" and doc["waves"][0]["bake"]["canary"]
    # every target's revision records the rollout
    hist = _stackctl("history", "--env", "prod", "--project", project, "--format", "json")
    assert hist.returncode == 0, out(hist)
    revisions = {d["target"]: d["revisions"] for d in json.loads(hist.stdout)["targets"]}
    ids = {n: [r["rollout"]["id"] for r in revisions[n]] for n in TARGETS}
    assert ids == {n: [doc["id"]] for n in TARGETS}
    text = _stackctl("history", "--env", "prod", "--project", project)
    assert doc["id"] in text.stdout and "canary" in text.stdout


def test_identical_plans_print_as_one_block(tmp_path: Path, stack: str, swarms: dict[str, LabLayout]) -> None:
    project = _project(tmp_path, stack, swarms)
    first = _deploy(project, "--targets", "canary")
    assert first.returncode == 0, out(first)
    assert _service(swarms, "eu", stack) is None  # --targets canary wrote nothing elsewhere
    cp = _stackctl("diff", "--env", "prod", "--project", project, "--resolve-image", "never")
    assert cp.returncode == 2, out(cp)
    assert "=== Targets eu, us (identical plans):" in cp.stdout
    assert "=== Target canary:" in cp.stdout
    assert cp.stdout.count("Stack " + stack + ": deploy will perform these actions:") == 1, cp.stdout
    plan_only = _deploy(project, "--plan-only")
    assert plan_only.returncode == 0, out(plan_only)
    assert "=== Targets eu, us (identical plans):" in plan_only.stdout
    assert _service(swarms, "eu", stack) is None


def test_failing_healthcheck_on_the_canary_rolls_it_back_and_spares_the_others(
        tmp_path: Path, stack: str, swarms: dict[str, LabLayout]) -> None:
    project = _project(tmp_path, stack, swarms)
    good = _deploy(project)
    assert good.returncode == 0, out(good)
    before = {n: _service(swarms, n, stack) for n in TARGETS}
    bad = _deploy(project, "--format", "json", env={"HEALTHY": "no", "IMAGE": OTHER_IMAGE})
    assert bad.returncode in (3, 4), out(bad)
    t = _by_target(_json(bad))
    assert t["canary"]["status"] == "rolled back", t["canary"]
    assert t["eu"]["status"] == t["us"]["status"] == "not started"
    canary = _service(swarms, "canary", stack)
    assert canary is not None
    assert canary["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].startswith("busybox")
    for name in ("eu", "us"):  # never written
        now = _service(swarms, name, stack)
        assert now is not None and before[name] is not None
        assert now["Version"]["Index"] == before[name]["Version"]["Index"], name


class _Answer500(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"not healthy\n")

    def log_message(self, *args: Any) -> None:
        return None


def test_a_gate_answering_500_stops_after_the_bake(tmp_path: Path, stack: str,
                                                  swarms: dict[str, LabLayout]) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer500)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/healthz"
    try:
        project = _project(tmp_path, stack, swarms, wave1=f'bake: 2s, gates: [{{http: "{url}"}}]',
                           on_failure="stop")
        cp = _deploy(project)
    finally:
        server.shutdown()
        server.server_close()
    assert cp.returncode == 3, out(cp)
    assert f"gate http {url}" in cp.stderr and "HTTP 500" in cp.stderr, cp.stderr
    assert "failed after the bake" in cp.stderr
    assert "baking 2s on canary" in cp.stdout
    assert _service(swarms, "canary", stack) is not None  # stop: the canary keeps what it got
    assert _service(swarms, "eu", stack) is None and _service(swarms, "us", stack) is None


def _kill_manager(layout: LabLayout) -> None:
    pid = int(layout.manager.pidfile.read_text().split()[0])
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _answers(layout.manager.host):
        time.sleep(0.5)


def _bring_back(layout: LabLayout) -> None:
    from stackctl.lab import lifecycle

    if not _answers(layout.manager.host):
        lifecycle.start_dockerd(layout.manager, offline=not layout.registry)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and not _answers(layout.manager.host):
        time.sleep(1)
    assert _answers(layout.manager.host), f"lab {layout.name} did not come back"


def test_a_stopped_swarm_fails_before_any_write_and_resume_finishes_the_rest(
        tmp_path: Path, stack: str, swarms: dict[str, LabLayout]) -> None:
    project = _project(tmp_path, stack, swarms, wave1="bake: 1s")
    first = _deploy(project)
    assert first.returncode == 0, out(first)
    eu_before = _service(swarms, "eu", stack)
    assert eu_before is not None
    _kill_manager(swarms["us"])
    try:
        cp = _deploy(project, "--format", "json", env={"IMAGE": OTHER_IMAGE})
        assert cp.returncode == 1, out(cp)
        assert "target us" in cp.stderr and "cannot be reached" in cp.stderr, cp.stderr
        doc = _json(cp)
        t = _by_target(doc)
        assert t["canary"]["status"] == "deployed"
        assert t["us"]["status"] == "unreachable" and t["eu"]["status"] == "not started"
        eu_now = _service(swarms, "eu", stack)
        assert eu_now is not None and eu_now["Version"]["Index"] == eu_before["Version"]["Index"]
    finally:
        _bring_back(swarms["us"])
    canary_before = _service(swarms, "canary", stack)
    assert canary_before is not None
    # no IMAGE now: --resume ships what the rollout shipped, not what the files say today
    resumed = _deploy(project, "--resume", "--format", "json")
    assert resumed.returncode == 0, out(resumed)
    again = _json(resumed)
    assert again["id"] == doc["id"]
    t = _by_target(again)
    assert t["canary"]["status"] == "done earlier"
    assert t["eu"]["status"] == t["us"]["status"] == "deployed"
    canary_after = _service(swarms, "canary", stack)
    assert canary_after is not None and canary_after["Version"]["Index"] == canary_before["Version"]["Index"]
    for name in TARGETS:
        svc = _service(swarms, name, stack)
        assert svc is not None and svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == OTHER_IMAGE, name


def test_promote_pins_once_and_rolls_out_through_the_waves(tmp_path: Path, stack: str,
                                                           swarms: dict[str, LabLayout]) -> None:
    """Staging is the canary's lab under another stack name; the pins are image IDs there (the labs
    have no shared registry, so an image-ID pin runs on that lab only: the rollout is limited to the
    canary; the unit tests check that every target gets the same pins)."""
    project = _project(tmp_path, stack, swarms)
    text = Path(project).read_text().replace(
        "environments:\n",
        f"environments:\n  staging:\n    stack: {stack}stg\n    host: \"{swarms['canary'].manager.host}\"\n")
    Path(project).write_text(text)
    node_host = {"STACKCTL_NODE_HOST": swarms["canary"].manager.host.replace("/mgr-1/", "/{hostname}/")}
    staging = _stackctl("deploy", "--env", "staging", "--project", project, "--resolve-image", "never",
                        "--timeout", "60s")
    try:
        assert staging.returncode == 0, out(staging)
        cp = _stackctl("promote", "--from", "staging", "--to", "prod", "--project", project, "--targets",
                       "canary", "--format", "json", env=node_host)
        assert cp.returncode == 0, out(cp)
        doc = _json(cp)
        assert "Image pins (staging -> prod" in cp.stderr
        canary = _service(swarms, "canary", stack)
        assert canary is not None
        assert canary["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"].startswith("sha256:")
        hist = _stackctl("history", "--env", "prod", "--project", project, "--format", "json")
        revs = {d["target"]: d["revisions"] for d in json.loads(hist.stdout)["targets"]}
        assert revs["canary"][-1]["rollout"]["id"] == doc["id"]
        assert revs["canary"][-1]["note"] == "promoted from staging"
        assert _service(swarms, "eu", stack) is None
    finally:
        _docker(swarms["canary"].manager.host, "stack", "rm", f"{stack}stg")


def test_a_task_failing_during_the_bake_fails_the_wave(tmp_path: Path, stack: str,
                                                       swarms: dict[str, LabLayout]) -> None:
    """The service converges (it runs for the wait's 2 s window), then its task exits during the bake."""
    project = _project(tmp_path, stack, swarms, wave1="bake: 20s", on_failure="stop")
    (tmp_path / "app.yml").write_text(textwrap.dedent("""\
        version: "3.8"
        services:
          web:
            image: busybox:latest
            command: ["sh", "-c", "sleep 7; exit 1"]
            deploy:
              replicas: 1
              update_config: {monitor: 2s}
              restart_policy: {delay: 1s}
        """))
    started = time.monotonic()
    cp = _deploy(project, "--format", "json")
    took = time.monotonic() - started
    assert cp.returncode == 3, out(cp)
    t = _by_target(_json(cp))
    assert t["canary"]["status"] == "failed" and t["canary"]["message"].startswith("bake: "), t["canary"]
    assert "non-zero exit (1)" in t["canary"]["message"]
    assert t["eu"]["status"] == "not started" and _service(swarms, "eu", stack) is None
    assert took < 40, f"the bake should end at the first failure, not after its 20 s ({took:.0f}s in all)"


def test_the_example_runs_on_the_labs(tmp_path: Path, stack: str, swarms: dict[str, LabLayout]) -> None:
    """examples/fanout as shipped (docs/fan-out.md), its three lab sockets pointed at this module's labs
    and its stack named for the test: validate, diff (one block), deploy (canary, bake, then eu and us),
    a release whose healthcheck fails (the canary rolled back, exit 4), history with one rollout id."""
    example = REPO / "examples" / "fanout"
    text = (example / "stackctl.yml").read_text()
    for lab, target in zip(("fo1", "fo2", "fo3"), TARGETS, strict=True):
        sock = f"unix:///run/stackctl/labs/{lab}/mgr-1/docker.sock"
        assert sock in text, sock
        text = text.replace(sock, swarms[target].manager.host)
    assert "stack: fanout-demo" in text
    (tmp_path / "stackctl.yml").write_text(text.replace("stack: fanout-demo", f"stack: {stack}"))
    (tmp_path / "app.yml").write_text((example / "app.yml").read_text())
    project = str(tmp_path / "stackctl.yml")
    valid = _stackctl("validate", "--env", "prod", "--project", project)
    assert valid.returncode == 0, out(valid)
    diff = _stackctl("diff", "--env", "prod", "--project", project, "--resolve-image", "never")
    assert diff.returncode == 2, out(diff)
    assert "=== Targets canary, eu, us (identical plans):" in diff.stdout, diff.stdout
    first = _deploy(project, "--format", "json")
    assert first.returncode == 0, out(first)
    doc = _json(first)
    assert [_by_target(doc)[n]["status"] for n in TARGETS] == ["deployed"] * 3
    versions = {n: (_service(swarms, n, stack) or {})["Version"]["Index"] for n in ("eu", "us")}
    bad = _deploy(project, env={"HEALTHY": "no", "RELEASE": "2"})
    assert bad.returncode == 4, out(bad)
    assert {n: (_service(swarms, n, stack) or {})["Version"]["Index"] for n in ("eu", "us")} == versions
    hist = _stackctl("history", "--env", "prod", "--project", project, "--format", "json")
    assert hist.returncode == 0, out(hist)
    revisions = {d["target"]: d["revisions"] for d in json.loads(hist.stdout)["targets"]}
    assert [r["rollout"]["id"] for r in revisions["eu"]] == [doc["id"]]
