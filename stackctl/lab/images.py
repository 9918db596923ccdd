"""The lab's images: a busybox-static root filesystem imported under several names.

Nodes cannot pull from a public registry, so every image a test or example needs is made here with
`docker import` on the manager, then copied to the other nodes with `docker save` /
`docker load`, so that one tag has the same image ID on every node, as a registry would
give a real cluster (a separate import per node would make a new ID per node, and an image
pinned by ID, as `promote` does without a registry, would run on one node only). The
AtSea stand-ins carry the real image names and serve HTTP on the real ports with busybox
httpd where the real one does.
"""

from __future__ import annotations

import io
import json
import tarfile
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from stackctl.errors import LabError

BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")

# A shell that stops at once on SIGTERM (as PID 1 it would otherwise ignore the signal).
_IDLE = "trap 'exit 0' TERM INT; sleep 2147483647 & wait"


def _serve(*ports: int) -> list[str]:
    """A CMD that serves /www over HTTP on each port, then idles until stopped."""
    starts = "; ".join(f"httpd -p {p} -h /www" for p in ports)
    return ["sh", "-c", f"{starts}; {_IDLE}"]


@dataclass(frozen=True)
class Image:
    name: str
    cmd: list[str]
    expose: tuple[int, ...] = ()


IMAGES: tuple[Image, ...] = (
    Image("busybox:latest", ["sh", "-c", _IDLE]),
    Image("dockersamples/atseasampleshopapp_reverse_proxy:latest", _serve(80, 443), (80, 443)),
    Image("dockersamples/atsea_db:latest", ["sh", "-c", _IDLE]),
    Image("dockersamples/atsea_app:latest", _serve(8080), (8080,)),
    Image("dockersamples/visualizer:stable", _serve(8080), (8080,)),
    Image("dockersamples/atseasampleshopapp_payment_gateway:latest", ["sh", "-c", _IDLE]),
)

# Extra names in the lab registry (besides each image's own name): tests use a tag they may move.
REGISTRY_ALIASES: dict[str, tuple[str, ...]] = {"busybox:latest": ("lab/busybox:latest", "lab/busybox:1")}


def registry_refs(name: str) -> list[str]:
    """Where `lab up` pushes image `name` in the lab registry (paths without the registry address).

    busybox goes under lab/ (the examples say $STACKCTL_LAB_REGISTRY/lab/busybox:1); the AtSea
    stand-ins keep their real names, so the registry holds them as dockersamples/...
    """
    return list(REGISTRY_ALIASES.get(name, (name,)))


# Applets the root filesystem links; any other applet works as `busybox NAME`.
_APPLETS = (
    "sh ash cat cp echo env grep head hostname httpd id ip kill ls mkdir mv nc nslookup ping ps pwd "
    "rm sed sleep stat tail tee test top touch true false uname vi wc wget which whoami"
).split()


def find_busybox() -> Path:
    """The static busybox (Debian's busybox-static); a dynamic one cannot run in an empty root fs."""
    for cand in BUSYBOX_CANDIDATES:
        path = Path(cand)
        if path.is_file() and is_static_elf(path.read_bytes()):
            return path
    raise LabError("no static busybox found (install it: apt-get install busybox-static)")


def is_static_elf(data: bytes) -> bool:
    """True when an ELF64 little-endian binary has no PT_INTERP program header."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3A], "little")
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(data[off:off + 4], "little") == 3:  # PT_INTERP
            return False
    return True


def rootfs_tar(busybox: Path) -> bytes:
    """A tar of a tiny root filesystem: /bin/busybox, applet links, /www, /etc basics."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        for d in ("bin", "etc", "www", "run", "run/secrets", "var", "var/run", "proc", "sys", "dev"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        add_file("bin/busybox", busybox.read_bytes(), 0o755)
        for applet in _APPLETS:
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
        add_file("etc/group", b"root:x:0:\nnogroup:x:65534:\n")
        add_file("www/index.html", b"<html><body>stackctl lab stand-in</body></html>\n")
        add_file("www/health", b"ok\n")
    return buf.getvalue()


def import_args(image: Image) -> list[str]:
    """`docker import` flags that give the image its default command, env and ports."""
    args = ["--change", f"CMD {json.dumps(image.cmd)}", "--change", "ENV PATH=/bin"]
    for port in image.expose:
        args += ["--change", f"EXPOSE {port}"]
    return args


def copy_images(source: str, targets: Sequence[str], names: Sequence[str] | None = None) -> None:
    """Load the `source` engine's images into every `target` engine, keeping their IDs.

    Engines are given as docker hosts (`unix:///run/stackctl-lab/mgr-1/docker.sock`). One
    `docker save` of all the tags, then one `docker load` per target, in parallel. Loading
    into an engine that already has a tag only moves the tag to the loaded image.
    """
    from stackctl.lab import host

    wanted = list(names or [image.name for image in IMAGES])
    if not targets:
        return
    with tempfile.TemporaryDirectory(prefix="stackctl-lab-images-") as tmp:
        archive = str(Path(tmp) / "images.tar")
        host.run(["docker", "-H", source, "save", "-o", archive, *wanted], timeout=180,
                 what="saving the lab images")

        def load(target: str) -> None:
            host.run(["docker", "-H", target, "load", "-q", "-i", archive], timeout=180,
                     what=f"loading the lab images into {target}")

        with ThreadPoolExecutor(max_workers=len(targets)) as pool:
            list(pool.map(load, targets))
