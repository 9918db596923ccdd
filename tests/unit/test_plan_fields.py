"""plan/fields.py and plan/digests.py: field-level differences and the digests plans show."""

from __future__ import annotations

from stackctl.observe import ObservedStack
from stackctl.plan.digests import content_digest, short_digest, spec_digest
from stackctl.plan.fields import field_changes, normalize_service, path_parts, value_at


def test_scalar_lists_are_reported_whole_and_parents_hide_children() -> None:
    old = {"Env": ["A=1", "B=2"], "Mode": {"Replicated": {"Replicas": 1}}, "Labels": {"a": "1"}}
    new = {"Env": ["A=1", "B=3"], "Mode": {"Global": {}}, "Labels": {"a": "1"}}
    changes = {c.path: (c.old, c.new) for c in field_changes(old, new)}
    assert changes["Env"] == (["A=1", "B=2"], ["A=1", "B=3"])
    assert not any(p.startswith("Env[") for p in changes)
    assert field_changes(old, old) == []


def test_paths_round_trip() -> None:
    spec = {"TaskTemplate": {"ContainerSpec": {"Mounts": [{"Source": "a"}, {"Source": "b"}]}}}
    parts = path_parts("TaskTemplate.ContainerSpec.Mounts[1].Source")
    assert parts == ["TaskTemplate", "ContainerSpec", "Mounts", 1, "Source"]
    assert value_at(spec, parts) == "b"
    assert value_at(spec, ["TaskTemplate", "Nope", 3]) is None


def test_normalize_service_uses_the_observed_network_ids_and_api_version() -> None:
    observed = ObservedStack(stack="s", network_names={"n123": "s_default"}, api_version="1.41")
    engine = {"TaskTemplate": {"Networks": [{"Target": "n123"}],
                               "ContainerSpec": {"Image": "busybox",
                                                 "Healthcheck": {"Test": ["CMD", "true"]}}}}
    ours = {"TaskTemplate": {"Networks": [{"Target": "s_default"}],
                             "ContainerSpec": {"Image": "busybox:latest",
                                               "Healthcheck": {"Test": ["CMD", "true"], "StartInterval": 1}}}}
    assert normalize_service(engine, observed) == normalize_service(ours, observed)


def test_digests() -> None:
    assert content_digest({"Data": "aGVsbG8="}) == content_digest({"Data": b"hello"})
    assert content_digest({}) is None
    assert short_digest("sha256:" + "ab" * 32) == "sha256:abababababab"
    assert spec_digest({"b": 1, "a": 2}) == spec_digest({"a": 2, "b": 1})
