"""The transition oracle (issue 13, part 6): one-key changes judged against `docker stack deploy`.

Every case of `transition_cases` (one per schema leaf of a service, plus chains such as
`init: true → false`) is a chain of states of one service, from the base back to the base. To
stay fast, the cases run side by side: case i is service `cNNN` of one stack, and round r moves
every service to its r-th state at once. The same file goes to stack A with `docker stack deploy`
(the reference) and to stack B with `stackctl deploy`. Per service and transition:

- `stackctl diff` on B (before B's deploy) plans an update of that service exactly when A's
  stored spec changed (and nothing for keys swarm ignores). The cases share one diff, so its
  exit code is checked against its plan (2 exactly when something is planned, and only services
  are ever planned), and the plan per service against the reference;
- after both deploys the engine holds the same spec for A and B (stack names, IDs and
  stackctl's own `com.docker.stackctl.*` labels aside);
- a second `stackctl diff` on B plans nothing (no perpetual update).

A file the reference refuses (loader or engine) must be refused by stackctl too; a state stackctl
refuses but the reference deploys is an unfaithful transition, and that case stops there.
`KNOWN_UNFAITHFUL` lists the transitions that fail today, each with its reason; it is strict:
a listed transition that passes fails the test, so the list only ever shrinks.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration import transition_cases as tc
from tests.paths import REPO, lab_run_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # a lab or an oracle of its own: starts first

LAB_DIR = lab_run_dir()  # one docker.sock per lab node

# Transition id ("<leaf>=<example> apply|revert|stepN") → why stackctl is not faithful there yet.
KNOWN_UNFAITHFUL: dict[str, str] = {}


def _service_name(index: int) -> str:
    return f"c{index:03d}"


@dataclass
class Lab:
    """The two stacks, the directory holding the files, and how to run both tools."""

    env: dict[str, str]
    client: Any
    workdir: Path
    ref: str  # stack A: docker stack deploy
    ours: str  # stack B: stackctl deploy

    def docker(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True,
                              timeout=timeout, cwd=self.workdir)

    def stackctl(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stackctl", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout, cwd=REPO)

    def ref_deploy(self, path: Path) -> subprocess.Popen[str]:
        return subprocess.Popen(["docker", "stack", "deploy", "--detach=true", "--resolve-image", "never",
                                 "-c", str(path), self.ref], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.workdir)

    def our_diff(self, path: Path) -> tuple[int, dict[str, Any] | None, str]:
        res = self.stackctl("diff", self.ours, "-c", str(path), "--format", "json")
        try:
            plan = json.loads(res.stdout)
        except json.JSONDecodeError:
            plan = None
        if plan is not None and plan.get("errors"):  # what blocked the plan, not the warnings
            return res.returncode, plan, "\n".join(str(e.get("message")) for e in plan["errors"])
        text = res.stderr.strip() if plan is not None else (res.stderr + "\n" + res.stdout).strip()
        return res.returncode, plan, text

    def our_deploy(self, path: Path) -> subprocess.CompletedProcess[str]:
        return self.stackctl("deploy", self.ours, "-c", str(path), "--detach", "--resolve-image", "never")

    def specs(self, stack: str) -> dict[str, dict[str, Any]]:
        """Short service name → its stored Spec, made comparable across the two stacks."""
        flt = {"label": f"com.docker.stack.namespace={stack}"}
        names = {n["Id"]: n["Name"] for n in self.client.api.networks()}
        names.update({c["ID"]: c["Spec"]["Name"] for c in self.client.api.configs()})
        out = {}
        for svc in self.client.api.services(filters=flt):
            short = svc["Spec"]["Name"].removeprefix(stack + "_")
            out[short] = _comparable(svc["Spec"], stack, names)
        return out


def _comparable(value: Any, stack: str, names: dict[str, str]) -> Any:
    """IDs → names, the stack name → STACK, stackctl's own labels and object IDs dropped."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ("SecretID", "ConfigID") or key.startswith("com.docker.stackctl."):
                continue
            out[key.replace(stack, "STACK")] = _comparable(item, stack, names)
        return out
    if isinstance(value, list):
        return [_comparable(item, stack, names) for item in value]
    if isinstance(value, str):
        return names.get(value, value).replace(stack, "STACK")
    return value


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted paths where `a` (reference) and `b` (stackctl) differ, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else key
            if key not in b:
                out.append(f"{sub}: ref {json.dumps(a[key])} / stackctl <absent>")
            elif key not in a:
                out.append(f"{sub}: ref <absent> / stackctl {json.dumps(b[key])}")
            else:
                out += _differences(a[key], b[key], sub)
        return out
    if a != b:
        return [f"{path}: ref {json.dumps(a)} / stackctl {json.dumps(b)}"]
    return []


