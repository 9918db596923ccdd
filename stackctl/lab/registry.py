"""The lab's image registry: Debian's `docker-registry` (distribution 2.8) with TLS and a password.

It listens on the lab bridge's host address (HOST:PORT = gateway:5000), so every node of the
lab reaches it and nothing outside this machine does. Its certificate comes from a CA made
for this lab with openssl; the nodes trust that CA through
/etc/docker/certs.d/HOST:PORT/ca.crt (dockerd 20.10 has no flag to move certs.d, and every
node shares this machine's filesystem, so one folder per registry address serves them all).
Basic auth is an htpasswd file with a bcrypt hash (`htpasswd -B`, the only kind the registry
accepts). The password is random per `lab up` and stays in a file: nothing prints it.
"""

from __future__ import annotations

import json
import secrets
import shutil
import socket
import ssl
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stackctl.errors import LabError
from stackctl.lab import host, images
from stackctl.lab.layout import REGISTRY_PORT, LabLayout, LabPlace

USER = "lab"
CERTS_D = Path("/etc/docker/certs.d")
OWNER_MARK = "stackctl-lab-owner"  # in a certs.d folder: the run root of the lab that made it
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class RegistryFiles:
    """A lab registry's files: CA, server certificate, htpasswd, config, and the data folder."""

    folder: Path
    data: Path

    @classmethod
    def of(cls, place: LabPlace) -> RegistryFiles:
        return cls(place.run_root / "registry", place.state_root / "registry")

    ca_crt = property(lambda self: self.folder / "ca.crt")
    ca_key = property(lambda self: self.folder / "ca.key")
    cert = property(lambda self: self.folder / "server.crt")
    key = property(lambda self: self.folder / "server.key")
    htpasswd = property(lambda self: self.folder / "htpasswd")
    password = property(lambda self: self.folder / "password")
    config = property(lambda self: self.folder / "config.yml")
    log = property(lambda self: self.folder / "registry.log")
    pidfile = property(lambda self: self.folder / "registry.pid")
    docker_config = property(lambda self: self.folder / "docker-config")  # the lab's own `docker login`


def _openssl(*args: str, what: str) -> None:
    host.run(["openssl", *args], what=what, timeout=30)


def make_certificates(files: RegistryFiles, address: str, lab: str) -> None:
    """A CA for the lab and a server certificate for `address` (an IP) signed by it."""
    key_opts = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *key_opts, "-keyout", str(files.ca_key), "-out", str(files.ca_crt),
             "-days", "30", "-subj", f"/CN=stackctl lab {lab} CA", what="making the lab CA")
    csr = files.folder / "server.csr"
    _openssl("req", *key_opts, "-keyout", str(files.key), "-out", str(csr), "-subj", f"/CN={address}",
             what="making the registry key")
    ext = files.folder / "server.ext"
    ext.write_text(f"subjectAltName=IP:{address}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(files.ca_crt), "-CAkey", str(files.ca_key),
             "-CAcreateserial", "-out", str(files.cert), "-days", "30", "-extfile", str(ext),
             what="signing the registry certificate")
    files.ca_key.chmod(0o600)
    files.key.chmod(0o600)


def make_htpasswd(files: RegistryFiles) -> None:
    """A random password (in a 0600 file) and its bcrypt hash for the registry."""
    password = secrets.token_urlsafe(18)
    files.password.touch(mode=0o600)
    files.password.write_text(password)
    out = host.run(["htpasswd", "-niB", USER], input=password + "\n", what="hashing the registry password")
    files.htpasswd.write_text(out.stdout.strip() + "\n")


def config_text(files: RegistryFiles, address: str) -> str:
    """The registry's config (JSON is YAML too)."""
    return json.dumps({
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(files.data)}, "delete": {"enabled": True}},
        "http": {"addr": address, "tls": {"certificate": str(files.cert), "key": str(files.key)},
                 "headers": {"X-Content-Type-Options": ["nosniff"]}},
        "auth": {"htpasswd": {"realm": "stackctl-lab", "path": str(files.htpasswd)}},
    }, indent=2) + "\n"


