"""names.py: every label key and object name once, the reference's labels verbatim."""

from __future__ import annotations

from stackctl import names


def test_reference_labels_are_the_docker_cli_ones() -> None:
    assert names.NAMESPACE_LABEL == "com.docker.stack.namespace"
    assert names.IMAGE_LABEL == "com.docker.stack.image"


def test_every_label_is_distinct_and_stackctl_labels_share_the_prefix() -> None:
    labels = {k: v for k, v in vars(names).items() if k.endswith("_LABEL")}
    assert len(set(labels.values())) == len(labels)
    own = [v for k, v in labels.items() if k not in ("NAMESPACE_LABEL", "IMAGE_LABEL")]
    assert own and all(v.startswith(names.STACKCTL_LABEL_PREFIX) for v in own)


def test_user_labels_drop_only_stackctl_bookkeeping() -> None:
    labels = {names.SPEC_DIGEST_LABEL: "sha256:x", names.NAMESPACE_LABEL: "st", "team": ""}
    assert names.user_labels(labels) == {names.NAMESPACE_LABEL: "st", "team": ""}
    assert names.user_labels(None) == {}
