"""What the registry said about a service's image, as plan data: a moved tag, a missing image.

The deploy service layer asks the registry (through the gateway, `stackctl/resolve.py`) before
planning and hands the answers in as `RegistryAnswer`s keyed by `image_key`; the plan stays
pure. A tag whose registry digest differs from the digest the service is pinned to
(`name:tag@sha256:…` in its spec) is an image change; an image the registry says does not
exist stops the deploy before any write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.errors import Diagnostic
from stackctl.images import normalize_image, pinned_digest, spec_image, split_image, strip_digest
from stackctl.load.source import SourceDoc, locate
from stackctl.plan.model import CREATE, UPDATE, Action, FieldChange, Plan

IMAGE_PATH = "TaskTemplate.ContainerSpec.Image"


@dataclass(frozen=True)
class RegistryAnswer:
    """One registry lookup: the digest, or why there is none."""

    image: str  # as looked up: `name:tag`
    digest: str | None = None  # `sha256:…`
    missing: bool = False  # the registry says this image or tag does not exist
    needs_auth: bool = False  # the registry refused an anonymous lookup (credentials needed)
    reason: str = ""  # the engine's words when there is no digest

    @property
    def pinned(self) -> str | None:
        return f"{self.image}@{self.digest}" if self.digest else None


def image_key(image: str) -> str | None:
    """The `name:tag` a registry is asked about; None for an image pinned in the file already."""
    image = normalize_image(image)
    ref = split_image(image)
    if ref is None or ref.digest is not None:
        return None
    return image


def note_moved_tag(act: Action, spec: Mapping[str, Any], answers: Mapping[str, RegistryAnswer]) -> None:
    """A service pinned to `name:tag@OLD` whose tag the registry now resolves to NEW: an `image`
    change (old → new digest), so that diff shows it and deploy rolls it out."""
    key = image_key(spec_image(spec))
    answer = answers.get(key) if key else None
    current = spec_image(act.current)
    old = pinned_digest(current)
    if answer is None or not answer.digest or not old or old == answer.digest:
        return
    if strip_digest(normalize_image(current)) != answer.image:
        return  # the tag itself changed: the plan shows that change already
    act.image_changed = True
    act.changes.append(FieldChange(IMAGE_PATH, current, answer.pinned))


def check_missing(plan: Plan, act: Action, spec: Mapping[str, Any], short: str,
                  answers: Mapping[str, RegistryAnswer], sources: Sequence[SourceDoc] | None) -> None:
    """An image the registry says does not exist blocks the deploy when the service is written."""
    key = image_key(spec_image(spec))
    answer = answers.get(key) if key else None
    if answer is None or not answer.missing or act.action not in (CREATE, UPDATE):
        return
    file, line = locate(sources or (), ("services", short, "image")) if sources else (None, None)
    plan.errors.append(Diagnostic(
        f"image {answer.image} of service {short} does not exist in its registry ({answer.reason})",
        file=file, line=line, path=f"services.{short}.image",
        hint="push the image, or fix its name or tag"))
