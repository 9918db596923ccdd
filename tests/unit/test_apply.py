"""Deploy output wording that needs no engine: one registry warning for every unpinned image."""

from __future__ import annotations

from stackctl.resolve import ImageResolver


def test_one_registry_warning_line_for_all_images() -> None:
    resolver = ImageResolver(None, credentials=lambda image: None)  # type: ignore[arg-type]
    assert resolver.warning() is None
    for image in ["busybox:latest", "nginx:1.27", "busybox:latest", "redis:7"]:
        resolver.note_unresolved(image)
    text = resolver.warning()
    assert text is not None and "\n" not in text
    assert text.startswith("warning: 3 images could not be accessed on a registry")
    assert "(busybox:latest, nginx:1.27, redis:7)" in text


def test_a_single_image_keeps_the_singular_wording() -> None:
    resolver = ImageResolver(None, credentials=lambda image: None)  # type: ignore[arg-type]
    resolver.note_unresolved("busybox:latest")
    assert resolver.warning() == (
        "warning: image busybox:latest could not be accessed on a registry to record its digest; "
        "each node uses its own copy, which may differ between nodes")
