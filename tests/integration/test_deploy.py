"""deploy / diff on the lab: zero-write redeploys, field-level diffs, drift, failures before the
first write, the deploy lock, a constant number of API calls, and parity with `docker stack deploy`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackctl.history import is_history
from tests.paths import node_host

STACK_PREFIX = "dp"


@pytest.fixture(autouse=True)
def _drop_history(engine: Any, stack_name: str, docker_client: Any) -> Iterator[None]:
    """Successful deploys record revisions (swarm configs) that `docker stack rm` keeps."""
    yield
    from stackctl.history import remove_history

    remove_history(engine, stack_name)
REPO = Path(__file__).resolve().parents[2]
WORKER_HOST = node_host("wrk-1")


def stack_file(tmp_path: Path, *, replicas: int = 1, env: str = "1", constraint: str = "node.role == worker",
               name: str = "stack.yml", external_secret: bool = False) -> str:
    (tmp_path / "pw.txt").write_text("s3cret-value\n")
    (tmp_path / "app.conf").write_text("conf=1\n")
    secret = "{external: true, name: dp_no_such_secret}" if external_secret else "{file: ./pw.txt}"
    text = textwrap.dedent(f"""\
        version: "3.8"
        services:
          web:
            image: busybox:latest
            command: ["sleep", "3600"]
            environment:
              A: "{env}"
            deploy:
              replicas: {replicas}
              placement:
                constraints: ["{constraint}"]
            secrets: [pw]
            configs:
              - source: conf
                target: /etc/app.conf
          api:
            image: busybox
            deploy:
              replicas: 0
            networks: [back]
        networks:
          back:
            driver_opts:
              encrypted: ""
        secrets:
          pw: {secret}
        configs:
          conf:
            file: ./app.conf
        """)
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def versions(client: Any, stack: str) -> dict[str, int]:
    services = client.api.services(filters={"label": f"com.docker.stack.namespace={stack}"})
    return {s["Spec"]["Name"]: s["Version"]["Index"] for s in services}


def stack_objects(client: Any, stack: str) -> dict[str, list[str]]:
    flt = {"label": f"com.docker.stack.namespace={stack}"}
    return {
        "services": sorted(s["Spec"]["Name"] for s in client.api.services(filters=flt)),
        "networks": sorted(n["Name"] for n in client.api.networks(filters=flt)),
        "secrets": sorted(s["Spec"]["Name"] for s in client.api.secrets(filters=flt)),
        "configs": sorted(c["Spec"]["Name"] for c in client.api.configs(filters=flt)
                          if not is_history(c["Spec"].get("Labels"))),  # revisions are not stack configs
    }


def deploy(run_stackctl: Any, lab_env: dict[str, str], stack: str, path: str, *args: str) -> Any:
    return run_stackctl("deploy", stack, "-c", path, "--detach", "--resolve-image", "never", *args,
                        env=lab_env)


def diff_json(run_stackctl: Any, lab_env: dict[str, str], stack: str,
              path: str) -> tuple[int, dict[str, Any]]:
    res = run_stackctl("diff", stack, "-c", path, "--format", "json", env=lab_env)
    assert res.returncode in (0, 2), res.stderr + res.stdout
    return res.returncode, json.loads(res.stdout)


def test_redeploy_unchanged_writes_nothing(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                           docker_client: Any, run_stackctl: Any) -> None:
    path = stack_file(tmp_path)
    first = deploy(run_stackctl, lab_env, stack_name, path)
    assert first.returncode == 0, first.stderr
    assert f"Creating service {stack_name}_web" in first.stdout
    assert f"Creating network {stack_name}_back" in first.stdout
    before = versions(docker_client, stack_name)
    assert set(before) == {f"{stack_name}_web", f"{stack_name}_api"}

    res = run_stackctl("diff", stack_name, "-c", path, env=lab_env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Plan: 0 to create, 0 to update, 0 to remove, 6 unchanged." in res.stdout

    again = deploy(run_stackctl, lab_env, stack_name, path)
    assert again.returncode == 0, again.stderr
    assert "Updating" not in again.stdout and "Creating" not in again.stdout
    assert versions(docker_client, stack_name) == before


def test_edit_updates_only_that_service_and_scale_is_drift(tmp_path: Path, stack_name: str,
                                                           lab_env: dict[str, str], docker_client: Any,
                                                           run_stackctl: Any) -> None:
    assert deploy(run_stackctl, lab_env, stack_name, stack_file(tmp_path)).returncode == 0
    before = versions(docker_client, stack_name)
    edited = stack_file(tmp_path, replicas=2, env="2", constraint="node.labels.pcidss == yes",
                        name="edited.yml")

    code, plan = diff_json(run_stackctl, lab_env, stack_name, edited)
    assert code == 2
    assert plan["summary"] == {"create": 0, "update": 1, "remove": 0, "unchanged": 5, "kept": 0}
    (web,) = [a for a in plan["actions"] if a["action"] == "update"]
    assert web["name"] == f"{stack_name}_web"
    assert {c["path"] for c in web["changes"]} == {
        "Mode.Replicated.Replicas", "TaskTemplate.ContainerSpec.Env", "TaskTemplate.Placement.Constraints"}

    res = deploy(run_stackctl, lab_env, stack_name, edited)
    assert res.returncode == 0, res.stderr
    assert f"Updating service {stack_name}_web (id: " in res.stdout
    after = versions(docker_client, stack_name)
    assert after[f"{stack_name}_api"] == before[f"{stack_name}_api"]
    assert after[f"{stack_name}_web"] > before[f"{stack_name}_web"]
    assert diff_json(run_stackctl, lab_env, stack_name, edited)[0] == 0

    scale = subprocess.run(["docker", "service", "scale", "-d", f"{stack_name}_web=3"], env=lab_env,
                           capture_output=True, text=True, timeout=60)
    assert scale.returncode == 0, scale.stderr
    code, plan = diff_json(run_stackctl, lab_env, stack_name, edited)
    assert code == 2
    (web,) = [a for a in plan["actions"] if a["action"] == "update"]
    assert web["drift"] is True
    (change,) = web["changes"]
    assert {k: change[k] for k in ("compose_path", "path", "old", "new", "drift")} == {
        "compose_path": "deploy.replicas", "path": "Mode.Replicated.Replicas", "old": "3", "new": "2",
        "drift": True}
    text = run_stackctl("diff", stack_name, "-c", edited, env=lab_env)
    assert "drift" in text.stdout and "~ deploy.replicas: 3 → 2" in text.stdout


def test_failures_before_the_first_write_write_nothing(tmp_path: Path, stack_name: str,
                                                       lab_env: dict[str, str], docker_client: Any,
                                                       run_stackctl: Any) -> None:
    empty = {"services": [], "networks": [], "secrets": [], "configs": []}
    missing = stack_file(tmp_path, external_secret=True)
    res = deploy(run_stackctl, lab_env, stack_name, missing)
    assert res.returncode == 1
    assert "secret not found: dp_no_such_secret" in res.stderr
    assert stack_objects(docker_client, stack_name) == empty

    bad = tmp_path / "bad.yml"
    bad.write_text("version: '3.8'\nservices:\n  web:\n    image: busybox\n"
                   "    deploy:\n      replicas: many\n")
    res = deploy(run_stackctl, lab_env, stack_name, str(bad))
    assert res.returncode == 1
    assert stack_objects(docker_client, stack_name) == empty

    worker_env = dict(lab_env, DOCKER_HOST=WORKER_HOST)
    res = deploy(run_stackctl, worker_env, stack_name, stack_file(tmp_path))
    assert res.returncode == 1
    assert "not a swarm manager" in res.stderr
    assert stack_objects(docker_client, stack_name) == empty


def test_concurrent_deploys_do_not_interleave(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                              docker_client: Any) -> None:
    a = stack_file(tmp_path, replicas=0, env="from-a", name="a.yml")
    b = stack_file(tmp_path, replicas=0, env="from-b", name="b.yml")
    env = dict(os.environ, **lab_env)
    cmd = [sys.executable, "-m", "stackctl", "deploy", stack_name, "--detach", "--resolve-image", "never",
           "-c"]
    procs = [subprocess.Popen([*cmd, f], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=REPO) for f in (a, b)]
    outs = [p.communicate(timeout=180) for p in procs]
    codes = [p.returncode for p in procs]
    for code, (_out, err) in zip(codes, outs, strict=True):
        assert code == 0 or "locked by another deploy" in err, err
    assert 0 in codes
    svc = docker_client.api.inspect_service(f"{stack_name}_web")
    env_now = svc["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"]
    assert env_now in (["A=from-a"], ["A=from-b"])
    winner = a if env_now == ["A=from-a"] else b
    res = subprocess.run([sys.executable, "-m", "stackctl", "diff", stack_name, "-c", winner], env=env,
                         capture_output=True, text=True, cwd=REPO, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert not docker_client.api.configs(filters={"name": f"stackctl-lock-{stack_name}"})


def test_held_lock_fails_cleanly_naming_the_holder(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                                   docker_client: Any, engine: Any,
                                                   run_stackctl: Any) -> None:
    from stackctl.lock import StackLock, read_lock

    lock = StackLock(engine, stack_name, timeout=5)
    lock.acquire()
    try:
        res = deploy(run_stackctl, lab_env, stack_name, stack_file(tmp_path), "--lock-timeout", "2s")
        assert res.returncode == 1
        assert f"stack {stack_name} is locked by another deploy: {lock.holder}" in res.stderr
        assert versions(docker_client, stack_name) == {}
        unlocked = run_stackctl("unlock", stack_name, env=lab_env)
        assert unlocked.returncode == 0 and lock.holder in unlocked.stdout
        assert read_lock(engine, stack_name) is None
    finally:
        lock.release()


def test_plan_uses_a_constant_number_of_api_calls(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                                  docker_client: Any, engine: Any, run_stackctl: Any) -> None:
    from stackctl.convert import convert_stack
    from stackctl.observe import observe_stack
    from stackctl.plan import make_plan

    services = "".join(f"  s{i}:\n    image: busybox\n    deploy:\n      replicas: 0\n" for i in range(100))
    path = tmp_path / "big.yml"
    path.write_text(f"version: '3.8'\nservices:\n{services}")
    res = deploy(run_stackctl, lab_env, stack_name, str(path))
    assert res.returncode == 0, res.stderr
    assert len(versions(docker_client, stack_name)) == 100

    import yaml

    config = yaml.safe_load(path.read_text())
    desired = convert_stack(config, stack_name)
    api = docker_client.api
    calls: list[str] = []
    real_get, real_post = api._get, api._post

    def counting_get(url: str, *a: Any, **kw: Any) -> Any:
        calls.append("GET " + url)
        return real_get(url, *a, **kw)

    def counting_post(url: str, *a: Any, **kw: Any) -> Any:
        calls.append("POST " + url)
        return real_post(url, *a, **kw)

    api._get, api._post = counting_get, counting_post
    try:
        plan = make_plan(desired, observe_stack(engine, stack_name), prune=False)
        big_calls = len(calls)
        calls.clear()
        make_plan(convert_stack({"services": {"one": {"image": "busybox"}}}, stack_name + "x"),
                  observe_stack(engine, stack_name + "x"), prune=False)
        small_calls = len(calls)
    finally:
        api._get, api._post = real_get, real_post
    assert not plan.has_changes
    assert big_calls == small_calls <= 6
    assert not any(c.startswith("POST") for c in calls)


def test_docker_stack_commands_work_on_a_stackctl_stack(tmp_path: Path, stack_name: str,
                                                        lab_env: dict[str, str], docker_client: Any,
                                                        run_stackctl: Any) -> None:
    path = stack_file(tmp_path, replicas=0)
    assert deploy(run_stackctl, lab_env, stack_name, path).returncode == 0
    for args in (["services", stack_name], ["ls"]):
        res = subprocess.run(["docker", "stack", *args], env=lab_env, capture_output=True, text=True,
                             timeout=60)
        assert res.returncode == 0 and f"{stack_name}" in res.stdout, res.stderr
    res = subprocess.run(["docker", "stack", "rm", stack_name], env=lab_env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stderr
    assert f"Removing service {stack_name}_web" in res.stdout


def test_stackctl_updates_a_stack_the_reference_deployed(tmp_path: Path, stack_name: str,
                                                         lab_env: dict[str, str], docker_client: Any,
                                                         run_stackctl: Any) -> None:
    path = stack_file(tmp_path, replicas=0)
    ref = subprocess.run(["docker", "stack", "deploy", "-c", path, "--resolve-image", "never", stack_name],
                         env=lab_env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert ref.returncode == 0, ref.stderr
    before = versions(docker_client, stack_name)
    # the reference's secrets carry no content digest: unverifiable, so left alone
    code, plan = diff_json(run_stackctl, lab_env, stack_name, path)
    assert code == 0, plan
    edited = stack_file(tmp_path, replicas=0, env="2", name="edited.yml")
    res = deploy(run_stackctl, lab_env, stack_name, edited)
    assert res.returncode == 0, res.stderr
    after = versions(docker_client, stack_name)
    assert after[f"{stack_name}_api"] == before[f"{stack_name}_api"]
    assert after[f"{stack_name}_web"] > before[f"{stack_name}_web"]
    assert diff_json(run_stackctl, lab_env, stack_name, edited)[0] == 0


# --- AtSea: stackctl deploy and docker stack deploy make the same objects -------------------


ATSEA = REPO / "examples" / "atsea" / "docker-stack.yml"
ATSEA_SECRETS = ["revprox_cert", "revprox_key", "postgres_password", "staging_token"]


def _comparable(value: Any, stack: str) -> Any:
    """A stack's objects with IDs, versions, timestamps and stackctl's own labels taken out."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k in ("ID", "Id", "Version", "CreatedAt", "UpdatedAt", "SecretID", "ConfigID", "Created",
                     "ForceUpdate", "Endpoint", "UpdateStatus", "PreviousSpec", "Containers", "Peers"):
                continue
            if isinstance(k, str) and k.startswith("com.docker.stackctl."):
                continue
            out[k.replace(stack, "STACK") if isinstance(k, str) else k] = _comparable(v, stack)
        return out
    if isinstance(value, list):
        return [_comparable(v, stack) for v in value]
    if isinstance(value, str):
        return value.replace(stack, "STACK")
    return value


