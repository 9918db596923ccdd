"""stackctl/images.py: the one image reference grammar, strip_digest, and the image of a spec."""

from __future__ import annotations

import pytest

from stackctl.images import (
    ImageRef,
    has_digest,
    image_problem,
    normalize_image,
    pinned_digest,
    spec_image,
    split_image,
    strip_digest,
    task_image,
)

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


@pytest.mark.parametrize(
    ("image", "normal"),
    [
        ("nginx", "nginx:latest"),
        ("nginx:1.25", "nginx:1.25"),
        ("dockersamples/visualizer:stable", "dockersamples/visualizer:stable"),
        ("docker.io/library/busybox", "busybox:latest"),
        ("index.docker.io/prom/prometheus", "prom/prometheus:latest"),
        ("quay.io/prometheus/node-exporter", "quay.io/prometheus/node-exporter:latest"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("busybox@sha256:" + "a" * 64, "busybox@sha256:" + "a" * 64),
        ("redis:7@sha256:" + "b" * 64, "redis:7@sha256:" + "b" * 64),
        ("Not/Valid", "Not/Valid"),
    ],
)
def test_normalize_image_like_the_go_client(image: str, normal: str) -> None:
    assert normalize_image(image) == normal


def test_strip_digest_keeps_digest_only_references() -> None:
    assert strip_digest("redis:7@sha256:" + "b" * 64) == "redis:7"
    assert strip_digest("busybox@sha256:" + "a" * 64) == "busybox@sha256:" + "a" * 64


@pytest.mark.parametrize(("image", "shown"), [
    # the reference's IMAGE (docker service ps/ls): a tagged reference loses its digest, familiar
    (f"registry:5000/a/b:tag@{A}", "registry:5000/a/b:tag"),
    (f"redis:7@{B}", "redis:7"),
    (f"docker.io/library/busybox:1@{A}", "busybox:1"),
    ("docker.io/library/busybox:1", "busybox:1"),
    # nothing but a digest: kept whole (the old ps copy cut it to `a`, which reads as a:latest)
    (f"a@{A}", f"a@{A}"),
    (f"localhost:5000/x@{A}", f"localhost:5000/x@{A}"),
    # nothing to strip, or not a reference: as it is
    ("localhost:5000/x", "localhost:5000/x"),
    ("busybox:latest", "busybox:latest"),
    ("Not/Valid@" + A, "Not/Valid@" + A),
])
def test_strip_digest_as_the_reference_shows_images(image: str, shown: str) -> None:
    assert strip_digest(image) == shown


def test_split_image_parts() -> None:
    assert split_image(f"registry:5000/a/b:tag@{A}") == ImageRef("registry:5000", "a/b", "tag", A)
    assert split_image(f"a@{A}") == ImageRef("docker.io", "library/a", None, A)
    assert split_image("localhost:5000/x") == ImageRef("localhost:5000", "x", None, None)
    assert split_image("localhost:5000") == ImageRef("docker.io", "library/localhost", "5000", None)
    assert split_image("UPPER") is None and split_image("a" * 64 + "@x") is None


def test_pins() -> None:
    assert pinned_digest(f"registry:5000/a/b:tag@{A}") == A
    assert pinned_digest(f"a@{A}") is None and pinned_digest("a:1") is None and pinned_digest("") is None
    assert has_digest(f"a@{A}") and has_digest(f"a:1@{A}") and not has_digest("localhost:5000/x")


def test_the_image_of_a_spec() -> None:
    spec = {"TaskTemplate": {"ContainerSpec": {"Image": "busybox:1"}}}
    assert spec_image(spec) == "busybox:1" and task_image(spec["TaskTemplate"]) == "busybox:1"
    assert spec_image(None) == spec_image({}) == spec_image({"TaskTemplate": None}) == ""
    assert task_image({"ContainerSpec": {"Image": None}}) == ""


@pytest.mark.parametrize("image", ["nginx", "nginx:1.25-alpine", "docker.io/library/nginx:latest",
                                   "localhost:5000/a/b:c", "busybox@sha256:" + "a" * 64, "a" * 64,
                                   "my-registry.example.com/team/app_x:v1.2.3"])
def test_valid_images(image: str) -> None:
    assert image_problem(image) is None


@pytest.mark.parametrize("image", ["nginx:", ":latest", "nginx::1", "a//b", "UPPER", "na me"])
def test_invalid_images(image: str) -> None:
    assert image_problem(image)


def test_the_grammar_is_one_for_validate_and_convert() -> None:
    """What validate accepts, convert parses (image IDs aside: the engine takes them as they are)."""
    valid = ["nginx", "localhost:5000/a/b:c", f"busybox@{A}", f"r:5000/a/b:t@{A}", "a_b/c:d", "d_o.io/p/q"]
    for image in valid:
        assert image_problem(image) is None and split_image(image) is not None
    for image in ["nginx:", ":latest", "a//b", "UPPER", "na me"]:
        assert image_problem(image) and split_image(image) is None
