"""Value formats of stack files as the Engine API wants them: durations, sizes, CPUs, images.

Each parser raises `ValueError` with a user-facing message; the converter turns it into a
diagnostic carrying the key path.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

_DURATION_UNITS_NS: dict[str, Fraction] = {
    "ns": Fraction(1),
    "us": Fraction(1_000),
    "µs": Fraction(1_000),  # U+00B5 micro sign
    "μs": Fraction(1_000),  # U+03BC greek mu
    "ms": Fraction(1_000_000),
    "s": Fraction(1_000_000_000),
    "m": Fraction(60_000_000_000),
    "h": Fraction(3_600_000_000_000),
}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(value: Any) -> int:
    """Go `time.ParseDuration` semantics, in nanoseconds: `1m30s`, `1.5s`, `-2h`, `0`.

    An int is taken as nanoseconds already (a converted spec fed back in).
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text in ("0", "+0", "-0"):
        return 0
    sign = 1
    body = text
    if body and body[0] in "+-":
        sign = -1 if body[0] == "-" else 1
        body = body[1:]
    if not body:
        raise ValueError(f'invalid duration "{text}"')
    pos = 0
    total = Fraction(0)
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if not match:
            if re.match(r"(\d+\.?\d*|\.\d+)$", body[pos:]):
                raise ValueError(f'missing unit in duration "{text}"')
            raise ValueError(f'invalid duration "{text}"')
        total += Fraction(match.group(1)) * _DURATION_UNITS_NS[match.group(2)]
        pos = match.end()
    return sign * int(total)  # Go truncates fractional nanoseconds


_SIZE = re.compile(r"^(\d+(?:\.\d+)?|\.\d+) ?([kmgtp]?)(b|ib)?$", re.IGNORECASE)
_SIZE_NUMBER = re.compile(r"^(\d+(?:\.\d+)?|\.\d+)")
_SIZE_FACTORS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_bytes(value: Any) -> int:
    """go-units `RAMInBytes`: `512m`, `1.5g`, `10MB` (always base 1024), or a plain byte count."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size: '{value}'")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    text = str(value).strip()
    match = _SIZE.match(text)
    if not match:
        number = _SIZE_NUMBER.match(text)
        if not number:
            raise ValueError(f"invalid size: '{text}'")
        raise ValueError(f"invalid suffix: '{text[number.end() :].strip()}'")
    return int(Fraction(match.group(1)) * _SIZE_FACTORS[match.group(2).lower()])


def parse_cpus(value: Any) -> int:
    """A decimal CPU count (`"0.5"`) in NanoCPUs; more than 9 decimals is an error, as in the CLI."""
    text = str(value).strip()
    try:
        amount = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f'invalid cpus value "{text}"') from None
    nano = amount * 1_000_000_000
    if nano.denominator != 1:
        raise ValueError(f'invalid cpus value "{text}": value is too precise')
    return int(nano)


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
