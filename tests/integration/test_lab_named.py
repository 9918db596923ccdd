"""Named labs beside the shared one: several managers, the lab registry, ssh to the managers, and a
`lab down --name` that leaves nothing of its own while every other lab stays Ready.

Each test module run brings up its own lab (a random name, 3 managers and a worker: ~10 s) and a
second tiny one, never the default lab, which the other test modules share.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stackctl.lab import host, ssh
from stackctl.lab.layout import LabLayout, read_state
from tests.integration.named_lab import exports, leftovers, own_lab, run_docker, run_stackctl, what_it_owns
from tests.paths import LAB_HOST, LAB_NAME

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # a lab or an oracle of its own: starts first


def _ready(name: str) -> dict[str, Any]:
    out = run_stackctl("lab", "status", "--format", "json", "--name", name)
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def lab3() -> Iterator[LabLayout]:
    """A lab of our own: 3 managers, 1 worker, registry and ssh."""
    yield from own_lab("t", "--managers", "3", "--workers", "1")


def test_a_named_lab_with_three_managers_runs_beside_the_default_one(lab3: LabLayout) -> None:
    doc = _ready(lab3.name)
    assert doc["ready"] is True and doc["name"] == lab3.name
    roles = {n["hostname"]: n["role"] for n in doc["nodes"]}
    assert roles == {"mgr-1": "manager", "mgr-2": "manager", "mgr-3": "manager", "wrk-1": "worker"}
    assert doc["docker_host"] == f"unix:///run/stackctl/labs/{lab3.name}/mgr-1/docker.sock"
    assert doc["registry"] == f"{lab3.gateway}:5000"
    default = _ready(LAB_NAME)  # the lab the other test modules share (the default one unless named)
    assert default["ready"] is True
    assert default["docker_host"] == LAB_HOST
    assert default["subnet"] != doc["subnet"] and default["bridge"] != doc["bridge"]
    # Every manager takes part in raft.
    info = json.loads(run_docker("-H", lab3.manager.host, "info", "--format", "{{json .Swarm}}").stdout)
    assert info["Managers"] == 3 and info["Nodes"] == 4


def test_env_exports_the_registry_and_ssh_host(lab3: LabLayout) -> None:
    env = exports(lab3.name)
    assert env["DOCKER_HOST"] == lab3.manager.host
    assert env["STACKCTL_LAB_REGISTRY"] == f"{lab3.gateway}:5000"
    assert env["STACKCTL_LAB_REGISTRY_USER"] == "lab"
    assert len(env["STACKCTL_LAB_REGISTRY_PASSWORD"]) >= 16
    assert env["STACKCTL_LAB_SSH_HOST"] == f"ssh://root@{lab3.manager.ip}"
    printed = run_stackctl("lab", "env", "--name", lab3.name).stdout
    assert env["STACKCTL_LAB_REGISTRY_PASSWORD"] not in printed


def test_registry_needs_the_password_then_serves_every_node(lab3: LabLayout, tmp_path: Path) -> None:
    env = exports(lab3.name)
    reg = env["STACKCTL_LAB_REGISTRY"]
    cfg = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
    worker = lab3.node("wrk-1").host
    anonymous = run_docker("-H", worker, "pull", f"{reg}/lab/busybox:1", env=cfg)
    assert anonymous.returncode != 0 and "no basic auth credentials" in anonymous.stderr
    wrong = subprocess.run(["docker", "-H", worker, "login", reg, "-u", "lab", "--password-stdin"],
                           input="not-the-password", capture_output=True, text=True, timeout=60,
                           env={**host.tool_env(), **cfg})
    assert wrong.returncode != 0 and "unauthorized" in wrong.stderr.lower(), wrong.stderr
    login = subprocess.run(["docker", "-H", worker, "login", reg, "-u", "lab", "--password-stdin"],
                           input=env["STACKCTL_LAB_REGISTRY_PASSWORD"], capture_output=True, text=True,
                           timeout=60, env={**host.tool_env(), **cfg})
    assert login.returncode == 0, login.stderr
    # A tag pushed from one manager is pulled on the worker through TLS the lab CA signed.
    tag = f"{reg}/lab/t{uuid.uuid4().hex[:6]}:1"
    mgr2 = lab3.node("mgr-2").host
    assert run_docker("-H", mgr2, "tag", "busybox:latest", tag).returncode == 0
    push = run_docker("-H", mgr2, "push", tag, env=cfg)
    assert push.returncode == 0, push.stderr
    pulled = run_docker("-H", worker, "pull", tag, env=cfg)
    assert pulled.returncode == 0, pulled.stderr
    digest = run_docker("-H", worker, "image", "inspect", "--format", "{{json .RepoDigests}}", tag).stdout
    assert f"{tag.rsplit(':', 1)[0]}@sha256:" in digest


def test_a_service_with_registry_auth_runs_on_the_worker(lab3: LabLayout, tmp_path: Path) -> None:
    env = exports(lab3.name)
    reg = env["STACKCTL_LAB_REGISTRY"]
    cfg = {"DOCKER_CONFIG": str(tmp_path / "docker-config"), "DOCKER_HOST": lab3.manager.host}
    subprocess.run(["docker", "login", reg, "-u", "lab", "--password-stdin"], check=True, capture_output=True,
                   input=env["STACKCTL_LAB_REGISTRY_PASSWORD"], text=True, timeout=60,
                   env={**host.tool_env(), **cfg})
    name = f"reg{uuid.uuid4().hex[:6]}"
    created = run_docker("service", "create", "-d", "--name", name, "--with-registry-auth",
                         "--constraint", "node.role==worker", f"{reg}/dockersamples/atsea_db:latest", env=cfg)
    assert created.returncode == 0, created.stderr
    try:
        deadline = time.monotonic() + 60
        states = ""
        while time.monotonic() < deadline:
            states = run_docker("service", "ps", name, "--format", "{{.Node}} {{.CurrentState}} {{.Error}}",
                                env=cfg).stdout
            if states.startswith("wrk-1 Running"):
                break
            time.sleep(1)
        assert states.startswith("wrk-1 Running"), states
    finally:
        run_docker("service", "rm", name, env=cfg)


def test_docker_reaches_every_manager_over_ssh(lab3: LabLayout, tmp_path: Path) -> None:
    for mgr in lab3.managers:
        out = run_docker("node", "ls", "--format", "{{.Hostname}} {{.Self}}",
                         env={"DOCKER_HOST": f"ssh://root@{mgr.ip}"})
        assert out.returncode == 0, out.stderr
        assert f"{mgr.name} true" in out.stdout.splitlines()
    # A docker context whose endpoint is ssh works the same way.
    cfg = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
    made = run_docker("context", "create", "labssh", "--docker", f"host=ssh://root@{lab3.manager.ip}",
                      env=cfg)
    assert made.returncode == 0, made.stderr
    out = run_docker("--context", "labssh", "info", "--format", "{{.Swarm.ControlAvailable}}", env=cfg)
    assert out.stdout.strip() == "true", out.stderr


def test_sshd_refuses_a_key_the_lab_did_not_make(lab3: LabLayout, tmp_path: Path) -> None:
    key = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30)
    files = ssh.SshFiles.of(lab3.place)

    def attempt(key: Path, known_hosts: Path) -> subprocess.CompletedProcess[str]:
        # -F /dev/null: not the lab's ssh_config snippet, which would add the lab key.
        return subprocess.run(["ssh", "-F", "/dev/null", "-i", str(key), "-o", "IdentitiesOnly=yes",
                               "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={known_hosts}",
                               "-o", "StrictHostKeyChecking=yes", f"root@{lab3.manager.ip}", "true"],
                              capture_output=True, text=True, timeout=30)

    assert attempt(files.key, files.known_hosts).returncode == 0
    stranger = attempt(key, files.known_hosts)
    assert stranger.returncode != 0 and "Permission denied" in stranger.stderr
    (tmp_path / "empty").write_text("")
    unknown = attempt(files.key, tmp_path / "empty")
    assert unknown.returncode != 0 and "Host key verification failed" in unknown.stderr


def test_stackctl_deploys_diffs_and_lists_over_ssh(lab3: LabLayout, tmp_path: Path) -> None:
    """Every manager, over ssh:// and through a docker context whose endpoint is ssh."""
    over_ssh = {"DOCKER_HOST": f"ssh://root@{lab3.node('mgr-2').ip}"}
    stack = f"ss{uuid.uuid4().hex[:6]}"
    path = tmp_path / "stack.yml"
    path.write_text("version: '3.8'\nservices:\n  app:\n    image: busybox:latest\n"
                    "    command: [sleep, '600']\n")
    try:
        out = run_stackctl("deploy", stack, "-c", str(path), "--resolve-image", "never", "--timeout", "60s",
                           env=over_ssh, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        diff = run_stackctl("diff", stack, "-c", str(path), "--resolve-image", "never", env=over_ssh)
        assert diff.returncode == 0, diff.stdout + diff.stderr
        ps = run_stackctl("ps", stack, env=over_ssh)
        assert ps.returncode == 0 and f"{stack}_app" in ps.stdout, ps.stderr
        cfg = {"DOCKER_CONFIG": str(tmp_path / "docker-config"), "DOCKER_HOST": ""}
        assert run_docker("context", "create", "mgr3", "--docker", f"host=ssh://root@{lab3.node('mgr-3').ip}",
                          env=cfg).returncode == 0
        ls = run_stackctl("ls", "--context", "mgr3", env=cfg, timeout=60)
        assert ls.returncode == 0 and stack in ls.stdout, ls.stdout + ls.stderr
    finally:
        run_stackctl("rm", stack, env={"DOCKER_HOST": lab3.manager.host})


def test_a_second_lab_comes_and_goes_leaving_nothing_and_the_others_ready(lab3: LabLayout) -> None:
    name = f"u{uuid.uuid4().hex[:5]}"
    up = run_stackctl("lab", "up", "--name", name, "--workers", "0", "--no-ssh", timeout=300)
    layout = read_state(name)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert layout is not None and layout.network != lab3.network
        assert _ready(name)["ready"] is True
    finally:
        down = run_stackctl("lab", "down", "--name", name)
    assert down.returncode == 0, down.stderr
    assert layout is not None and leftovers(what_it_owns(layout)) == []
    assert run_stackctl("lab", "status", "--name", name).returncode != 0
    assert _ready(lab3.name)["ready"] is True
    assert _ready(LAB_NAME)["ready"] is True


# --- stackctl against the lab registry ---------------------------------------------------------


def _registry_digest(env: dict[str, str], repo: str, tag: str) -> str:
    """The manifest digest the registry itself reports for repo:tag."""
    import base64
    import ssl
    import urllib.request

    req = urllib.request.Request(
        f"https://{env['STACKCTL_LAB_REGISTRY']}/v2/{repo}/manifests/{tag}", method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json",
                 "Authorization": "Basic " + base64.b64encode(
                     f"lab:{env['STACKCTL_LAB_REGISTRY_PASSWORD']}".encode()).decode()})
    ctx = ssl.create_default_context(cafile=env["STACKCTL_LAB_REGISTRY_CA"])
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=ctx))
    with opener.open(req, timeout=10) as resp:
        return resp.headers["Docker-Content-Digest"]