def _snapshot(client: Any, stack: str) -> dict[str, Any]:
    flt = {"label": f"com.docker.stack.namespace={stack}"}
    net_names = {n["Id"]: n["Name"] for n in client.api.networks()}
    services = {}
    for svc in client.api.services(filters=flt):
        spec = svc["Spec"]
        for net in spec["TaskTemplate"].get("Networks") or []:
            net["Target"] = net_names.get(net["Target"], net["Target"])
        services[spec["Name"]] = spec
    networks = {}
    for n in client.api.networks(filters=flt):
        n = client.api.inspect_network(n["Id"])
        n.get("Options", {}).pop("com.docker.network.driver.overlay.vxlanid_list", None)
        n.pop("IPAM", None)  # subnets are allocated by the swarm
        networks[n["Name"]] = n
    return _comparable({
        "services": services,
        "networks": networks,
        "secrets": {s["Spec"]["Name"]: s["Spec"] for s in client.api.secrets(filters=flt)},
        "configs": {c["Spec"]["Name"]: c["Spec"] for c in client.api.configs(filters=flt)
                    if not is_history(c["Spec"].get("Labels"))},  # the reference records no revisions
    }, stack)


def _remove_stack(stack: str, env: dict[str, str], client: Any) -> None:
    subprocess.run(["docker", "stack", "rm", stack], env=env, capture_output=True, timeout=60)
    deadline = time.monotonic() + 60
    flt = {"label": f"com.docker.stack.namespace={stack}"}
    while time.monotonic() < deadline and (client.api.services(filters=flt)
                                           or client.api.networks(filters=flt)):
        time.sleep(1)


