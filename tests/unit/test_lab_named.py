"""Named labs side by side: names, folders, addresses and what `lab env` prints (pure, no root)."""

from __future__ import annotations

import ipaddress
import json
from itertools import combinations
from pathlib import Path

import pytest

from stackctl.commands import lab as lab_cmd
from stackctl.errors import LabError
from stackctl.lab import host, registry, ssh
from stackctl.lab.layout import (
    DEFAULT_SUBNET,
    LabLayout,
    lab_place,
    make_layout,
    named_subnet,
)

NAMES = ["default", "a", "ab", "a-mgr", "a-wrk-1", "x1", "ci", "h17a", "h17b", "a-very-long-lab-name",
         "a-very-long-lab-nam2", "0"]


def _everything(layout: LabLayout) -> dict[str, set[str]]:
    """Every name and path a lab owns, by kind."""
    place = layout.place
    return {
        "netns": {n.netns for n in layout.nodes},
        "links": {layout.bridge} | {n.veth for n in layout.nodes},
        "folders": {str(place.run_root), str(place.state_root)},
        "sockets": {str(n.socket) for n in layout.nodes} | {str(n.containerd_socket) for n in layout.nodes},
        "state": {str(place.state_file)},
        "lock": {str(place.lock_file)},
    }


def test_default_lab_keeps_the_legacy_places() -> None:
    layout = make_layout(environ={}, name="default")
    place = lab_place()
    assert layout.manager.host == "unix:///run/stackctl-lab/mgr-1/docker.sock"
    assert (layout.bridge, layout.subnet) == ("stackctl0", "10.213.47.0/24")
    assert [n.netns for n in layout.nodes] == ["stackctl-mgr-1", "stackctl-wrk-1", "stackctl-wrk-2"]
    assert str(place.state_file) == "/run/stackctl-lab/state.json"
    assert str(place.lock_file) == "/run/stackctl-lab.lock"
    assert str(layout.node("wrk-1").data_root) == "/var/lib/stackctl-lab/wrk-1"


def test_a_named_lab_lives_outside_the_default_labs_folders() -> None:
    layout = make_layout(environ={}, name="h17a")
    assert layout.manager.host == "unix:///run/stackctl/labs/h17a/mgr-1/docker.sock"
    assert layout.bridge == "stk-h17a" and layout.manager.netns == "stk-h17a-mgr-1"
    assert str(layout.node("wrk-2").data_root) == "/var/lib/stackctl/labs/h17a/wrk-2"
    default = lab_place()
    # Neither a path prefix nor a substring: the default lab's cleanup matches folders by text.
    for path in _everything(layout)["folders"] | _everything(layout)["sockets"]:
        assert str(default.run_root) not in path and str(default.state_root) not in path
        assert not path.startswith("/run/stackctl-lab")
    assert not layout.manager.netns.startswith("stackctl-")


def test_two_names_never_collide() -> None:
    layouts = [make_layout(environ={}, name=n, managers=5, workers=20) for n in NAMES]
    for one, two in combinations(layouts, 2):
        mine, theirs = _everything(one), _everything(two)
        for kind in mine:
            assert not mine[kind] & theirs[kind], (one.name, two.name, kind)
        # No folder of one lab is inside a folder of another.
        for a in mine["folders"]:
            for b in theirs["folders"]:
                assert not a.startswith(b + "/") and not b.startswith(a + "/")
    assert all(len(link) <= 15 for lay in layouts for link in _everything(lay)["links"])


def test_named_subnets_are_stable_skip_the_default_and_taken_ones() -> None:
    first = named_subnet("h17a")
    assert first == named_subnet("h17a") and first != DEFAULT_SUBNET
    assert ipaddress.IPv4Network(first).subnet_of(ipaddress.IPv4Network("10.213.0.0/16"))
    taken = [ipaddress.IPv4Network(first)]
    second = named_subnet("h17a", taken)
    assert second != first
    assert make_layout(environ={}, name="h17a", taken=taken).subnet == second


def test_variables_move_the_default_lab_only() -> None:
    env = {"STACKCTL_LAB_BRIDGE": "envbr0", "STACKCTL_LAB_SUBNET": "10.1.2.0/24"}
    assert make_layout(environ=env).bridge == "envbr0"
    named = make_layout(environ=env, name="x1")
    assert named.bridge == "stk-x1" and named.subnet != "10.1.2.0/24"


def test_several_managers_then_workers() -> None:
    layout = make_layout(environ={}, name="m3", managers=3, workers=1)
    assert [(n.name, n.role) for n in layout.nodes] == [
        ("mgr-1", "manager"), ("mgr-2", "manager"), ("mgr-3", "manager"), ("wrk-1", "worker")]
    assert layout.manager.name == "mgr-1" and [n.name for n in layout.workers] == ["wrk-1"]
    assert layout.labels == {"wrk-1": {"pcidss": "yes"}}


@pytest.mark.parametrize("kwargs, fragment", [
    ({"managers": 2}, "use 1, 3 or 5"),
    ({"managers": 0}, "use 1, 3 or 5"),
    ({"name": "Bad"}, "invalid lab name"),
    ({"name": "-x"}, "invalid lab name"),
    ({"name": "x" * 21}, "invalid lab name"),
    ({"name": "a/b"}, "invalid lab name"),
])
def test_bad_names_and_counts_are_clear_errors(kwargs: dict, fragment: str) -> None:
    with pytest.raises(LabError) as err:
        make_layout(environ={}, **kwargs)
    assert fragment in str(err.value)


