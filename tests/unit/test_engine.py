"""engine.connect's TLS handling and failure messages, without an engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl import engine
from stackctl.errors import EngineError


def test_tls_off_without_the_variables() -> None:
    assert engine._tls_from_env({}) is False
    assert engine._tls_from_env({"DOCKER_TLS_VERIFY": "", "DOCKER_CERT_PATH": ""}) is False


def test_missing_certificate_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("x")
    with pytest.raises(EngineError) as err:
        engine._tls_from_env({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    assert "key.pem, ca.pem" in str(err.value) and str(tmp_path) in str(err.value)


def test_the_engine_ca_wins_over_requests_ca_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """REQUESTS_CA_BUNDLE must not replace DOCKER_CERT_PATH's ca.pem (it did, through requests)."""
    import docker

    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    tls = engine._tls_from_env({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    api = docker.APIClient(base_url="tcp://127.0.0.1:1", tls=tls, version="1.41")
    engine._pin_tls_trust(api)
    settings = api.merge_environment_settings("https://127.0.0.1:1/version", {}, None, None, None)
    assert settings["verify"] == str(tmp_path / "ca.pem")
    api.close()


@pytest.mark.parametrize("raw, expected", [
    ("HTTPSConnectionPool(host='h', port=2376): Max retries exceeded with url: /version (Caused by "
     "SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
     "unable to get local issuer certificate (_ssl.c:1006)')))",
     "cannot verify the TLS certificate of the Docker engine at tcp://h:2376: unable to get local issuer"),
    ("SSLError(1, '[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate (_ssl.c:2580)')",
     "refused stackctl's TLS client certificate"),
    ('400 Client Error: Bad Request ("Client sent an HTTP request to an HTTPS server.")', "speaks TLS only"),
    ("HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /version (Caused by "
     "NewConnectionError(\"HTTPConnection(host='127.0.0.1', port=1): Failed to establish a new connection: "
     "[Errno 111] Connection refused\"))",
     "cannot reach the Docker engine at tcp://h:2376: Connection refused"),
])
def test_failure_messages(raw: str, expected: str) -> None:
    msg = engine._describe_failure(RuntimeError(raw), "tcp://h:2376")
    assert expected in msg
    assert "Traceback" not in msg


def test_connect_to_nothing_is_an_engine_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    with pytest.raises(EngineError) as err:
        engine.connect(timeout=5)
    host = f"unix://{tmp_path}/none.sock"
    assert str(err.value) == f"cannot reach the Docker engine at {host}: No such file or directory"


def test_engine_failures_after_connecting_are_described() -> None:
    import docker.errors
    import requests

    lost = engine.describe_engine_failure(requests.exceptions.ConnectionError(
        "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"))
    assert lost and "lost the connection to the Docker engine" in lost
    assert "Remote end closed connection without response" in lost
    refused = engine.describe_engine_failure(requests.exceptions.ConnectionError(
        "('Connection aborted.', ConnectionRefusedError(111, 'Connection refused'))"))
    assert refused and "(Connection refused;" in refused
    assert "stopped answering" in (engine.describe_engine_failure(requests.exceptions.ReadTimeout("x")) or "")
    api = docker.errors.APIError("500 Server Error", explanation="rpc error: code = Unavailable")
    assert "refused a request: rpc error" in (engine.describe_engine_failure(api) or "")
    assert engine.describe_engine_failure(ValueError("x")) is None
