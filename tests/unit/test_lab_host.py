"""Host plumbing of the lab that needs no root: preflight messages, mount ordering, tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.commands import lab as lab_cmd
from stackctl.errors import LabError
from stackctl.lab import host

MOUNTINFO = """\
22 1 8:1 / / rw - ext4 /dev/sda1 rw
90 22 0:50 / /var/lib/stackctl-lab/mgr-1/overlay2/abc/merged rw - overlay overlay rw
91 22 0:51 / /run/stackctl-lab/mgr-1/exec/netns/1234 rw - nsfs nsfs rw
92 22 0:52 / /run/stackctl-lab/mgr-1 rw - tmpfs tmpfs rw
93 22 0:53 / /var/lib/stackctl-lab-other/x rw - tmpfs tmpfs rw
94 22 0:54 / /run/stackctl-lab/with\\040space rw - tmpfs tmpfs rw
"""


def test_mount_points_under_lab_folders_deepest_first() -> None:
    roots = [Path("/run/stackctl-lab"), Path("/var/lib/stackctl-lab")]
    points = host.mount_points_under(MOUNTINFO, roots)
    assert points == [
        "/var/lib/stackctl-lab/mgr-1/overlay2/abc/merged",
        "/run/stackctl-lab/mgr-1/exec/netns/1234",
        "/run/stackctl-lab/mgr-1",
        "/run/stackctl-lab/with space",
    ]


def test_preflight_lists_every_missing_thing() -> None:
    with pytest.raises(LabError) as err:
        host.preflight(euid=1000, finder=lambda tool: None if tool in ("dockerd", "nsenter") else "/bin/x")
    text = str(err.value)
    assert "needs root" in text and "sudo" in text
    assert "'dockerd' not found" in text and "docker.io" in text
    assert "'nsenter' not found" in text and "util-linux" in text
    assert "'ip' not found" not in text


def test_preflight_passes_when_all_is_there() -> None:
    host.preflight(euid=0, finder=lambda tool: "/usr/bin/" + tool)


def test_tool_env_drops_docker_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://elsewhere:2375")
    env = host.tool_env()
    assert "DOCKER_HOST" not in env and "/usr/sbin" in env["PATH"]


def test_run_raises_lab_error_with_the_last_stderr_line() -> None:
    with pytest.raises(LabError) as err:
        host.run(["sh", "-c", "echo first >&2; echo 'the real reason' >&2; exit 3"], what="doing it")
    assert str(err.value) == "doing it failed: the real reason"


def test_env_prints_the_manager_export(capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab_cmd, "read_state", lambda name: None)  # the default layout
    monkeypatch.setattr(lab_cmd, "_socket_exists", lambda path: True)
    assert lab_cmd.env() == 0
    assert capsys.readouterr().out == "export DOCKER_HOST=unix:///run/stackctl-lab/mgr-1/docker.sock\n"


def test_env_of_a_lab_that_is_down_says_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab_cmd, "read_state", lambda name: None)
    monkeypatch.setattr(lab_cmd, "_socket_exists", lambda path: False)
    with pytest.raises(LabError, match=r"the lab is not up .*start it with: stackctl lab up --name b"):
        lab_cmd.env("b")


def test_status_table_shows_hostname_role_state_and_labels() -> None:
    rows = [{"hostname": "mgr-1", "role": "manager", "state": "ready", "availability": "active",
             "address": "10.0.0.10", "engine": "20.10", "labels": {}},
            {"hostname": "wrk-1", "role": "worker", "state": "down", "availability": "active",
             "address": "10.0.0.11", "engine": "20.10", "labels": {"pcidss": "yes"}}]
    lines = lab_cmd._table(rows).splitlines()
    assert lines[0].split() == ["NODE", "ROLE", "STATUS", "AVAILABILITY", "ADDRESS", "ENGINE", "LABELS"]
    assert lines[1].split() == ["mgr-1", "manager", "Ready", "Active", "10.0.0.10", "20.10", "-"]
    assert lines[2].split()[-1] == "pcidss=yes" and "Down" in lines[2]
