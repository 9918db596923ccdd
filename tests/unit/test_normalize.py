"""Normalisation: our `config` output equals the reference's for files that cover every key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from stackctl.commands.config import dump_yaml
from stackctl.pipeline import load_stack
from stackctl.syntax.ports import expand_port_spec
from stackctl.syntax.volumes import parse_volume_spec
from stackctl.units import format_duration, parse_bytes, parse_duration
from tests.unit._reference import reference_config

DATA = Path(__file__).parent / "data" / "load" / "normalize"
CASES = sorted(p.stem for p in DATA.glob("*.yml"))
ENV = {"HOME": "/home/user", "X": "1"}


@pytest.mark.parametrize("case", CASES)
def test_config_equals_reference(case: str, tmp_path: Path) -> None:
    target = tmp_path / f"{case}.yml"
    shutil.copy(DATA / f"{case}.yml", target)
    code, expected = reference_config(f"normalize-{case}", [target], ENV, tmp_path)
    assert code == 0
    stack = load_stack([str(target)], environ=ENV, validate=False)
    assert stack.config == yaml.safe_load(expected)
    assert dump_yaml(stack.config) == expected


def test_host_ip_ports_warn(tmp_path: Path) -> None:
    target = tmp_path / "s.yml"
    shutil.copy(DATA / "short_syntax.yml", target)
    stack = load_stack([str(target)], environ=ENV, validate=False)
    messages = [w.format() for w in stack.warnings]
    assert any("ignoring IP-address (1.2.3.4:81:81/udp)" in m and ":18:" in m for m in messages)


@pytest.mark.parametrize(("text", "ns", "shown"), [
    ("90s", 90 * 10**9, "1m30s"), ("1h30m", 5400 * 10**9, "1h30m0s"), ("1.5s", 1_500_000_000, "1.5s"),
    ("10ms", 10**7, "10ms"), ("0", 0, "0s"), ("1us", 1000, "1µs"), ("120s", 120 * 10**9, "2m0s"),
])
def test_durations(text: str, ns: int, shown: str) -> None:
    assert parse_duration(text) == ns
    assert format_duration(ns) == shown


@pytest.mark.parametrize("text", ["1d", "", "10", "s", "1.s.", "abc"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize(("text", "size"), [("1024M", 1 << 30), ("50M", 52428800), ("1.5g", 1610612736),
                                            ("10MB", 10 << 20), ("512", 512), ("1kib", 1024), ("2 k", 2048)])
def test_sizes(text: str, size: int) -> None:
    assert parse_bytes(text) == size


def test_port_and_volume_short_syntax() -> None:
    ports = expand_port_spec("9090-9091:8080-8081").ports
    assert [p.get("published", 0) for p in ports] == [9090, 9091]
    assert expand_port_spec("8000-8002:80").ports[2] == {
        "mode": "ingress", "target": 80, "published": 8002, "protocol": "tcp"}
    with pytest.raises(ValueError):
        expand_port_spec("80-81:90-93")
    assert parse_volume_spec("data:/data:ro") == {
        "type": "volume", "source": "data", "target": "/data", "read_only": True}
    with pytest.raises(ValueError, match="too many colons"):
        parse_volume_spec("/a:/b:ro:x")


def test_secret_from_environment_keeps_the_variable_name_only(tmp_path: Path) -> None:
    """stackctl superset (docs/rotation.md): `environment: VAR` is carried through, never its value."""
    target = tmp_path / "s.yml"
    target.write_text('version: "3.8"\nservices:\n  web:\n    image: busybox\n    secrets: [tok]\n'
                      "secrets:\n  tok:\n    environment: TOKEN\n")
    stack = load_stack([str(target)], environ={"TOKEN": "s3cr3t-v4lue"}, validate=True)
    assert stack.config["secrets"] == {"tok": {"environment": "TOKEN"}}
    assert "s3cr3t-v4lue" not in dump_yaml(stack.config)
    assert stack.environ is not None and stack.environ["TOKEN"] == "s3cr3t-v4lue"
