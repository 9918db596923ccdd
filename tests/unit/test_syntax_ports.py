"""syntax/ports.py: one grammar for the schema check and the expansion, read as the reference reads it."""

from __future__ import annotations

import pytest

from stackctl.syntax.ports import PortSpec, expand_port_spec, parse_port_spec
from stackctl.validate.format_checks import format_reason, is_ports


@pytest.mark.parametrize(("text", "protocol"), [
    # checked against `docker stack config` (CLI 28): the part after the first "/" counts
    ("80/tcp/udp", "tcp"), ("80/udp/tcp", "udp"), ("8080:80/UDP", "udp"), ("80/", "tcp"),
    ("80/tcp/", "tcp"), ("8080:80/tcp/x", "tcp"), ("80", "tcp"), ("53/sctp", "sctp"),
])
def test_protocol_is_the_first_slash_part(text: str, protocol: str) -> None:
    assert parse_port_spec(text).protocol == protocol
    assert is_ports(text)
    assert {p["protocol"] for p in expand_port_spec(text).ports} == {protocol}


@pytest.mark.parametrize(("text", "reason"), [
    ("80/foo", "invalid protocol"), ("foo:8080:80", "invalid IP address"), ("abc:80", "invalid published"),
    ("80:80:80", "invalid IP address"), ("70000", "out of range"), ("81-80", "end before start"),
    ("80-81:90-93", "differ in size"), ("/tcp", "no port given"),
])
def test_rejected_by_both_validate_and_load(text: str, reason: str) -> None:
    assert not is_ports(text)
    assert reason in (format_reason("ports", text) or "")
    with pytest.raises(ValueError, match=reason):
        expand_port_spec(text)


def test_parse_keeps_ranges_and_unbrackets_ipv6() -> None:
    assert parse_port_spec("[::1]:8000-8001:80-81") == PortSpec("::1", (8000, 8001), (80, 81), "tcp")
    assert parse_port_spec(80) == PortSpec("", None, (80, 80), "tcp")


def test_expansion_matches_the_reference() -> None:
    assert expand_port_spec("8000-8001:80").ports == [
        {"mode": "ingress", "target": 80, "published": 8000, "protocol": "tcp"},
        {"mode": "ingress", "target": 80, "published": 8001, "protocol": "tcp"},
    ]
    # a Go map keyed "PORT/PROTO" is walked in string order
    assert [p["target"] for p in expand_port_spec("9999-10000").ports] == [10000, 9999]
    assert expand_port_spec("53/udp").ports == [{"mode": "ingress", "target": 53, "protocol": "udp"}]


def test_a_host_ip_is_ignored_with_a_warning() -> None:
    out = expand_port_spec("127.0.0.1:8080:80/udp")
    assert out.ports == [{"mode": "ingress", "target": 80, "published": 8080, "protocol": "udp"}]
    assert out.warnings == ["ignoring IP-address (127.0.0.1:8080:80/udp) service will listen on '0.0.0.0'"]
    assert expand_port_spec("0.0.0.0:8080:80").warnings == []