def _write_stack(lab: Lab, name: str, states: dict[str, dict[str, Any]]) -> Path:
    """The base stack with one service per case, each at its given state (a patch on the base)."""
    stack = tc.base_stack()
    services = stack["services"]
    base = services.pop(tc.SERVICE)
    for service, patch in states.items():
        services[service] = tc.apply_patch(base, patch)
    path = lab.workdir / name
    path.write_text(yaml.safe_dump(stack, sort_keys=False))
    return path


def _error_text(output: str) -> str:
    """The diagnostics of a stackctl error (JSON or text output) on one line."""
    try:
        body = json.loads(output)
    except json.JSONDecodeError:
        return " ".join(output.split())[:300]
    lines = [f"{d.get('path')}: {d.get('message')}" for d in body.get("diagnostics") or []]
    return "; ".join(lines) or str(body.get("error"))[:300]


def _service_actions(plan: dict[str, Any] | None) -> dict[str, tuple[str, list[str]]]:
    """Short service name → (planned action, changed field paths) from a `diff --format json`."""
    out = {}
    for action in (plan or {}).get("actions") or []:
        if action.get("kind") == "service":
            short = str(action["name"]).split("_", 1)[-1]
            out[short] = (action["action"], [c["path"] for c in action.get("changes") or []])
    return out


def _two_stacks(lab_env: dict[str, str], docker_client: Any, workdir: Path) -> Iterator[Lab]:
    """Stacks A and B (fresh names) for the duration of the tests, then removed with what they left."""
    for name, text in tc.BASE_FILES.items():
        (workdir / name).write_text(text)
    tag = uuid.uuid4().hex[:6]
    the_lab = Lab(env=lab_env, client=docker_client, workdir=workdir, ref=f"tra{tag}", ours=f"trb{tag}")
    yield the_lab
    from stackctl.engine import Engine
    from stackctl.history import remove_history

    for stack in (the_lab.ref, the_lab.ours):
        subprocess.run(["docker", "stack", "rm", stack], env=lab_env, capture_output=True, timeout=120)
    remove_history(Engine(docker_client), the_lab.ours)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        left = [n for n in docker_client.api.networks() if n["Name"].startswith((the_lab.ref, the_lab.ours))]
        if not left:
            break
        time.sleep(1)
    _remove_node_volumes(lab_env, (the_lab.ref, the_lab.ours))


