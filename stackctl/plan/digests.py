"""Digests that stand for content: secret/config data (never shown) and normalised service specs."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any


def data_bytes(spec: Mapping[str, Any]) -> bytes | None:
    """The Data of a secret/config spec (base64 in the API JSON) as bytes."""
    data = spec.get("Data")
    if data is None:
        return None
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    try:
        return base64.b64decode(str(data), validate=True)
    except ValueError:
        return str(data).encode()


def content_digest(spec: Mapping[str, Any]) -> str | None:
    """sha256 of a secret's/config's data: what plans show instead of the value."""
    data = data_bytes(spec)
    if data is None:
        return None
    return "sha256:" + hashlib.sha256(data).hexdigest()


def short_digest(digest: str) -> str:
    """`sha256:` plus the first 12 hex characters."""
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}" if hexpart else digest[:12]


def spec_digest(normalized: Mapping[str, Any]) -> str:
    """Digest of a normalised service spec (canonical JSON)."""
    text = json.dumps(normalized, sort_keys=True, separators=(",", ":"), default=str)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