def test_atsea_matches_the_reference(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                     docker_client: Any, run_stackctl: Any) -> None:
    import random

    # Other stacks on the shared lab may hold AtSea's ports 80/443/8001: publish others.
    base = random.randrange(20000, 29000, 3)
    text = ATSEA.read_text()
    for old, new in (('"80:80"', f'"{base}:80"'), ('"443:443"', f'"{base + 1}:443"'),
                     ('"8001:8080"', f'"{base + 2}:8080"')):
        assert old in text
        text = text.replace(old, new)
    atsea = tmp_path / "docker-stack.yml"
    atsea.write_text(text)
    setup = subprocess.run(["bash", str(ATSEA.parent / "create-secrets.sh")], env=lab_env,
                           capture_output=True, text=True, timeout=120)
    assert setup.returncode == 0, setup.stderr
    ref_stack = stack_name + "r"
    try:
        ref = subprocess.run(["docker", "stack", "deploy", "-c", str(atsea), "--resolve-image", "never",
                              ref_stack], env=lab_env, capture_output=True, text=True, timeout=180)
        assert ref.returncode == 0, ref.stderr
        reference = _snapshot(docker_client, ref_stack)
    finally:
        _remove_stack(ref_stack, lab_env, docker_client)  # AtSea publishes fixed ports: one at a time
    res = run_stackctl("deploy", stack_name, "-c", str(atsea), "--detach", "--resolve-image", "never",
                       env=lab_env)
    assert res.returncode == 0, res.stderr
    ours = _snapshot(docker_client, stack_name)
    assert ours["networks"] == reference["networks"]
    assert ours["secrets"] == reference["secrets"]
    assert ours["configs"] == reference["configs"]
    assert sorted(ours["services"]) == sorted(reference["services"])
    for name in ours["services"]:
        from deepdiff import DeepDiff

        assert ours["services"][name] == reference["services"][name], (
            name, DeepDiff(reference["services"][name], ours["services"][name]))