@pytest.fixture(scope="module")
def lab(lab_env: dict[str, str], docker_client: Any,
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from _two_stacks(lab_env, docker_client, tmp_path_factory.mktemp("transitions"))


@pytest.fixture(scope="module")
def lone_lab(lab_env: dict[str, str], docker_client: Any,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    yield from _two_stacks(lab_env, docker_client, tmp_path_factory.mktemp("lone-transitions"))


def _remove_node_volumes(lab_env: dict[str, str], stacks: tuple[str, ...]) -> None:
    """The replicas cases run tasks, which leave the stacks' volumes on every node they ran on."""
    for socket in sorted(LAB_DIR.glob("*/docker.sock")):
        env = {**lab_env, "DOCKER_HOST": f"unix://{socket}"}
        names = subprocess.run(["docker", "volume", "ls", "-q"], env=env, capture_output=True, text=True,
                               timeout=60).stdout.split()
        mine = [n for n in names if n.startswith(tuple(f"{stack}_" for stack in stacks))]
        for _ in range(30):  # a task's container may still hold its volume for a moment
            if not mine or subprocess.run(["docker", "volume", "rm", *mine], env=env,
                                          capture_output=True, timeout=60).returncode == 0:
                break
            time.sleep(1)


def test_schema_keys_are_all_covered() -> None:
    """Every service key of the schema has an example change or a reason to be skipped."""
    assert not tc.uncovered(), f"schema keys with no example and no skip reason: {tc.uncovered()}"
    assert not tc.stale_entries(), f"example/skip entries the schema no longer has: {tc.stale_entries()}"
    assert len(tc.cases()) >= 60


@dataclass
class Outcome:
    """What a run of cases found: transition id → None (faithful) or what went wrong."""

    results: dict[str, str | None]
    round_problems: list[str]
    ignored: set[str]  # cases whose first change the reference does not store
    engine_refused: int
    loader_refused: int


def _run_cases(lab: Lab, cases: list[tc.Case], *, exact_exit: bool = False, first: int = 0) -> Outcome:
    """Run `cases` side by side (case i is service cNNN) on the two stacks, round by round.

    With `exact_exit` (one case at a time), the diff's exit code itself must be 2 exactly when
    the reference changed a spec. `first` numbers the services, so that successive runs on the
    same stacks use services of their own (an earlier case's leftovers do not leak in)."""
    by_service = {_service_name(first + i): case for i, case in enumerate(cases)}
    results: dict[str, str | None] = {}

    # Files the reference loader refuses are no transition: stackctl must refuse them too.
    refused: dict[str, dict[str, Any]] = {}
    for service, case in list(by_service.items()):
        for patch in case.states[1:-1]:
            probe = _write_stack(lab, "probe.yml", {service: patch})
            res = lab.docker("stack", "config", "-c", str(probe))
            if res.returncode != 0:
                refused[case.name] = patch
                del by_service[service]
                ours = lab.stackctl("config", "-c", str(probe))
                results[f"{case.name} refused"] = None if ours.returncode != 0 else (
                    f"the reference refuses the file ({res.stderr.strip()[:160]}), "
                    "stackctl config accepts it")
                break

    # service → the state it stays at, once the engine or stackctl refused its next one
    frozen: dict[str, dict[str, Any]] = {}
    engine_refused: dict[str, tuple[dict[str, Any], str]] = {}  # service → (refused state, error)

    def state(service: str, round_no: int) -> dict[str, Any]:
        if service in frozen:
            return frozen[service]
        states = by_service[service].states
        return states[min(round_no, len(states) - 1)]

    def transition_id(service: str, round_no: int) -> str:
        case = by_service[service]
        steps = case.transitions()
        if round_no == 0:
            return f"{case.name} base"
        if round_no <= len(steps):
            return steps[round_no - 1][0]
        return f"{case.name} idle{round_no}"

    def freeze(message: str, stack: str, round_no: int, what: str) -> bool:
        """Stop a case whose service `message` names; False when it names none still running."""
        match = re.search(rf"(?:services\.|{re.escape(stack)}_)(c\d{{3}})\b", message)
        service = match.group(1) if match else None
        if not round_no or service not in by_service or service in frozen:
            return False
        if what == "engine":
            engine_refused[service] = (state(service, round_no), message.strip())
        else:
            results[transition_id(service, round_no)] = f"{what}: {_error_text(message)}"
        frozen[service] = state(service, round_no - 1)
        return True

    rounds = max(len(case.states) for case in by_service.values())
    ignored: set[str] = set()  # cases whose first change the reference does not store
    round_problems: list[str] = []
    for round_no in range(rounds):
        before_ref = lab.specs(lab.ref)
        diff_code, plan, diff_text = 0, None, ""
        for _attempt in range(30):
            path = _write_stack(lab, f"round{round_no}.yml", {s: state(s, round_no) for s in by_service})
            ref_proc = lab.ref_deploy(path)
            if round_no and plan is None:
                diff_code, plan, diff_text = lab.our_diff(path)
            _, ref_err = ref_proc.communicate(timeout=600)
            if ref_proc.returncode != 0:
                assert freeze(ref_err, lab.ref, round_no, "engine"), \
                    f"round {round_no}: docker stack deploy failed: {ref_err.strip()}"
                plan = None  # the file changes with the frozen case: plan it again
                continue
            if diff_code not in (0, 2):
                plan = None
                if freeze(diff_text, lab.ours, round_no, "stackctl diff fails where the reference deploys"):
                    continue
                round_problems.append(f"round {round_no}: stackctl diff exit {diff_code}: {diff_text[:600]}")
            deploy = lab.our_deploy(path)
            if deploy.returncode != 0:
                what = "stackctl deploy fails where the reference deploys"
                if freeze(deploy.stderr, lab.ours, round_no, what):
                    continue
                round_problems.append(f"round {round_no}: deploy fails: {_error_text(deploy.stderr)}")
            break
        else:
            pytest.fail(f"round {round_no}: too many refusals")
        after_ref = lab.specs(lab.ref)
        after_ours = lab.specs(lab.ours)
        code2, plan2, text2 = lab.our_diff(path)
        actions, actions2 = _service_actions(plan), _service_actions(plan2)
        for number, code, the_plan in ((1, diff_code, plan), (2, code2, plan2)):
            if the_plan is not None and (code == 2) != bool(the_plan.get("changes")):
                round_problems.append(f"round {round_no}: diff {number} exit {code} but its plan says "
                                      f"changes={the_plan.get('changes')}")
        for action in (plan or {}).get("actions") or []:
            if action.get("kind") != "service" and action.get("action") != "unchanged":
                # every case changes a service only: the file's objects are the same in all rounds
                round_problems.append(f"round {round_no}: diff plans {action.get('action')} "
                                      f"{action.get('kind')} {action.get('name')}")
        if plan2 is None:
            round_problems.append(f"round {round_no}: second stackctl diff exit {code2}: {text2[:300]}")

        any_change = any(before_ref.get(s) != after_ref.get(s) for s in by_service if s not in frozen)
        for service, case in by_service.items():
            if service in frozen:
                continue
            steps = case.transitions()
            tid = transition_id(service, round_no)
            problems = []
            ref_changed = before_ref.get(service) != after_ref.get(service)
            if round_no == 1 and not ref_changed:
                ignored.add(case.name)
            if round_no:
                planned, fields = actions.get(service, ("<missing>", []))
                if (planned == "update") != ref_changed:
                    what = "changed: " + "; ".join(
                        _differences(before_ref.get(service), after_ref.get(service))[:4]
                    ) if ref_changed else "stored the same spec"
                    problems.append(f"diff plans {planned} {fields[:4]} but the reference {what}")
            if exact_exit and round_no and plan is not None and (diff_code == 2) != any_change:
                problems.append(f"diff exits {diff_code} but the reference "
                                f"{'changed the spec' if any_change else 'stored the same spec'}")
            mismatch = _differences(after_ref.get(service), after_ours.get(service))
            if mismatch:
                problems.append("engine specs differ: " + "; ".join(mismatch[:4]))
            planned2, fields2 = actions2.get(service, ("<missing>", []))
            if planned2 != "unchanged":
                problems.append(f"second diff plans {planned2} {fields2[:4]} (perpetual update)")
            if problems or (round_no and round_no <= len(steps)):
                results[tid] = " | ".join(problems) or None

    # What the engine refused from the reference, stackctl must not get through either.
    for service, (refused_state, error) in engine_refused.items():
        case = by_service[service]
        final = {s: state(s, rounds) for s in by_service}
        probe = _write_stack(lab, "probe.yml", {**final, service: refused_state})
        ours = lab.our_deploy(probe)
        results[f"{case.name} engine-refused"] = None if ours.returncode != 0 else (
            f"the engine refuses {case.describe(refused_state)} from docker stack deploy "
            f"({error[:200]}), stackctl deploy succeeds")

    return Outcome(results, round_problems, ignored, len(engine_refused), len(refused))


def _verdict(outcome: Outcome, known: dict[str, str]) -> list[str]:
    """One line per unfaithful transition not in `known`, per `known` entry that now passes or
    did not run; a case's idle rounds only repeat its earlier failure, so they are left out."""
    results = outcome.results
    idle = re.compile(r" (idle\d+|base)$")
    failing_cases = {tid.rsplit(" ", 1)[0] for tid, problem in results.items()
                     if problem and not idle.search(tid)}
    failures = []
    for tid, problem in sorted(results.items()):
        if idle.search(tid) and tid.rsplit(" ", 1)[0] in failing_cases:
            continue
        if problem and tid in known:
            print(f"known unfaithful {tid}: {problem}")  # shown with pytest -s
        if problem and tid not in known:
            failures.append(f"UNFAITHFUL {tid}: {problem}")
        elif tid in known and not problem:
            failures.append(f"NOW FAITHFUL (remove from KNOWN_UNFAITHFUL) {tid}: was {known[tid]}")
    for tid in sorted(set(known) - set(results)):
        failures.append(f"NOT RUN (stale KNOWN_UNFAITHFUL entry) {tid}")
    return outcome.round_problems + failures


def test_one_key_transitions_match_the_reference(lab: Lab) -> None:
    started = time.monotonic()
    cases = tc.cases()
    outcome = _run_cases(lab, cases)
    failures = _verdict(outcome, KNOWN_UNFAITHFUL)
    print("keys swarm ignores (the reference stored the same spec):", ", ".join(sorted(outcome.ignored)))
    checked = sum(1 for t in outcome.results if not re.search(r" (idle\d+|base)$", t))
    summary = (f"{len(cases)} cases, {checked} transitions checked, {outcome.engine_refused} refused by "
               f"the engine, {outcome.loader_refused} by the loader, {time.monotonic() - started:.0f}s")
    print(summary)
    assert not failures, summary + "\n" + "\n".join(failures)


# Cases also run one at a time, so that the diff's exit code speaks for that one change alone:
# the three transitions issue 13 names, a key swarm ignores, and a plain change.
LONE_CASES = ("init=false", "init=true->false", "healthcheck.start_interval=7s",
              "healthcheck.start_interval+interval", "ports.0.target=short-tcp-udp", "privileged=true",
              "user=1000")


def test_lone_transitions_exit_codes_match_the_reference(lone_lab: Lab) -> None:
    cases = [case for case in tc.cases() if case.name in LONE_CASES]
    assert sorted(case.name for case in cases) == sorted(LONE_CASES)
    failures = []
    for index, case in enumerate(cases):
        outcome = _run_cases(lone_lab, [case], exact_exit=True, first=index)
        known = {tid: why for tid, why in KNOWN_UNFAITHFUL.items() if tid.rsplit(" ", 1)[0] == case.name}
        failures += _verdict(outcome, known)
    assert not failures, "\n".join(failures)
