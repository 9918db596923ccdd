"""The lab's stand-in images: root filesystem and import flags (pure)."""

from __future__ import annotations

import io
import json
import struct
import tarfile
from pathlib import Path

import pytest

from stackctl.lab import images

ATSEA = Path(__file__).resolve().parents[2] / "examples" / "atsea" / "docker-stack.yml"


def _elf(interp: bool) -> bytes:
    """A minimal ELF64 header with one program header (PT_INTERP=3 or PT_LOAD=1)."""
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x20, 64)  # e_phoff
    struct.pack_into("<H", header, 0x36, 56)  # e_phentsize
    struct.pack_into("<H", header, 0x38, 1)  # e_phnum
    phdr = bytearray(56)
    struct.pack_into("<I", phdr, 0, 3 if interp else 1)
    return bytes(header + phdr)


def test_static_elf_detection() -> None:
    assert images.is_static_elf(_elf(interp=False))
    assert not images.is_static_elf(_elf(interp=True))
    assert not images.is_static_elf(b"#!/bin/sh\n")


def test_rootfs_has_busybox_applets_and_www(tmp_path: Path) -> None:
    fake = tmp_path / "busybox"
    fake.write_bytes(_elf(interp=False))
    with tarfile.open(fileobj=io.BytesIO(images.rootfs_tar(fake))) as tar:
        names = set(tar.getnames())
        assert {"bin/busybox", "bin/sh", "bin/httpd", "bin/sleep", "www/index.html", "tmp"} <= names
        assert tar.getmember("bin/sh").issym() and tar.getmember("bin/sh").linkname == "busybox"
        assert tar.getmember("bin/busybox").mode == 0o755
        assert tar.getmember("tmp").mode == 0o1777


def test_every_atsea_image_has_a_stand_in() -> None:
    yaml = pytest.importorskip("yaml")
    stack = yaml.safe_load(ATSEA.read_text())
    wanted = {svc["image"] if ":" in svc["image"] else svc["image"] + ":latest"
              for svc in stack["services"].values()}
    assert wanted <= {img.name for img in images.IMAGES}
    assert "busybox:latest" in {img.name for img in images.IMAGES}


def test_http_stand_ins_serve_their_real_ports() -> None:
    by_name = {img.name: img for img in images.IMAGES}
    assert by_name["dockersamples/atseasampleshopapp_reverse_proxy:latest"].expose == (80, 443)
    assert by_name["dockersamples/atsea_app:latest"].expose == (8080,)
    assert by_name["dockersamples/visualizer:stable"].expose == (8080,)
    proxy_cmd = " ".join(by_name["dockersamples/atseasampleshopapp_reverse_proxy:latest"].cmd)
    assert "httpd -p 80 -h /www" in proxy_cmd and "httpd -p 443 -h /www" in proxy_cmd


def test_import_args_set_cmd_as_json() -> None:
    img = images.Image("x:latest", ["sh", "-c", "echo 'hi'"], (8080,))
    args = images.import_args(img)
    cmd = args[args.index("--change") + 1]
    assert cmd.startswith("CMD ") and json.loads(cmd[4:]) == ["sh", "-c", "echo 'hi'"]
    assert "EXPOSE 8080" in args


def test_copy_images_saves_once_and_loads_into_each_target(monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.lab import host

    calls: list[list[str]] = []

    def fake_run(args: list[str], **kw: object) -> None:
        calls.append(list(args))

    monkeypatch.setattr(host, "run", fake_run)
    images.copy_images("unix:///m.sock", ["unix:///w1.sock", "unix:///w2.sock"])
    saves = [c for c in calls if "save" in c]
    loads = sorted(c for c in calls if "load" in c)
    assert len(saves) == 1 and saves[0][:3] == ["docker", "-H", "unix:///m.sock"]
    assert {img.name for img in images.IMAGES} <= set(saves[0])
    archive = saves[0][saves[0].index("-o") + 1]
    assert [c[2] for c in loads] == ["unix:///w1.sock", "unix:///w2.sock"]
    assert all(c[-1] == archive for c in loads)
    calls.clear()
    images.copy_images("unix:///m.sock", [])
    assert calls == []
