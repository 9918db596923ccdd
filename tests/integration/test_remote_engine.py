"""A remote engine over TCP + TLS: stackctl deploys through DOCKER_HOST=tcp://... with
DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH, and refuses an engine whose certificate it cannot verify.

The engine is an extra dockerd of this test's own (tls_engine.ExtraSwarm, in its own network
namespace on its own bridge), never the shared lab; certificates are made here with openssl.
"""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.tls_engine import ExtraSwarm, _signed, make_ca

STACK_PREFIX = "rl"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tls_swarm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExtraSwarm]:
    swarm = ExtraSwarm(tls=True, cert_dir=tmp_path_factory.mktemp("certs")).start()
    try:
        yield swarm
    finally:
        swarm.destroy()
        assert swarm.leftovers() == [], "the extra TLS engine left things behind"


def _no_traceback(proc) -> None:
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "internal error" not in proc.stdout + proc.stderr


def test_deploy_through_tls(tls_swarm: ExtraSwarm, run_stackctl, tmp_path: Path) -> None:
    env = tls_swarm.tls_env()
    (tmp_path / "stack.yml").write_text(textwrap.dedent("""\
        version: "3.8"
        services:
          web:
            image: busybox:latest
            deploy:
              replicas: 1
          idle:
            image: busybox:latest
            deploy:
              replicas: 0
        """))
    stack = "rltls"
    proc = run_stackctl("deploy", stack, "-c", str(tmp_path / "stack.yml"), "--timeout", "90s", env=env)
    _no_traceback(proc)
    assert proc.returncode == 0, proc.stderr
    proc = run_stackctl("services", stack, "--format", "json", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "rltls_web" in proc.stdout and "rltls_idle" in proc.stdout
    # the engine really is the remote one: the lab knows nothing of this stack
    assert "rltls_web" in tls_swarm.manager.docker("service", "ls").stdout
    proc = run_stackctl("diff", stack, "-c", str(tmp_path / "stack.yml"), env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run_stackctl("rm", stack, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "rltls_web" not in tls_swarm.manager.docker("service", "ls").stdout


def test_refuses_an_engine_signed_by_another_ca(tls_swarm: ExtraSwarm, run_stackctl, tmp_path: Path) -> None:
    """A CA that did not sign the engine's certificate: exit 1, a clear message, no traceback."""
    rogue = tmp_path / "rogue"
    ca, ca_key = make_ca(rogue, "not the engine's CA")
    cert, key = _signed(rogue, "client", "someone", ca, ca_key, "extendedKeyUsage=clientAuth")
    cert_path = tmp_path / "rogue-client"
    cert_path.mkdir()
    shutil.copy(ca, cert_path / "ca.pem")
    shutil.copy(cert, cert_path / "cert.pem")
    shutil.copy(key, cert_path / "key.pem")
    for args in (["ls"], ["services", "rlnone"], ["deploy", "rlnone", "-c", "-"]):
        proc = run_stackctl(*args, env=tls_swarm.tls_env(cert_path),
                            input="services: {a: {image: busybox}}\n")
        _no_traceback(proc)
        assert proc.returncode == 1, (args, proc.stdout, proc.stderr)
        assert "cannot verify the TLS certificate" in proc.stderr, proc.stderr
        assert tls_swarm.manager.tcp_host in proc.stderr
    assert "rlnone" not in tls_swarm.manager.docker("service", "ls").stdout


def test_refuses_a_client_the_engine_does_not_know(tls_swarm: ExtraSwarm, run_stackctl,
                                                   tmp_path: Path) -> None:
    """Right CA for the server, but a client certificate from another CA: the engine says no."""
    assert tls_swarm.certs is not None
    rogue = tmp_path / "rogue"
    ca, ca_key = make_ca(rogue, "another CA")
    cert, key = _signed(rogue, "client", "someone", ca, ca_key, "extendedKeyUsage=clientAuth")
    cert_path = tmp_path / "mixed"
    cert_path.mkdir()
    shutil.copy(tls_swarm.certs.ca, cert_path / "ca.pem")
    shutil.copy(cert, cert_path / "cert.pem")
    shutil.copy(key, cert_path / "key.pem")
    proc = run_stackctl("ls", env=tls_swarm.tls_env(cert_path))
    _no_traceback(proc)
    assert proc.returncode == 1
    assert tls_swarm.manager.tcp_host in proc.stderr, proc.stderr
    assert "refused stackctl's TLS client certificate" in proc.stderr, proc.stderr


def test_missing_certificates_are_named(tls_swarm: ExtraSwarm, run_stackctl, tmp_path: Path) -> None:
    proc = run_stackctl("ls", env=tls_swarm.tls_env(tmp_path / "nothing-here"))
    _no_traceback(proc)
    assert proc.returncode == 1
    assert "ca.pem" in proc.stderr and "DOCKER_CERT_PATH" in proc.stderr, proc.stderr


def test_plain_http_to_a_tls_port_is_refused(tls_swarm: ExtraSwarm, run_stackctl) -> None:
    env = tls_swarm.tls_env()
    env.update(DOCKER_TLS_VERIFY="", DOCKER_CERT_PATH="")  # "" is unset, even over os.environ
    proc = run_stackctl("ls", env=env)
    _no_traceback(proc)
    assert proc.returncode == 1
    assert tls_swarm.manager.tcp_host in proc.stderr, proc.stderr
    assert "speaks TLS only" in proc.stderr, proc.stderr
