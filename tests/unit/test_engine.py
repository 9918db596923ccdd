"""The engine gateway without an engine: connection settings, TLS, error translation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from stackctl import engine
from stackctl.engine import endpoint, gateway
from stackctl.engine import errors as engine_errors
from stackctl.errors import DOWN, LOST, REFUSED, TIMEOUT, EngineError, UsageError


def _context(config_dir: Path, name: str, host: str) -> None:
    meta = config_dir / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Name": name, "Endpoints": {"docker": {"Host": host}}}))


# --- where to connect: the docker CLI's precedence ----------------------------------------------


def test_docker_host_wins_over_docker_context_and_the_current_context(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "cur"}))
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_HOST": "tcp://h:2375", "DOCKER_CONTEXT": "ctx"}
    assert engine.endpoint_from(env) == engine.Endpoint(host="tcp://h:2375", config_dir=str(tmp_path))
    del env["DOCKER_HOST"]
    assert engine.endpoint_from(env).context == "ctx"
    del env["DOCKER_CONTEXT"]
    assert engine.endpoint_from(env).context == "cur"
    (tmp_path / "config.json").write_text("{}")
    assert engine.endpoint_from(env) == engine.Endpoint(config_dir=str(tmp_path))


def test_flags_win_over_the_environment(tmp_path: Path) -> None:
    env = {"DOCKER_CONFIG": str(tmp_path), "DOCKER_HOST": "tcp://h:2375"}
    assert engine.endpoint_from(env, context="flag").context == "flag"
    assert engine.endpoint_from({"DOCKER_CONTEXT": "ctx"}, host="ssh://me@box").host == "ssh://me@box"
    with pytest.raises(UsageError):
        engine.endpoint_from(env, context="flag", host="tcp://other:2375")
    assert engine.endpoint_from(env, context="default").host == "tcp://h:2375"  # default = DOCKER_HOST


def test_a_context_names_its_host(tmp_path: Path) -> None:
    _context(tmp_path, "remote", "ssh://deploy@swarm.example")
    ep = endpoint.context_endpoint("remote", str(tmp_path))
    assert ep.host == "ssh://deploy@swarm.example" and ep.tls is None
    with pytest.raises(EngineError, match="docker context 'nope' not found"):
        endpoint.context_endpoint("nope", str(tmp_path))


# --- TLS ----------------------------------------------------------------------------------------


def test_tls_off_without_the_variables() -> None:
    assert endpoint._tls_from_env({}) is None
    assert endpoint._tls_from_env({"DOCKER_TLS_VERIFY": "", "DOCKER_CERT_PATH": ""}) is None
    assert gateway._tls_config(None) is False


def test_missing_certificate_files_are_named(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("x")
    tls = endpoint._tls_from_env({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    with pytest.raises(EngineError) as err:
        gateway._tls_config(tls)
    assert "key.pem, ca.pem" in str(err.value) and str(tmp_path) in str(err.value)


def test_the_engine_ca_wins_over_requests_ca_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """REQUESTS_CA_BUNDLE must not replace DOCKER_CERT_PATH's ca.pem (it did, through requests)."""
    import docker

    for name in ("ca.pem", "cert.pem", "key.pem"):
        (tmp_path / name).write_text("x")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    files = endpoint._tls_from_env({"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)})
    tls = gateway._tls_config(files)
    api = docker.APIClient(base_url="tcp://127.0.0.1:1", tls=tls, version="1.41")
    gateway._pin_tls_trust(api)
    settings = api.merge_environment_settings("https://127.0.0.1:1/version", {}, None, None, None)
    assert settings["verify"] == str(tmp_path / "ca.pem")
    api.close()


def _wrapped(inner: BaseException) -> Exception:
    """An error as requests raises it from urllib3 (MaxRetryError around the real cause)."""
    import requests
    import urllib3.exceptions

    retry = urllib3.exceptions.MaxRetryError(None, "/version", urllib3.exceptions.SSLError(inner))  # type: ignore[arg-type]
    return requests.exceptions.SSLError(retry)


def test_tls_failures_are_told_by_type() -> None:
    import ssl

    unknown_ca = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    unknown_ca.verify_message = "unable to get local issuer certificate"
    msg = engine_errors.describe_connect_failure(_wrapped(unknown_ca), "tcp://h:2376")
    assert msg.startswith("cannot verify the TLS certificate of the Docker engine at tcp://h:2376: "
                          "unable to get local issuer certificate")
    alert = ssl.SSLError(1, "[SSL: SSLV3_ALERT_BAD_CERTIFICATE] sslv3 alert bad certificate")
    alert.reason = "SSLV3_ALERT_BAD_CERTIFICATE"
    assert "refused stackctl's TLS client certificate" in \
        engine_errors.describe_connect_failure(_wrapped(alert), "tcp://h:2376")
    other = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    other.reason = "WRONG_VERSION_NUMBER"
    assert engine_errors.describe_connect_failure(_wrapped(other), "h") == \
        "TLS handshake with the Docker engine at h failed: WRONG_VERSION_NUMBER"
    plain = engine_errors.describe_connect_failure(
        _api_error(400, "Client sent an HTTP request to an HTTPS server."), "h")
    assert "speaks TLS only" in plain


def test_unreachable_engines_are_named_with_the_reason() -> None:
    raw = ("HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded with url: /version (Caused "
           "by NewConnectionError(\"HTTPConnection(host='127.0.0.1', port=1): Failed to establish a new "
           "connection: [Errno 111] Connection refused\"))")
    assert engine_errors.describe_connect_failure(RuntimeError(raw), "tcp://h:2376") == \
        "cannot reach the Docker engine at tcp://h:2376: Connection refused"


def test_connect_to_nothing_is_an_engine_error(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/none.sock"
    with pytest.raises(EngineError) as err:
        engine.connect(host, timeout=5)
    assert str(err.value) == f"cannot reach the Docker engine at {host}: No such file or directory"
    assert err.value.failure == DOWN


# --- one translation of every engine failure ------------------------------------------------------


def _api_error(status: int, message: str) -> Exception:
    import docker.errors
    import requests

    response = requests.Response()
    response.status_code = status
    return docker.errors.APIError(f"{status} Server Error", response=response, explanation=message)


def test_engine_answers_keep_their_status_and_message() -> None:
    err = engine.translate(_api_error(500, "rpc error: code = Unknown desc = update out of sequence"))
    assert err is not None and err.status == 500 and err.failure == REFUSED
    assert err.reason == "rpc error: code = Unknown desc = update out of sequence"
    assert err.message == f"Error response from daemon: {err.reason}"
    assert engine.translate(_api_error(404, "service x not found")).not_found  # type: ignore[union-attr]
    assert engine.translate(_api_error(409, "config x already exists")).conflict  # type: ignore[union-attr]
    told = err.during("update service web")
    assert str(told) == f"cannot update service web: {err.reason}" and told.status == 500


def test_connection_failures_are_told_apart_by_type() -> None:
    import requests
    import urllib3.exceptions

    refused = requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionRefusedError(111, "Connection refused")))
    lost = requests.exceptions.ConnectionError(urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")))
    assert engine.translate(refused).failure == DOWN  # type: ignore[union-attr]
    assert engine.translate(lost).failure == LOST  # type: ignore[union-attr]
    assert engine.translate(requests.exceptions.ReadTimeout("x")).failure == TIMEOUT  # type: ignore[union-attr]
    assert all(engine.translate(e).connection_failed for e in (refused, lost))  # type: ignore[union-attr]
    assert engine.translate(ValueError("x")) is None


def test_engine_failures_after_connecting_are_described() -> None:
    import requests

    lost = engine.describe_engine_failure(requests.exceptions.ConnectionError(
        "('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))"))
    assert lost and "lost the connection to the Docker engine" in lost
    assert "Remote end closed connection without response" in lost
    assert "rerun" in (engine.describe_engine_failure(requests.exceptions.ReadTimeout("x")) or "")
    refused = engine.describe_engine_failure(_api_error(500, "rpc error: code = Unavailable"))
    assert refused and "refused a request: rpc error" in refused
    assert engine.describe_engine_failure(ValueError("x")) is None