def trust(files: RegistryFiles, address: str, owner: Path) -> None:
    """Make every dockerd of the lab trust the lab CA for `address`."""
    folder = CERTS_D / address
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(files.ca_crt, folder / "ca.crt")
    (folder / OWNER_MARK).write_text(str(owner))


def forget(place: LabPlace) -> None:
    """Remove the certs.d folders this lab made (found by their owner mark, whatever the address)."""
    try:
        folders = list(CERTS_D.iterdir())
    except OSError:
        return
    for folder in folders:
        try:
            if (folder / OWNER_MARK).read_text().strip() == str(place.run_root):
                shutil.rmtree(folder, ignore_errors=True)
        except OSError:
            continue


def answers(address: str, ca: Path, timeout: float = 2.0) -> bool:
    """True when https://address/v2/ answers over TLS trusted by `ca` (401 without credentials)."""
    ctx = ssl.create_default_context(cafile=str(ca))
    # Straight to the bridge address: never through an HTTPS_PROXY of the caller's environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=ctx))
    try:
        opener.open(f"https://{address}/v2/", timeout=timeout)
        return True
    except urllib.error.HTTPError as err:
        return err.code == 401
    except (OSError, ssl.SSLError):
        return False


def start(layout: LabLayout) -> None:
    """Certificates, password, config; then the registry itself, waited for."""
    files = RegistryFiles.of(layout.place)
    address = layout.registry_address
    files.folder.mkdir(parents=True, exist_ok=True)
    files.data.mkdir(parents=True, exist_ok=True)
    make_certificates(files, layout.gateway, layout.name)
    make_htpasswd(files)
    files.config.write_text(config_text(files, address))
    trust(files, address, layout.place.run_root)
    serve(layout)


def serve(layout: LabLayout) -> None:
    """Run the registry with the files `start` made (again, after a test stopped it), waited for."""
    files = RegistryFiles.of(layout.place)
    address = layout.registry_address
    _check_port_free(layout.gateway)
    proc = host.spawn(["docker-registry", "serve", str(files.config)], files.log)
    files.pidfile.write_text(f"{proc.pid}\n")
    host.wait_for(lambda: answers(address, files.ca_crt, timeout=1), START_TIMEOUT,
                  f"the lab registry at {address}", proc, files.log)


def _check_port_free(ip: str) -> None:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((ip, REGISTRY_PORT)) == 0:
            raise LabError(f"something already listens on {ip}:{REGISTRY_PORT}: "
                           "the lab registry cannot start")


def stop(place: LabPlace) -> None:
    """Stop this lab's registry (found by its pidfile and its config path)."""
    files = RegistryFiles.of(place)
    pid = host.read_pid(files.pidfile)
    if pid and str(files.config) in host.cmdline(pid):
        host.stop_pids([pid], grace=5)


def login_env(layout: LabLayout) -> dict[str, str]:
    """DOCKER_CONFIG for the lab's own `docker login`: never the user's ~/.docker."""
    return {"DOCKER_CONFIG": str(RegistryFiles.of(layout.place).docker_config)}


def push_images(layout: LabLayout) -> None:
    """Log the manager's CLI in and push every lab image under its registry names."""
    files = RegistryFiles.of(layout.place)
    address = layout.registry_address
    mgr = layout.manager.host
    env = login_env(layout)
    files.docker_config.mkdir(parents=True, exist_ok=True)
    host.run(["docker", "-H", mgr, "login", address, "-u", USER, "--password-stdin"],
             input=files.password.read_text(), env=env, what=f"docker login {address}")
    refs: list[str] = []
    for image in images.IMAGES:
        for ref in images.registry_refs(image.name):
            target = f"{address}/{ref}"
            host.run(["docker", "-H", mgr, "tag", image.name, target], what=f"tagging {target}")
            refs.append(target)

    def push(ref: str) -> None:
        host.run(["docker", "-H", mgr, "push", "-q", ref], env=env, timeout=120, what=f"pushing {ref}")

    # One shared layer: the first push uploads it, the others only add their manifests.
    push(refs[0])
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(push, refs[1:]))
