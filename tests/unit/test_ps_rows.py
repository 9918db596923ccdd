"""Pure tests of the ps/ls/services/rm/logs data rules (render/tasks.py, swarm/, observe.py's
summaries), on recorded Engine API lists."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from stackctl.commands.ps import parse_filters
from stackctl.errors import UsageError
from stackctl.observe import kept_objects, stack_summaries
from stackctl.render.tasks import human_duration, state_with_age, task_rows, truncate_words
from stackctl.swarm.logs import log_prefix, split_log_line
from stackctl.swarm.services import service_statuses
from stackctl.swarm.stacks import natural_key, stack_filters
from stackctl.swarm.times import parse_since, parse_time

DATA = Path(__file__).parent / "data"
BIND_ERR = 'invalid mount config for type "bind": bind source path does not exist: /nonexistent/stackctl-test'


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


@pytest.fixture
def mixed() -> dict:
    """Hand-built: healthy replicated (with a crash and an update in slot 1, scaled down from 3),
    a rejected bind mount, an unschedulable service and a global one."""
    return load("ps_mixed_stack.json")


@pytest.fixture
def recorded() -> dict:
    """Recorded from the lab after `docker stack deploy` (dockerd 20.10)."""
    return load("ps_lab_recorded.json")


def rows_of(doc: dict, **kw: object) -> list:
    return task_rows(doc["tasks"], doc["services"], doc["nodes"], now=parse_time(doc["now"]), **kw)


# --- time and text ------------------------------------------------------------------------------


def test_parse_time_handles_nanoseconds_and_zero_time() -> None:
    assert parse_time("2024-05-01T12:00:00.123456789Z") == datetime(2024, 5, 1, 12, 0, 0, 123456,
                                                                     tzinfo=timezone.utc)
    assert parse_time("2024-05-01T14:00:00+02:00") == datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert parse_time("0001-01-01T00:00:00Z") is None
    assert parse_time("") is None


@pytest.mark.parametrize(("seconds", "text"), [
    (0.4, "Less than a second"), (1, "1 second"), (59, "59 seconds"), (60, "About a minute"),
    (119, "About a minute"), (120, "2 minutes"), (3599, "59 minutes"), (3600, "About an hour"),
    (5400, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"), (15 * 86400, "2 weeks"),
    (61 * 86400, "2 months"), (800 * 86400, "2 years"),
])
def test_human_duration_matches_the_docker_cli(seconds: float, text: str) -> None:
    assert human_duration(seconds) == text


def test_state_with_age_reads_like_the_reference() -> None:
    now = datetime(2024, 5, 1, 12, 2, tzinfo=timezone.utc)
    assert state_with_age("running", now - timedelta(minutes=2), now) == "Running 2 minutes ago"
    assert state_with_age("rejected", now, now) == "Rejected less than a second ago"
    assert state_with_age("pending", None, now) == "Pending"


def test_truncate_words_never_cuts_mid_word() -> None:
    assert truncate_words("task: non-zero exit (1)", 60) == "task: non-zero exit (1)"
    cut = truncate_words(BIND_ERR, 40)
    assert cut.endswith("…") and len(cut) <= 40
    assert BIND_ERR.startswith(cut[:-1])
    assert BIND_ERR[len(cut) - 1] in " :"  # the cut falls on a word boundary


def test_natural_key_orders_slots_numerically() -> None:
    names = ["web.10", "web.2", "web.1", "api.3"]
    assert sorted(names, key=natural_key) == ["api.3", "web.1", "web.2", "web.10"]


def test_parse_filters_groups_repeated_keys() -> None:
    assert parse_filters(["desired-state=running", "node=wrk-1", "node=wrk-2", "label=a=b"]) == {
        "desired-state": ["running"], "node": ["wrk-1", "wrk-2"], "label": ["a=b"]}


@pytest.mark.parametrize("bad", ["nokey", "colour=red", "desired-state=sleeping", "=x"])
def test_parse_filters_rejects_bad_input(bad: str) -> None:
    with pytest.raises(UsageError):
        parse_filters([bad])


def test_stack_filters_ands_the_namespace_label() -> None:
    assert stack_filters("ts1", {"label": ["tier=web"], "name": ["x"]}) == {
        "label": ["tier=web", "com.docker.stack.namespace=ts1"], "name": ["x"]}


# --- ps rows ------------------------------------------------------------------------------------


def test_default_view_keeps_failed_predecessors_and_drops_clean_history(mixed: dict) -> None:
    rows = rows_of(mixed)
    names = [(("\\_ " if r.is_history else "") + r.name) for r in rows]
    # failing services first, then the rest by name; history right under its slot, newest first
    assert names == [
        "ts1_badmount.1", "\\_ ts1_badmount.1", "\\_ ts1_badmount.1",
        "ts1_nowhere.1",
        "ts1_agent.nodemgr1000000000000000000", "ts1_agent.nodewrk1000000000000000000",
        "ts1_agent.nodewrk2000000000000000000",
        "ts1_web.1", "\\_ ts1_web.1",
        "ts1_web.2",
    ]
    crashed = rows[8]
    assert (crashed.state, crashed.error, crashed.exit_code) == ("failed", "task: non-zero exit (1)", 1)
    assert [r.id for r in rows if r.name == "ts1_web.3"] == []  # scaled down cleanly: hidden


def test_all_view_keeps_every_task(mixed: dict) -> None:
    rows = rows_of(mixed, all_tasks=True)
    assert len(rows) == len(mixed["tasks"])
    assert "taskweb3000000000000000000" in {r.id for r in rows}
    assert "taskweb1upd0000000000000ac" in {r.id for r in rows if r.is_history}


def test_rows_carry_node_hostname_full_error_and_age(mixed: dict) -> None:
    by_id = {r.id: r for r in rows_of(mixed)}
    bad = by_id["taskbad000000000000000000"]
    assert bad.node == "wrk-2"
    assert bad.error == BIND_ERR
    assert bad.current_state == "Rejected 2 seconds ago"
    pending = by_id["taskpend00000000000000000a"]
    assert pending.node is None and pending.state == "pending"
    assert pending.error == "no suitable node (scheduling constraints not satisfied on 3 nodes)"
    web = by_id["taskweb1new0000000000000aa"]
    assert web.ports == ["*:8080->80/tcp"]
    assert web.current_state == "Running about a minute ago"


def test_service_statuses_judge_convergence(mixed: dict) -> None:
    st = {s.name: s for s in service_statuses(mixed["services"], mixed["tasks"])}
    assert (st["ts1_web"].running, st["ts1_web"].desired, st["ts1_web"].converged) == (2, 2, True)
    assert st["ts1_web"].ports == ["*:8080->80/tcp (host)"]
    agent = st["ts1_agent"]
    assert (agent.mode, agent.replicas, agent.converged) == ("global", "3/3", True)
    assert not st["ts1_badmount"].converged and st["ts1_badmount"].problem == BIND_ERR
    assert st["ts1_nowhere"].replicas == "0/1"
    assert st["ts1_nowhere"].problem.startswith("no suitable node")


def test_recorded_lab_stack(recorded: dict) -> None:
    rows = rows_of(recorded)
    current = [r for r in rows if not r.is_history]
    states = {r.service: (r.desired_state, r.state) for r in current}
    assert states == {"tsdev_badmount": ("ready", "rejected"), "tsdev_nowhere": ("running", "pending"),
                      "tsdev_healthy": ("running", "running")}
    assert rows[-1].service == "tsdev_healthy"  # the converged service comes last
    assert all(r.node in ("mgr-1", "wrk-1", "wrk-2") for r in rows if r.state != "pending")
    history = [r for r in rows if r.is_history]
    assert history and all(r.service == "tsdev_badmount" and "bind source path does not exist" in r.error
                           for r in history)
    assert all(r.exit_code is None for r in rows)  # no container was ever created


def test_json_rows_are_plain_data(recorded: dict) -> None:
    for row in rows_of(recorded):
        doc = row.to_json()
        json.dumps(doc)
        assert set(doc) >= {"id", "name", "service", "node", "desired_state", "state", "current_state",
                            "state_since", "error", "is_history"}


# --- ls / rm / logs -----------------------------------------------------------------------------


def test_stack_summaries_count_every_kind_and_keep_serviceless_stacks(mixed: dict) -> None:
    out = stack_summaries(mixed["services"], mixed["networks"], mixed["secrets"], mixed["configs"])
    assert [(s.name, s.services, s.networks, s.secrets, s.configs) for s in out] == [
        ("other", 0, 0, 0, 1), ("ts1", 4, 1, 1, 0)]


def test_kept_objects_lists_externals_and_volumes(mixed: dict) -> None:
    own_nets = [n["Id"] for n in mixed["networks"] if n["Labels"]]
    kept = kept_objects(mixed["services"], own_nets, mixed["networks"], ["ts1_own"], [])
    assert kept.networks == ["proxy"]
    assert kept.secrets == ["shared_ext"]
    assert kept.volumes == ["ts1_data"]
    assert kept.describe() == "external network proxy, external secret shared_ext, volume ts1_data"


def test_split_log_line_with_details_and_timestamp() -> None:
    line = ("2024-05-01T12:00:00.000000001Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s1,"
            "com.docker.swarm.task.id=t1 hello world")
    stamp, details, msg = split_log_line(line, timestamps=True)
    assert stamp == "2024-05-01T12:00:00.000000001Z"
    assert details == {"com.docker.swarm.node.id": "n1", "com.docker.swarm.service.id": "s1",
                       "com.docker.swarm.task.id": "t1"}
    assert msg == "hello world"
    assert split_log_line("plain line", timestamps=False) == (None, {}, "plain line")


def test_log_prefix_like_docker_service_logs() -> None:
    task = {"ID": "abcdefghijkl0123456789xyz", "Slot": 2}
    assert log_prefix(task, task["ID"], "ts1_web", "wrk-1") == "ts1_web.2.abcdefghijkl@wrk-1"
    assert log_prefix(None, "abcdefghijkl0123", "ts1_agent", "mgr-1") == "ts1_agent.0.abcdefghijkl@mgr-1"


def test_parse_since() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    assert float(parse_since("10m", now)) == now.timestamp() - 600
    assert float(parse_since("1h30m", now)) == now.timestamp() - 5400
    assert parse_since("1714564800", now) == "1714564800"
    assert float(parse_since("2024-05-01T11:00:00Z", now)) == now.timestamp() - 3600
    with pytest.raises(UsageError):
        parse_since("yesterday", now)


def test_an_orphaned_predecessor_stays_visible_by_default() -> None:
    """swarm/states.py: `orphaned` is a problem ps shows (its node was lost), like failed/rejected."""
    now = datetime(2024, 5, 1, 12, tzinfo=timezone.utc)
    svc = {"ID": "s1", "Spec": {"Name": "st_web", "Mode": {"Replicated": {"Replicas": 1}}}}

    def t(ident: str, state: str, desired: str, created: str) -> dict:
        return {"ID": ident, "ServiceID": "s1", "Slot": 1, "NodeID": "n1", "DesiredState": desired,
                "CreatedAt": created, "Status": {"State": state, "Timestamp": created}}

    tasks = [t("new", "running", "running", "2024-05-01T11:59:00Z"),
             t("lost", "orphaned", "shutdown", "2024-05-01T11:00:00Z"),
             t("old", "shutdown", "shutdown", "2024-05-01T10:00:00Z")]
    rows = task_rows(tasks, [svc], [], now=now)
    assert [(r.id, r.is_history) for r in rows] == [("new", False), ("lost", True)]