@pytest.fixture
def logged_in(lab3: LabLayout, tmp_path: Path) -> dict[str, str]:
    """DOCKER_HOST on the lab and a DOCKER_CONFIG of this test's own, logged in to the lab registry."""
    env = exports(lab3.name)
    cfg = {"DOCKER_CONFIG": str(tmp_path / "docker-config"), "DOCKER_HOST": lab3.manager.host}
    subprocess.run(["docker", "login", env["STACKCTL_LAB_REGISTRY"], "-u", "lab", "--password-stdin"],
                   check=True, capture_output=True, input=env["STACKCTL_LAB_REGISTRY_PASSWORD"], text=True,
                   timeout=60, env={**host.tool_env(), **cfg})
    return {**env, **cfg}


def _stack_file(tmp_path: Path, image: str) -> Path:
    path = tmp_path / "stack.yml"
    path.write_text(f"version: '3.8'\nservices:\n  app:\n    image: {image}\n"
                    "    deploy:\n      placement:\n        constraints: [node.role == worker]\n")
    return path


def _spec_image(env: dict[str, str], service: str) -> str:
    return run_docker("service", "inspect", service, "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                      env=env).stdout.strip()


def test_deploy_pins_the_registry_digest_and_workers_pull_with_auth(logged_in: dict[str, str],
                                                                    tmp_path: Path) -> None:
    reg = logged_in["STACKCTL_LAB_REGISTRY"]
    stack = f"rg{uuid.uuid4().hex[:6]}"
    out = run_stackctl("deploy", stack, "-c", str(_stack_file(tmp_path, f"{reg}/lab/busybox:1")),
                       "--resolve-image", "always", "--with-registry-auth", "--timeout", "60s", env=logged_in)
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        digest = _registry_digest(logged_in, "lab/busybox", "1")
        assert _spec_image(logged_in, f"{stack}_app") == f"{reg}/lab/busybox:1@{digest}"
    finally:
        run_stackctl("rm", stack, env=logged_in)


def test_resolve_never_keeps_the_tag(logged_in: dict[str, str], tmp_path: Path) -> None:
    reg = logged_in["STACKCTL_LAB_REGISTRY"]
    stack = f"rg{uuid.uuid4().hex[:6]}"
    path = _stack_file(tmp_path, f"{reg}/dockersamples/atsea_db:latest")
    out = run_stackctl("deploy", stack, "-c", str(path), "--resolve-image", "never", "--with-registry-auth",
                       "--detach", env=logged_in)
    try:
        assert out.returncode == 0, out.stdout + out.stderr
        assert _spec_image(logged_in, f"{stack}_app") == f"{reg}/dockersamples/atsea_db:latest"
    finally:
        run_stackctl("rm", stack, env=logged_in)


def test_without_registry_auth_the_workers_cannot_pull(logged_in: dict[str, str], tmp_path: Path) -> None:
    reg = logged_in["STACKCTL_LAB_REGISTRY"]
    image = f"{reg}/dockersamples/visualizer:stable"
    stack = f"rg{uuid.uuid4().hex[:6]}"
    out = run_stackctl("deploy", stack, "-c", str(_stack_file(tmp_path, image)), "--timeout", "40s",
                       env=logged_in)
    try:
        assert out.returncode == 3, out.stdout + out.stderr
        assert image in out.stderr and "Traceback" not in out.stderr
        assert "no basic auth credentials" in out.stderr and "--with-registry-auth" in out.stderr
    finally:
        run_stackctl("rm", stack, env=logged_in)


def test_promote_pins_prod_to_the_digest_dev_runs_even_after_the_tag_moved(logged_in: dict[str, str],
                                                                          tmp_path: Path) -> None:
    reg = logged_in["STACKCTL_LAB_REGISTRY"]
    name = f"p{uuid.uuid4().hex[:6]}"
    image = f"{reg}/lab/{name}:1"

    def push(source: str) -> str:
        assert run_docker("tag", source, image, env=logged_in).returncode == 0
        out = run_docker("push", "-q", image, env=logged_in)
        assert out.returncode == 0, out.stderr
        return _registry_digest(logged_in, f"lab/{name}", "1")

    _stack_file(tmp_path, image)
    project = tmp_path / "stackctl.yml"
    host_line = f"host: '{logged_in['DOCKER_HOST']}'"
    project.write_text(f"version: '1'\nstack: {name}\nfiles: [stack.yml]\nenvironments:\n"
                       f"  dev: {{stack: {name}-dev, {host_line}}}\n"
                       f"  prod: {{stack: {name}-prod, {host_line}}}\n")
    try:
        dev_digest = push("busybox:latest")
        dev = run_stackctl("deploy", "--env", "dev", "--project", str(project), "--with-registry-auth",
                           "--timeout", "60s", env=logged_in)
        assert dev.returncode == 0, dev.stdout + dev.stderr
        assert push("dockersamples/atsea_db:latest") != dev_digest  # the tag moves on after dev deployed
        out = run_stackctl("promote", "--from", "dev", "--to", "prod", "--project", str(project), "--detach",
                           env=logged_in)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "registry digest" in out.stdout
        assert _spec_image(logged_in, f"{name}-prod_app") == f"{image}@{dev_digest}"
    finally:
        for env_name in ("dev", "prod"):
            run_stackctl("rm", f"{name}-{env_name}", env=logged_in)
