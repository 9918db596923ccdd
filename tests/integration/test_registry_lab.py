"""stackctl against a real registry (TLS, password) and over ssh, on a small named lab of this
module's own (1 manager, 1 worker): a tag pushed anew, a missing tag, a deploy without
--with-registry-auth, and deploy/diff/ps over ssh:// and an ssh context with their one-line errors.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackctl.lab import host, ssh
from stackctl.lab.layout import LabLayout
from tests.integration.named_lab import exports, own_lab, run_docker, run_stackctl

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # a lab or an oracle of its own: starts first


@pytest.fixture(scope="module")
def lab() -> Iterator[LabLayout]:
    yield from own_lab("r", "--workers", "1")


@pytest.fixture
def env(lab: LabLayout, tmp_path: Path) -> dict[str, str]:
    """DOCKER_HOST on the lab and a DOCKER_CONFIG of this test's own, logged in to the lab registry."""
    values = exports(lab.name)
    cfg = {"DOCKER_CONFIG": str(tmp_path / "docker-config"), "DOCKER_HOST": lab.manager.host}
    subprocess.run(["docker", "login", values["STACKCTL_LAB_REGISTRY"], "-u", "lab", "--password-stdin"],
                   check=True, capture_output=True, input=values["STACKCTL_LAB_REGISTRY_PASSWORD"], text=True,
                   timeout=60, env={**host.tool_env(), **cfg})
    return {**values, **cfg}


def _stack_file(tmp_path: Path, image: str, *, worker: bool = False) -> Path:
    path = tmp_path / "stack.yml"
    place = "    deploy:\n      placement:\n        constraints: [node.role == worker]\n" if worker else ""
    path.write_text(f"version: '3.8'\nservices:\n  app:\n    image: {image}\n"
                    f"    command: [sleep, '3600']\n{place}")
    return path


def _spec_image(env: dict[str, str], service: str) -> str:
    return run_docker("service", "inspect", service, "--format", "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
                      env=env).stdout.strip()


def _push(env: dict[str, str], source: str, target: str) -> None:
    assert run_docker("tag", source, target, env=env).returncode == 0
    out = run_docker("push", "-q", target, env=env)
    assert out.returncode == 0, out.stderr


def test_a_tag_pushed_anew_is_a_change_diff_shows_and_deploy_rolls_out(env: dict[str, str],
                                                                        tmp_path: Path) -> None:
    image = f"{env['STACKCTL_LAB_REGISTRY']}/lab/m{uuid.uuid4().hex[:6]}:1"
    stack = f"mv{uuid.uuid4().hex[:6]}"
    path = str(_stack_file(tmp_path, image))
    _push(env, "busybox:latest", image)
    try:
        first = run_stackctl("deploy", stack, "-c", path, "--with-registry-auth", "--detach", env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        old = _spec_image(env, f"{stack}_app")
        assert old.startswith(f"{image}@sha256:")
        same = run_stackctl("diff", stack, "-c", path, env=env)
        assert same.returncode == 0, same.stdout + same.stderr
        _push(env, "dockersamples/atsea_db:latest", image)  # the tag moves
        diff = run_stackctl("diff", stack, "-c", path, "--resolve-image", "changed", env=env)
        assert diff.returncode == 2, diff.stdout + diff.stderr
        line = next(ln for ln in diff.stdout.splitlines() if "image:" in ln)
        assert old in line and "→" in line and f"{path}:4" in line
        never = run_stackctl("diff", stack, "-c", path, "--resolve-image", "never", env=env)
        assert never.returncode == 0, never.stdout
        again = run_stackctl("deploy", stack, "-c", path, "--with-registry-auth", "--detach", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        new = _spec_image(env, f"{stack}_app")
        assert new != old and new.startswith(f"{image}@sha256:") and new.split("@")[1] in line
    finally:
        run_stackctl("rm", stack, env=env)


def test_a_missing_tag_fails_before_any_write(env: dict[str, str], tmp_path: Path) -> None:
    image = f"{env['STACKCTL_LAB_REGISTRY']}/lab/busybox:no-such-tag"
    stack = f"ms{uuid.uuid4().hex[:6]}"
    path = _stack_file(tmp_path, image)
    out = run_stackctl("deploy", stack, "-c", str(path), "--with-registry-auth", env=env)
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"{path}:4" in out.stderr and image in out.stderr and "service app" in out.stderr
    assert "nothing was changed" in out.stderr and "Traceback" not in out.stderr
    assert run_docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}",
                      env=env).stdout.strip() == ""