# --- apply details: version conflicts, pinned images, undo ------------------------------------


def _plan(client: Any, path: str, stack: str) -> Any:
    import yaml

    from stackctl.convert import convert_stack
    from stackctl.observe import observe_stack
    from stackctl.plan import make_plan

    config = yaml.safe_load(Path(path).read_text())
    for section in ("secrets", "configs"):
        for entry in (config.get(section) or {}).values():
            if "file" in entry:
                entry["file"] = str(Path(path).parent / entry["file"])
    return make_plan(convert_stack(config, stack), observe_stack(client, stack), prune=False)


def test_out_of_sequence_update_is_replanned_once(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                                  docker_client: Any, engine: Any, run_stackctl: Any) -> None:
    from stackctl.apply import apply_plan

    assert deploy(run_stackctl, lab_env, stack_name, stack_file(tmp_path, replicas=0)).returncode == 0
    plan = _plan(engine, stack_file(tmp_path, replicas=0, env="2", name="e.yml"), stack_name)
    # someone else updates the service between our plan and our apply
    other = subprocess.run(["docker", "service", "update", "-d", "--label-add", "touched=yes",
                            f"{stack_name}_web"], env=lab_env, capture_output=True, text=True, timeout=60)
    assert other.returncode == 0, other.stderr
    result = apply_plan(engine, plan, resolve_image="never")
    assert result.conflicts == [f"{stack_name}_web"]
    spec = docker_client.api.inspect_service(f"{stack_name}_web")["Spec"]
    assert spec["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=2"]
    assert "touched" not in spec["Labels"]  # the file wins over the concurrent change


