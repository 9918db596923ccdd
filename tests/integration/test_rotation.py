"""Secret/config rotation and full --prune on the lab (docs/rotation.md).

Stacks are named rt<random> and removed afterwards (with their revision history); one
running container at most.
"""

from __future__ import annotations

import hashlib
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackctl.history import is_history
from tests.paths import node_host

pytestmark = pytest.mark.integration

STACK_PREFIX = "rt"


@pytest.fixture(autouse=True)
def _drop_history(engine: Any, stack_name: str, docker_client: Any) -> Iterator[None]:
    yield
    from stackctl.history import remove_history

    remove_history(engine, stack_name)


def _names(client: Any, kind: str, stack: str) -> list[str]:
    listing = client.api.secrets if kind == "secret" else client.api.configs
    found = listing(filters={"label": f"com.docker.stack.namespace={stack}"})
    # revisions carry the namespace label too (so `docker stack rm` takes them): not stack configs
    return sorted(o["Spec"]["Name"] for o in found if not is_history(o["Spec"].get("Labels")))


def _refs(cs: dict[str, Any]) -> tuple[list[str], list[str]]:
    secrets = [r["SecretName"] for r in cs.get("Secrets") or []]
    return secrets, [r["ConfigName"] for r in cs.get("Configs") or []]


def _read_in_task(client: Any, service: str, *paths: str, timeout: float = 60) -> list[str]:
    """`cat` each path inside the service's running container, through its node's own engine."""
    import docker

    nodes = {n["ID"]: n["Description"]["Hostname"] for n in client.api.nodes()}
    svc = client.api.inspect_service(service)
    want = _refs(svc["Spec"]["TaskTemplate"]["ContainerSpec"])
    deadline = time.monotonic() + timeout
    while True:
        tasks = [t for t in client.api.tasks(filters={"service": svc["ID"], "desired-state": "running"})
                 if t["Status"]["State"] == "running" and _refs(t["Spec"]["ContainerSpec"]) == want]
        if len(tasks) == 1:
            break
        assert time.monotonic() < deadline, f"no single running task of {service} using {want}"
        time.sleep(1)
    (task,) = tasks
    node = docker.DockerClient(base_url=node_host(nodes[task["NodeID"]]))
    try:
        container = node.containers.get(task["Status"]["ContainerStatus"]["ContainerID"])
        out = []
        for path in paths:
            code, data = container.exec_run(["cat", path])
            assert code == 0, data
            out.append(data.decode())
        return out
    finally:
        node.close()


STACK = """\
version: "3.8"
services:
  web:
    image: busybox:latest
    deploy:
      replicas: 1
      update_config: {order: stop-first}
    secrets: [pw]
    configs:
      - source: conf
        target: /etc/app.conf
secrets:
  pw:
    file: ./pw.txt
configs:
  conf:
    file: ./app.conf
"""