def test_state_round_trips_and_an_old_state_file_reads_as_the_default_lab() -> None:
    layout = make_layout(environ={}, name="h17b", managers=3, registry=True, ssh=True)
    assert LabLayout.from_json(layout.to_json()) == layout
    old = json.loads(make_layout(environ={}).to_json())
    for key in ("name", "registry", "ssh"):
        old.pop(key)
    for node in old["nodes"]:
        for key in ("run_root", "state_root", "netns_prefix"):
            node.pop(key)
    legacy = LabLayout.from_json(json.dumps(old))
    assert legacy == make_layout(environ={})
    assert legacy.registry_address == "" and not legacy.ssh


def test_env_names_the_registry_without_printing_its_password() -> None:
    layout = make_layout(environ={}, name="h17a", registry=True, ssh=True)
    lines = lab_cmd.env_lines(layout)
    assert lines[0] == f"export DOCKER_HOST={layout.manager.host}"
    assert f"export STACKCTL_LAB_REGISTRY={layout.gateway}:5000" in lines
    assert "export STACKCTL_LAB_REGISTRY_USER=lab" in lines
    assert 'export STACKCTL_LAB_REGISTRY_PASSWORD="$(cat /run/stackctl/labs/h17a/registry/password)"' in lines
    assert f"export STACKCTL_LAB_SSH_HOST=ssh://root@{layout.manager.ip}" in lines
    assert lab_cmd.env_lines(make_layout(environ={})) == [
        "export DOCKER_HOST=unix:///run/stackctl-lab/mgr-1/docker.sock"]


def test_registry_config_uses_tls_htpasswd_and_the_labs_folders() -> None:
    layout = make_layout(environ={}, name="h17a", registry=True)
    files = registry.RegistryFiles.of(layout.place)
    conf = json.loads(registry.config_text(files, layout.registry_address))
    assert conf["http"]["addr"] == layout.registry_address
    assert conf["http"]["tls"] == {"certificate": str(files.cert), "key": str(files.key)}
    assert conf["auth"]["htpasswd"]["path"] == str(files.htpasswd)
    assert conf["storage"]["filesystem"]["rootdirectory"] == "/var/lib/stackctl/labs/h17a/registry"


def test_sshd_hands_each_session_its_managers_socket() -> None:
    layout = make_layout(environ={}, name="h17b", managers=3, ssh=True)
    files = ssh.SshFiles.of(layout.place)
    mgr2 = layout.node("mgr-2")
    text = ssh.sshd_config_text(files, mgr2)
    assert f"ListenAddress {mgr2.ip}:22" in text
    assert f"SetEnv DOCKER_HOST={mgr2.host}" in text
    assert "PasswordAuthentication no" in text
    client = ssh.client_config_text(files, layout)
    assert f"Host {' '.join(n.ip for n in layout.managers)}\n" in client
    assert "StrictHostKeyChecking yes" in client and str(files.known_hosts) in client
    assert str(files.client_config) == "/etc/ssh/ssh_config.d/stackctl-lab-h17b.conf"


def test_a_labs_cleanup_matches_its_own_folders_only() -> None:
    roots = [Path("/run/stackctl/labs/a"), Path("/var/lib/stackctl/labs/a")]
    assert host.mentions_folder("containerd --config /run/stackctl/labs/a/mgr-1/containerd.toml", roots)
    assert host.mentions_folder("dockerd --data-root /var/lib/stackctl/labs/a", roots)
    assert not host.mentions_folder("containerd --config /run/stackctl/labs/ab/mgr-1/containerd.toml", roots)
    assert not host.mentions_folder("dockerd --data-root /var/lib/stackctl/labs/a-b/mgr-1", roots)
    legacy = [Path("/run/stackctl-lab"), Path("/var/lib/stackctl-lab")]
    assert not host.mentions_folder("containerd --config /run/stackctl-lab2/x.toml", legacy)
    assert host.mentions_folder("containerd --config /run/stackctl-lab/mgr-1/containerd.toml", legacy)


def test_a_lab_sweeps_only_its_own_namespaces() -> None:
    a, a_mgr, default = lab_place("a"), lab_place("a-mgr"), lab_place("default")
    assert a.owns_netns("stk-a-mgr-1") and a.owns_netns("stk-a-wrk-12")
    assert not a.owns_netns("stk-a-mgr-mgr-1") and a_mgr.owns_netns("stk-a-mgr-mgr-1")
    assert not a_mgr.owns_netns("stk-a-mgr-1")
    assert not a.owns_netns("stk-ab-mgr-1") and not a.owns_netns("stackctl-mgr-1")
    assert default.owns_netns("stackctl-wrk-2") and not default.owns_netns("stk-a-mgr-1")
    assert not default.owns_netns("rl-4fab46-m1")


@pytest.mark.parametrize(("euid", "start"), [(0, "start it with: stackctl lab up --name zz-absent"),
                                             (1000, "start it with: sudo stackctl lab up --name zz-absent")])
def test_status_of_a_lab_that_is_not_up_tells_root_no_sudo(euid: int, start: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.lab import lifecycle

    monkeypatch.setattr(lifecycle, "read_state", lambda name: None)
    monkeypatch.setattr(lifecycle.os, "geteuid", lambda: euid)
    with pytest.raises(LabError) as info:
        lifecycle.status_rows("zz-absent")
    assert start in str(info.value)
