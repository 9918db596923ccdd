"""The pure parts of the revision history: status from exit code, CI detection (ci.py), the one-line
description of a deploy (history_text.py), and the diff of two revisions in compose terms."""

from __future__ import annotations

from types import SimpleNamespace as NS

import pytest

from stackctl.ci import detect_ci
from stackctl.config_diff import ADDED, CHANGED, REMOVED, diff_configs, format_value, key_path
from stackctl.history import DESCRIPTION_MAX, HistoryError, is_history, status_for_exit
from stackctl.history_text import describe_ci, describe_deploy


def test_status_follows_the_exit_codes() -> None:
    assert [status_for_exit(c) for c in (0, 3, 4, 5, 130)] == [
        "deployed", "failed", "rolled back", "timed out", "interrupted"]
    assert status_for_exit(1) == "failed"


def test_history_configs_are_told_apart_by_their_label() -> None:
    assert is_history({"com.docker.stack.namespace": "s", "com.docker.stackctl.history": "s"})
    assert not is_history({"com.docker.stack.namespace": "s"})
    assert not is_history(None)


def test_detect_ci_github_actions() -> None:
    env = {"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "42", "GITHUB_REPOSITORY": "o/r",
           "GITHUB_SHA": "abc123", "GITHUB_TOKEN": "ghs_secret"}
    ci = detect_ci(env)
    assert ci == {"system": "github-actions", "repository": "o/r", "run": "42", "commit": "abc123",
                  "url": "https://github.com/o/r/actions/runs/42"}
    assert "ghs_secret" not in str(ci)  # identifiers only, never tokens
    assert describe_ci(ci) == "github-actions run 42"


def test_detect_ci_gitlab_jenkins_generic_and_none() -> None:
    gitlab = detect_ci({"GITLAB_CI": "true", "CI_JOB_ID": "7", "CI_PIPELINE_ID": "3", "CI_COMMIT_SHA": "f00"})
    assert gitlab == {"system": "gitlab", "pipeline": "3", "job": "7", "commit": "f00"}
    assert describe_ci(gitlab) == "gitlab job 7"
    jenkins = detect_ci({"BUILD_URL": "https://j/job/x/9/", "BUILD_NUMBER": "9", "JOB_NAME": "x"})
    assert jenkins == {"system": "jenkins", "job": "x", "build": "9", "url": "https://j/job/x/9/"}
    assert detect_ci({"CI": "true"}) == {"system": "ci"}
    assert describe_ci({"system": "ci"}) == "ci"
    assert detect_ci({"CI": "false", "HOME": "/root"}) == {}
    assert describe_ci({}) == ""


def _write(kind: str, name: str, action: str) -> NS:
    return NS(kind=kind, name=name, action=action)


def _plan(*actions: NS) -> NS:
    return NS(actions=list(actions))


def test_describe_a_first_deploy_counts_what_it_created() -> None:
    writes = [_write("network", "s_default", "create"), _write("service", "s_web", "create"),
              _write("service", "s_api", "create")]
    assert describe_deploy("s", writes) == "create 2 services, 1 network"


def test_describe_an_update_names_the_service_and_what_changed() -> None:
    web = NS(kind="service", name="s_web", action="update",
             changes=[NS(path="TaskTemplate.ContainerSpec.Image"), NS(path="UpdateConfig.Delay")])
    writes = [_write("service", "s_web", "update"), _write("service", "s_new", "create")]
    text = describe_deploy("s", writes, _plan(web), {"s_web": "lab/busybox:2"})
    assert text == "create 1 service; update web (image lab/busybox:2, update_config)"


def test_describe_prefers_compose_paths_and_puts_the_note_first() -> None:
    web = NS(kind="service", name="s_web", action="update",
             changes=[NS(path="UpdateConfig.Delay", compose_path="deploy.update_config.delay"),
                      NS(path="TaskTemplate.ContainerSpec.Env", compose_path="environment.LEVEL")])
    text = describe_deploy("s", [_write("service", "s_web", "update"), _write("service", "s_old", "remove")],
                           _plan(web), note="rollback to 3")
    assert text == "rollback to 3: update web (deploy.update_config, environment); remove old"


def test_describe_stays_one_short_line() -> None:
    writes = [_write("service", f"s_svc{i}", "update") for i in range(40)]
    assert describe_deploy("s", writes) == "update 40 services"
    many = [_write("service", "s_" + "x" * 60 + str(i), "remove") for i in range(3)]
    text = describe_deploy("s", many)
    assert len(text) <= DESCRIPTION_MAX and text.endswith("…") and "\n" not in text


def test_diff_scalars_by_compose_key_in_the_file_units() -> None:
    old = {"services": {"web": {"deploy": {"update_config": {"delay": "2s"}},
                                "environment": {"LEVEL": "info"}}}}
    new = {"services": {"web": {"deploy": {"update_config": {"delay": "5s"}, "resources": {"limits": {
        "memory": "64M"}}}, "environment": {"LEVEL": "debug"}}}}
    texts = [c.text() for c in diff_configs(old, new)]
    assert texts == ["~ services.web.deploy.update_config.delay: 2s → 5s",
                     "+ services.web.deploy.resources: {\"limits\": {\"memory\": \"64M\"}}",
                     "~ services.web.environment.LEVEL: info → debug"]


