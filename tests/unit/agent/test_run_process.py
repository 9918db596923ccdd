"""`stackctl agent run` as a process without an engine: HTTPS with the config's certificate, /healthz
200, /readyz 503 naming the engine, SIGTERM within 10 s (no lab: the engine is a socket that is not there)."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_https_health_and_readiness_without_an_engine(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    work = tmp_path / "work"
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "A",
        "GIT_AUTHOR_EMAIL": "a@x",
        "GIT_COMMITTER_NAME": "A",
        "GIT_COMMITTER_EMAIL": "a@x",
    }
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True, env=env, timeout=30)
    (work / "s.yml").write_text("version: '3.8'\nservices:\n  web:\n    image: busybox\n")
    subprocess.run(["git", "-C", str(work), "add", "-A"], check=True, env=env, timeout=30)
    subprocess.run(["git", "-C", str(work), "commit", "-qm", "x"], check=True, env=env, timeout=30)
    config = tmp_path / "agent.yml"
    config.write_text(
        f"sources:\n  - url: file://{work}\nstacks:\n  - name: shop\n    files: [s.yml]\n"
        f"listen: 127.0.0.1:0\ncache_dir: {tmp_path / 'cache'}\n"
        f"tls_cert_file: {cert}\ntls_key_file: {key}\n"
    )
    log = tmp_path / "agent.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "stackctl", "agent", "run", "--config", str(config)],
            cwd=str(ROOT),
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"},
        )
    try:
        deadline = time.monotonic() + 30
        url = ""
        while not url and time.monotonic() < deadline:
            for line in log.read_text().splitlines():
                if "event=listening" in line:
                    url = line.split("url=", 1)[1].split()[0]
            time.sleep(0.1)
        assert url.startswith("https://127.0.0.1:"), log.read_text()
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(url + "/healthz", context=context, timeout=10) as resp:
            assert resp.status == 200
        status, body = 0, ""
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url + "/readyz", context=context, timeout=10)
            except urllib.error.HTTPError as err:
                status, body = err.code, err.read().decode()
                if "engine:" in body:
                    break
            time.sleep(0.2)
        assert status == 503 and "engine:" in body
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
        assert time.monotonic() - started < 10
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