def test_unchanged_image_keeps_its_pinned_string(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                                 docker_client: Any, run_stackctl: Any) -> None:
    path = stack_file(tmp_path, replicas=0)
    assert deploy(run_stackctl, lab_env, stack_name, path).returncode == 0
    pinned = "busybox:latest@sha256:" + "1" * 64
    upd = subprocess.run(["docker", "service", "update", "-d", "--no-resolve-image", "--image", pinned,
                          f"{stack_name}_web"], env=lab_env, capture_output=True, text=True, timeout=60)
    assert upd.returncode == 0, upd.stderr
    assert diff_json(run_stackctl, lab_env, stack_name, path)[0] == 0  # a pin is not a change
    edited = stack_file(tmp_path, replicas=0, env="2", name="edited.yml")
    for mode in ("always", "changed", "never"):
        res = run_stackctl("deploy", stack_name, "-c", edited, "--detach", "--resolve-image", mode,
                           env=lab_env)
        assert res.returncode == 0, res.stderr
        spec = docker_client.api.inspect_service(f"{stack_name}_web")["Spec"]
        assert spec["TaskTemplate"]["ContainerSpec"]["Image"] == pinned, mode
        edited = stack_file(tmp_path, replicas=0, env=f"3{mode}", name="edited.yml")


def test_undo_restores_updated_and_removes_created(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                                   docker_client: Any, engine: Any,
                                                   run_stackctl: Any) -> None:
    from stackctl.apply import apply_plan, undo

    assert deploy(run_stackctl, lab_env, stack_name, stack_file(tmp_path, replicas=0)).returncode == 0
    before = docker_client.api.inspect_service(f"{stack_name}_web")["Spec"]
    extra = "  extra:\n    image: busybox\n    deploy:\n      replicas: 0\n"
    path = stack_file(tmp_path, replicas=0, env="2", name="e.yml")
    text = Path(path).read_text().replace("\nnetworks:", "\n" + extra + "networks:", 1)
    Path(path).write_text(text)
    result = apply_plan(engine, _plan(engine, path, stack_name), resolve_image="never")
    assert sorted(o.name for o in result.created) == [f"{stack_name}_extra"]
    assert [o.name for o in result.updated] == [f"{stack_name}_web"]
    assert undo(engine, result) == []
    after = docker_client.api.inspect_service(f"{stack_name}_web")["Spec"]
    assert after["TaskTemplate"]["ContainerSpec"]["Env"] == before["TaskTemplate"]["ContainerSpec"]["Env"]
    assert f"{stack_name}_extra" not in versions(docker_client, stack_name)


