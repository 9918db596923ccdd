"""Image references, in one place: the grammar `[DOMAIN/]PATH[:TAG][@DIGEST]` (the docker CLI's
distribution/reference), the checks `validate` makes, the familiar form `convert` sends, the
digest-less form plans compare and tables show, and where an engine spec holds its image.

A leaf module: every stage (validate, convert, plan, apply, render, the troubleshooting
commands) reads image references through it and it imports nothing of stackctl.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NamedTuple

DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAIN = "index.docker.io"
_OFFICIAL = "library/"
MAX_NAME = 255  # reference.NameTotalLengthMax

_NAME_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
REFERENCE = re.compile(
    rf"^(?P<name>(?:{_DOMAIN}/)?{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$"
)
_IMAGE_ID = re.compile(r"^(?:sha256:)?[a-f0-9]{64}$")


class ImageRef(NamedTuple):
    """A parsed reference: `docker.io`/`library/busybox`/`1.36`/None for `busybox:1.36`."""

    domain: str
    path: str
    tag: str | None
    digest: str | None  # `sha256:…`

    @property
    def familiar_name(self) -> str:
        """The name as people write it: `busybox`, `me/app`, `registry:5000/a/b`."""
        if self.domain != DEFAULT_DOMAIN:
            return f"{self.domain}/{self.path}"
        official = self.path.startswith(_OFFICIAL) and self.path.count("/") == 1
        return self.path[len(_OFFICIAL):] if official else self.path


def split_image(image: str) -> ImageRef | None:
    """The parts of a reference (domain and path normalised: `docker.io`, `library/x`), or None
    when it does not parse (an image ID, upper case in the repository, a bad tag or digest)."""
    match = REFERENCE.match(image)
    if match is None:
        return None
    name = match.group("name")
    first, _, remainder = name.partition("/")
    # reference.splitDockerDomain: the first component is a registry only if it looks like one
    if remainder and (any(c in first for c in ".:") or first == "localhost" or first.lower() != first):
        domain, path = first, remainder
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == _LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = _OFFICIAL + path
    return ImageRef(domain, path, match.group("tag"), match.group("digest"))


def image_problem(image: str) -> str | None:
    """Why `image` is not a valid image reference, or None (as reference.ParseAnyReference)."""
    if _IMAGE_ID.match(image):
        return None
    match = REFERENCE.match(image)
    if not match:
        if image != image.lower() and REFERENCE.match(_lower_repository(image)):
            return "repository name must be lowercase"
        return "invalid reference format"
    if len(match.group("name")) > MAX_NAME:
        return f"repository name must not be more than {MAX_NAME} characters"
    return None


def _lower_repository(image: str) -> str:
    name, sep, rest = image.partition("@")
    head, colon, tag = name.rpartition(":")
    if colon and "/" not in tag:
        return head.lower() + ":" + tag + sep + rest
    return name.lower() + sep + rest


def normalize_image(image: str) -> str:
    """The familiar `name:tag` form the Go client sends: `nginx` → `nginx:latest`.

    A digest-only reference keeps its digest and gets no tag; an unparseable reference is
    returned unchanged (the client does the same and lets the engine complain).
    """
    ref = split_image(image)
    if ref is None:
        return image
    tag = "latest" if ref.tag is None and ref.digest is None else ref.tag
    out = ref.familiar_name
    if tag is not None:
        out += f":{tag}"
    if ref.digest is not None:
        out += f"@{ref.digest}"
    return out


def strip_digest(image: str) -> str:
    """`registry:5000/a/b:tag@sha256:…` → `registry:5000/a/b:tag`: a tagged reference without its
    digest, in its familiar form (what plans compare, and the IMAGE that `docker service ps|ls`
    print). A reference without a tag is kept whole: `a@sha256:…` has nothing but its digest, and
    `localhost:5000/x` nothing to strip; so is one that does not parse."""
    ref = split_image(image)
    if ref is None or ref.tag is None:
        return image
    return f"{ref.familiar_name}:{ref.tag}"


def pinned_digest(image: str) -> str | None:
    """The digest of a `name:tag@sha256:…` image (None when it has no tag or no digest)."""
    ref = split_image(image) if image else None
    if ref is None or ref.tag is None:
        return None
    return ref.digest


def has_digest(image: str) -> bool:
    """Whether the reference names its content (`…@sha256:…`, with or without a tag)."""
    ref = split_image(image)
    return ref is not None and ref.digest is not None


# --- where an engine spec holds its image ---------------------------------------------------------


def _part(data: Mapping[str, object] | None, key: str) -> Mapping[str, object]:
    value = (data or {}).get(key)
    return value if isinstance(value, Mapping) else {}


def task_image(task_spec: Mapping[str, object] | None) -> str:
    """The image of a TaskSpec (a task's `Spec`, a service's `TaskTemplate`): "" when there is none."""
    image = _part(task_spec, "ContainerSpec").get("Image")
    return str(image) if image else ""


def spec_image(service_spec: Mapping[str, object] | None) -> str:
    """The image of a ServiceSpec (`TaskTemplate.ContainerSpec.Image`): "" when there is none."""
    return task_image(_part(service_spec, "TaskTemplate"))
