"""Values as the Engine API wants them: Go strings and image references (durations, sizes, CPUs:
stackctl.units).

Each parser raises `ValueError` with a user-facing message; the converter turns it into a
diagnostic carrying the key path.
"""

from __future__ import annotations

import re
from typing import Any


def go_string(value: Any) -> str:
    """How a YAML scalar reads as a Go string (`true`, `1.5`, `42`), for labels, options, env."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# --- image references -------------------------------------------------------------------------

_DEFAULT_DOMAIN = "docker.io"
_LEGACY_DOMAIN = "index.docker.io"
_NAME_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_LABEL = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_DOMAIN = rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:.]+\])(?::\d+)?"
_PATH = re.compile(rf"^{_NAME_COMPONENT}(?:/{_NAME_COMPONENT})*$")
_DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")


def split_image(image: str) -> tuple[str, str, str | None, str | None] | None:
    """(domain, path, tag, digest) of a normalised reference, or None when it does not parse."""
    rest, digest = image, None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            return None
    tag = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG.match(tag):
            return None
    first, _, remainder = rest.partition("/")
    if remainder and (any(c in first for c in ".:") or first == "localhost" or first.lower() != first):
        domain, path = first, remainder
    else:
        domain, path = _DEFAULT_DOMAIN, rest
    if domain == _LEGACY_DOMAIN:
        domain = _DEFAULT_DOMAIN
    if domain == _DEFAULT_DOMAIN and "/" not in path:
        path = "library/" + path
    if not _DOMAIN_RE.match(domain) or not _PATH.match(path):
        return None
    return domain, path, tag, digest


def normalize_image(image: str) -> str:
    """The familiar `name:tag` form the Go client sends: `nginx` → `nginx:latest`.

    A digest-only reference keeps its digest and gets no tag; an unparseable reference is
    returned unchanged (the client does the same and lets the engine complain).
    """
    parts = split_image(image)
    if parts is None:
        return image
    domain, path, tag, digest = parts
    if tag is None and digest is None:
        tag = "latest"
    if domain == _DEFAULT_DOMAIN:
        name = path[len("library/") :] if path.startswith("library/") and path.count("/") == 1 else path
    else:
        name = f"{domain}/{path}"
    if tag is not None:
        name += f":{tag}"
    if digest is not None:
        name += f"@{digest}"
    return name


def strip_digest(image: str) -> str:
    """`name:tag@sha256:…` → `name:tag`; a digest-only reference is kept (it has nothing else)."""
    parts = split_image(image)
    if parts is None or parts[2] is None or parts[3] is None:
        return image
    return image.rsplit("@", 1)[0]