def test_prune_removes_what_the_file_dropped(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                             docker_client: Any, run_stackctl: Any) -> None:
    path = stack_file(tmp_path, replicas=0)
    assert deploy(run_stackctl, lab_env, stack_name, path).returncode == 0
    text = Path(path).read_text()
    start, end = text.index("  api:\n"), text.index("networks:\n  back:")
    smaller = tmp_path / "smaller.yml"
    smaller.write_text(text[:start] + text[end:])
    code, plan = diff_json(run_stackctl, lab_env, stack_name, str(smaller))
    assert code == 0  # without --prune nothing is removed
    res = run_stackctl("diff", stack_name, "-c", str(smaller), "--prune", env=lab_env)
    assert res.returncode == 2 and f"- service {stack_name}_api" in res.stdout
    res = deploy(run_stackctl, lab_env, stack_name, str(smaller), "--prune")
    assert res.returncode == 0, res.stderr
    assert f"Removing service {stack_name}_api" in res.stdout
    assert f"Removing network {stack_name}_back" in res.stdout
    objects = stack_objects(docker_client, stack_name)
    assert objects["services"] == [f"{stack_name}_web"]
    assert objects["networks"] == [f"{stack_name}_default"]


def test_a_stale_lock_is_taken_over(engine: Any, stack_name: str, docker_client: Any) -> None:
    from stackctl.lock import StackLock, read_lock

    old = StackLock(engine, stack_name, timeout=5, ttl=0.0)  # its holder said: stale at once
    old.acquire()
    new = StackLock(engine, stack_name, timeout=5, ttl=0.0)
    try:
        time.sleep(0.05)
        new.acquire()
        info = read_lock(engine, stack_name)
        assert info is not None and info.token == new.token
        old.release()  # not the holder any more: must not remove the new lock
        assert read_lock(engine, stack_name) is not None
    finally:
        new.release()
        old.release()
    assert read_lock(engine, stack_name) is None


def test_diff_says_deploy_would_fail_and_a_taken_port_carries_file_line(
        stack_name: str, tmp_path: Path, run_stackctl: Any, lab_env: dict[str, str]) -> None:
    path = tmp_path / "ports.yml"
    path.write_text('version: "3.8"\nservices:\n  web:\n    image: busybox:latest\n    ports:\n'
                    '      - "18931:80"\n    deploy:\n      replicas: 0\n')
    other = f"{stack_name}b"
    try:
        cp = run_stackctl("deploy", other, "-c", str(path), "--resolve-image", "never", "--detach",
                          env=lab_env)
        assert cp.returncode == 0, cp.stderr
        cp = run_stackctl("diff", stack_name, "-c", str(path), "--resolve-image", "never", env=lab_env)
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert "deploy would fail: the plan for stack" in cp.stderr and "nothing was changed" not in cp.stderr
        where = (f"{path}:5: services.web.ports: service {stack_name}_web: port 18931/tcp is already "
                 f"published by service {other}_web (stack {other})")
        assert where in cp.stderr, cp.stderr
        assert f"stackctl rm {other}" in cp.stderr  # what to do about it
        cp = run_stackctl("deploy", stack_name, "-c", str(path), "--resolve-image", "never", env=lab_env)
        assert cp.returncode == 1 and where in cp.stderr and "nothing was changed" in cp.stderr, cp.stderr
    finally:
        subprocess.run(["docker", "stack", "rm", other], env=lab_env, capture_output=True, timeout=60)