def test_diff_lists_element_by_element() -> None:
    old = {"command": ["sleep", "86400"], "constraints": ["node.role==manager", "node.labels.a==1"]}
    new = {"command": ["sleep", "99999"], "constraints": ["node.role==manager", "node.os==linux",
                                                          "node.labels.a==1"]}
    changes = diff_configs(old, new)
    assert [(c.path, c.change, c.old, c.new) for c in changes] == [
        ("command[1]", CHANGED, "86400", "99999"),
        ("constraints[1]", ADDED, None, "node.os==linux"),
    ]


def test_diff_list_of_mappings_recurses_and_reports_removed_keys() -> None:
    old = {"ports": [{"target": 80, "published": 8080}], "gone": True}
    new = {"ports": [{"target": 80, "published": 8081}]}
    changes = diff_configs(old, new)
    assert [c.text() for c in changes] == ["~ ports[0].published: 8080 → 8081", "- gone: true"]
    assert changes[1].change == REMOVED and changes[1].to_json() == {
        "path": "gone", "change": "removed", "old": True, "new": None}


def test_diff_equal_configs_is_empty_and_type_changes_count() -> None:
    cfg = {"services": {"web": {"image": "x", "deploy": {"replicas": 1}}}}
    assert diff_configs(cfg, cfg) == []
    assert [c.text() for c in diff_configs({"a": 1}, {"a": "1"})] == ["~ a: 1 → 1"]


def test_key_path_quotes_keys_with_dots_and_format_value() -> None:
    assert key_path(("services", "web", "labels", "com.example.x")) == 'services.web.labels["com.example.x"]'
    assert key_path(("services", "web", "ports", 0, "target")) == "services.web.ports[0].target"
    assert format_value(None) == "(none)" and format_value(False) == "false" and format_value("") == '""'
    assert format_value(["a", 1]) == '["a", 1]'


def test_history_max_hides_older_revisions_at_once_and_removes_them_in_batches() -> None:
    from stackctl.history import PRUNE_SLACK, get_revision, list_revisions, record_revision
    from tests.unit.fake_engine import FakeEngine

    engine = FakeEngine()
    config = {"services": {"web": {"image": "busybox"}}}
    removals = []
    for n in range(1, 2 + 2 + PRUNE_SLACK + 1):
        before = len(engine.store["config"])
        assert record_revision(engine, "shop", config, {}, keep=2) == n
        shown = [r.revision for r in list_revisions(engine, "shop")]
        assert shown == list(range(max(1, n - 1), n + 1))  # --history-max 2: always the newest two
        removals.append(before + 1 - len(engine.store["config"]))
    # one deploy in PRUNE_SLACK + 1 removes what piled up; the others write their revision only
    assert removals == [0] * 7 + [PRUNE_SLACK + 1, 0], removals
    assert [r.revision for r in list_revisions(engine, "shop")] == [8, 9]
    with pytest.raises(HistoryError, match="has no revision 3 .recorded: 8, 9."):
        get_revision(engine, "shop", 3)
    record_revision(engine, "shop", config, {}, keep=0)  # 0: no limit, every stored revision shows
    assert [r.revision for r in list_revisions(engine, "shop")] == [7, 8, 9, 10]


def test_images_are_stored_as_written_with_what_was_sent_beside_and_only_pins_show() -> None:
    from stackctl.history import _images_of, get_revision, pin_changes, record_revision
    from tests.unit.fake_engine import FakeEngine

    engine = FakeEngine()
    config = {"services": {"api": {"image": "lab/busybox"}, "web": {"image": "lab/busybox:1"}}}
    record_revision(engine, "s", config, {"s_api": "lab/busybox:latest", "s_web": "lab/busybox:1@sha256:a"})
    record_revision(engine, "s", config, {"s_web": "lab/busybox:1@sha256:b"})  # api untouched
    one, two = get_revision(engine, "s", 1), get_revision(engine, "s", 2)
    assert one.images == two.images == {"s_api": "lab/busybox", "s_web": "lab/busybox:1"}
    assert one.sent == {"s_api": "lab/busybox:latest", "s_web": "lab/busybox:1@sha256:a"}
    assert two.sent == {"s_web": "lab/busybox:1@sha256:b"}
    # api was not written by revision 2: nothing to compare; web's tag moved: one pin change
    assert pin_changes(one, two) == [("s_web", "lab/busybox:1@sha256:a", "lab/busybox:1@sha256:b")]
    # a revision recorded before `sent` existed: its mixed map is what was sent
    old = _images_of({"stack": "s", "config": config, "images": {"s_api": "lab/busybox:latest"}})
    assert old == {"images": {"s_api": "lab/busybox", "s_web": "lab/busybox:1"},
                   "sent": {"s_api": "lab/busybox:latest"}}