def test_without_registry_auth_the_reason_and_the_flag_are_named(env: dict[str, str], tmp_path: Path) -> None:
    image = f"{env['STACKCTL_LAB_REGISTRY']}/lab/a{uuid.uuid4().hex[:6]}:1"
    _push(env, "busybox:latest", image)  # on the manager only: the worker must pull it
    stack = f"na{uuid.uuid4().hex[:6]}"
    path = str(_stack_file(tmp_path, image, worker=True))
    out = run_stackctl("deploy", stack, "-c", path, "--timeout", "30s", env=env)
    try:
        assert out.returncode == 3, out.stdout + out.stderr
        assert "no basic auth credentials" in out.stderr and "--with-registry-auth" in out.stderr
    finally:
        run_stackctl("rm", stack, env=env)


def test_deploy_diff_and_ps_over_ssh_and_an_ssh_context(lab: LabLayout, tmp_path: Path) -> None:
    over_ssh = {"DOCKER_HOST": f"ssh://root@{lab.manager.ip}"}
    stack = f"sh{uuid.uuid4().hex[:6]}"
    path = str(_stack_file(tmp_path, "busybox:latest"))
    try:
        out = run_stackctl("deploy", stack, "-c", path, "--resolve-image", "never", "--timeout", "60s",
                           env=over_ssh, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
        diff = run_stackctl("diff", stack, "-c", path, "--resolve-image", "never", env=over_ssh)
        assert diff.returncode == 0, diff.stdout + diff.stderr
        ps = run_stackctl("ps", stack, env=over_ssh)
        assert ps.returncode == 0 and f"{stack}_app" in ps.stdout, ps.stderr
        cfg = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
        made = run_docker("context", "create", "labssh", "--docker", f"host=ssh://root@{lab.manager.ip}",
                          env=cfg)
        assert made.returncode == 0, made.stderr
        ls = run_stackctl("ls", "--context", "labssh", env={**cfg, "DOCKER_HOST": ""})
        assert ls.returncode == 0 and stack in ls.stdout, ls.stdout + ls.stderr
    finally:
        run_stackctl("rm", stack, env={"DOCKER_HOST": lab.manager.host})


def test_ssh_failures_are_one_line(lab: LabLayout, tmp_path: Path) -> None:
    files = ssh.SshFiles.of(lab.place)
    over_ssh = {"DOCKER_HOST": f"ssh://root@{lab.manager.ip}"}
    stranger = tmp_path / "stranger"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)], check=True,
                   timeout=30)
    stranger_pub = " ".join(Path(f"{stranger}.pub").read_text().split()[:2])
    lab_pub = files.authorized_keys.read_text().strip()
    # the lab key let in, but every command it runs finds no `docker` (a remote without the CLI)
    no_docker = f'command="exec env PATH=/nonexistent /bin/sh -c \\"$SSH_ORIGINAL_COMMAND\\"" {lab_pub}\n'
    for target, text, words in (
        (files.known_hosts, f"{lab.manager.ip} {stranger_pub}\n", "host key"),  # another host key
        (files.authorized_keys, stranger_pub + "\n", "authentication refused"),  # the lab key is not let in
        (files.authorized_keys, no_docker, "the remote has no `docker` command"),
    ):
        saved = tmp_path / "saved"
        shutil.copyfile(target, saved)
        try:
            target.write_text(text)
            out = run_stackctl("ls", env=over_ssh, timeout=60)
        finally:
            shutil.copyfile(saved, target)
        assert out.returncode == 1 and words in out.stderr, out.stderr
        errors = [ln for ln in out.stderr.splitlines() if ln.strip()]
        assert len(errors) == 1 and "Traceback" not in out.stderr, out.stderr