def test_rotation_rollback_and_keep_versions(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                             docker_client: Any, run_stackctl: Any) -> None:
    path = tmp_path / "stack.yml"
    path.write_text(STACK)

    def write(secret: str, conf: str) -> None:
        (tmp_path / "pw.txt").write_text(secret)
        (tmp_path / "app.conf").write_text(conf)

    def deploy(*args: str) -> Any:
        res = run_stackctl("deploy", stack_name, "-c", str(path), "--resolve-image", "never",
                           "--timeout", "2m", *args, env=lab_env)
        assert res.returncode == 0, res.stdout + res.stderr
        return res

    web = f"{stack_name}_web"
    pw = f"{stack_name}_pw"
    write("value-one", "conf=1\n")
    deploy()
    assert _names(docker_client, "secret", stack_name) == [pw]  # the first version: the reference's name
    assert _read_in_task(docker_client, web, "/run/secrets/pw", "/etc/app.conf") == ["value-one", "conf=1\n"]

    write("value-two", "conf=2\n")
    shown = run_stackctl("diff", stack_name, "-c", str(path), env=lab_env)
    assert shown.returncode == 2, shown.stdout + shown.stderr
    digest = "sha256:" + hashlib.sha256(b"value-two").hexdigest()[:12]
    pw2 = f"{pw}-{hashlib.sha256(b'value-two').hexdigest()[:8]}"
    assert f"+ secret {pw2} ({digest})" in shown.stdout
    assert f'~ Data: sha256:{hashlib.sha256(b"value-one").hexdigest()[:12]} → {digest}' in shown.stdout
    assert f"- secrets: {pw} as pw" in shown.stdout and f"+ secrets: {pw2} as pw" in shown.stdout
    assert "value-" not in shown.stdout + shown.stderr
    res = deploy()
    assert f"Creating secret {pw2}" in res.stdout
    assert _read_in_task(docker_client, web, "/run/secrets/pw", "/etc/app.conf") == ["value-two", "conf=2\n"]
    assert _names(docker_client, "secret", stack_name) == [pw, pw2]  # the old one kept for rollback
    assert len(_names(docker_client, "config", stack_name)) == 2

    res = run_stackctl("rollback", stack_name, "--to", "1", "--timeout", "2m", env=lab_env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert _read_in_task(docker_client, web, "/run/secrets/pw", "/etc/app.conf") == ["value-one", "conf=1\n"]
    assert run_stackctl("diff", stack_name, "-c", str(path), env=lab_env).returncode == 2  # files say two

    write("value-three", "conf=3\n")
    res = deploy("--keep-versions", "1")
    pw3 = f"{pw}-{hashlib.sha256(b'value-three').hexdigest()[:8]}"
    assert f"Removing secret {pw}" in res.stdout, res.stdout
    assert _names(docker_client, "secret", stack_name) == sorted([pw2, pw3])  # the newest unused one stays
    assert _read_in_task(docker_client, web, "/run/secrets/pw") == ["value-three"]

    before = docker_client.api.inspect_service(web)["Version"]["Index"]
    res = run_stackctl("rollback", stack_name, "--to", "1", "--timeout", "1m", env=lab_env)
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"secret {pw} (the version of {pw} that revision used) no longer exists" in res.stderr
    assert docker_client.api.inspect_service(web)["Version"]["Index"] == before  # nothing written


def test_secret_from_an_environment_variable(tmp_path: Path, stack_name: str, lab_env: dict[str, str],
                                             docker_client: Any, run_stackctl: Any) -> None:
    path = tmp_path / "stack.yml"
    path.write_text(textwrap.dedent("""\
        version: "3.8"
        services:
          api:
            image: busybox:latest
            deploy: {replicas: 0}
            secrets: [token]
        secrets:
          token:
            environment: RT_TOKEN
        """))
    value = "tok-" + uuid.uuid4().hex
    env = {**lab_env, "RT_TOKEN": value}
    shown = run_stackctl("config", "-c", str(path), env=env)
    assert shown.returncode == 0 and "environment: RT_TOKEN" in shown.stdout and value not in shown.stdout
    unset = {k: v for k, v in lab_env.items() if k != "RT_TOKEN"}
    missing = run_stackctl("validate", "-c", str(path), env=unset)
    assert missing.returncode == 1 and "environment variable RT_TOKEN is not set" in missing.stderr
    res = run_stackctl("deploy", stack_name, "-c", str(path), "--detach", "--resolve-image", "never", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    (secret,) = docker_client.api.secrets(filters={"name": f"{stack_name}_token"})
    assert secret["Spec"]["Labels"]["com.docker.stackctl.content-digest"] == \
        "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    again = run_stackctl("diff", stack_name, "-c", str(path), env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    rotated = run_stackctl("diff", stack_name, "-c", str(path), env={**lab_env, "RT_TOKEN": value + "x"})
    assert rotated.returncode == 2 and f"+ secret {stack_name}_token-" in rotated.stdout
    for out in (res, again, rotated):
        assert value not in out.stdout + out.stderr


PRUNE_V1 = """\
version: "3.8"
services:
  web:
    image: busybox:latest
    deploy: {replicas: 0}
    networks: [back]
    configs: [conf, extra]
    secrets: [ext]
networks:
  back: {}
configs:
  conf: {file: ./conf.txt}
  extra: {file: ./conf.txt}
secrets:
  ext: {external: true, name: EXT}
"""

PRUNE_V2 = """\
version: "3.8"
services:
  web:
    image: busybox:latest
    deploy: {replicas: 0}
    configs: [conf]
configs:
  conf: {file: ./conf.txt}
"""


def test_prune_removes_dropped_networks_and_configs_never_externals(
        tmp_path: Path, stack_name: str, lab_env: dict[str, str], docker_client: Any,
        run_stackctl: Any) -> None:
    ext = f"{stack_name}ext"  # not STACK_…: an external object of no stack
    ext_id = docker_client.api.create_secret(ext, b"external")["ID"]
    try:
        (tmp_path / "conf.txt").write_text("c=1\n")
        v1, v2 = tmp_path / "v1.yml", tmp_path / "v2.yml"
        v1.write_text(PRUNE_V1.replace("EXT", ext))
        v2.write_text(PRUNE_V2)
        base = ["--detach", "--resolve-image", "never"]
        res = run_stackctl("deploy", stack_name, "-c", str(v1), *base, env=lab_env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert _names(docker_client, "config", stack_name) == [f"{stack_name}_conf", f"{stack_name}_extra"]
        res = run_stackctl("deploy", stack_name, "-c", str(v2), *base, env=lab_env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"{stack_name}_extra" in _names(docker_client, "config", stack_name)  # no --prune: kept
        shown = run_stackctl("diff", stack_name, "-c", str(v2), "--prune", env=lab_env)
        assert shown.returncode == 2, shown.stdout + shown.stderr
        assert f"- config {stack_name}_extra" in shown.stdout
        assert f"- network {stack_name}_back" in shown.stdout
        res = run_stackctl("deploy", stack_name, "-c", str(v2), "--prune", *base, env=lab_env)
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"Removing config {stack_name}_extra" in res.stdout
        assert f"Removing network {stack_name}_back" in res.stdout
        assert _names(docker_client, "config", stack_name) == [f"{stack_name}_conf"]
        nets = docker_client.api.networks(filters={"label": f"com.docker.stack.namespace={stack_name}"})
        assert f"{stack_name}_back" not in {n["Name"] for n in nets}
        assert docker_client.api.inspect_secret(ext_id)["Spec"]["Name"] == ext  # external: untouched
        assert run_stackctl("diff", stack_name, "-c", str(v2), "--prune", env=lab_env).returncode == 0
    finally:
        docker_client.api.remove_secret(ext_id)
