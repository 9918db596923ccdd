"""Webhook receivers: signature checks and push parsing for GitHub, Gitea and GitLab (pure).

- GitHub: `X-Hub-Signature-256: sha256=HEX`, HMAC-SHA256 of the body with the shared secret;
  delivery id `X-GitHub-Delivery`, event `X-GitHub-Event`.
- Gitea (and Forgejo): `X-Gitea-Signature: HEX`, HMAC-SHA256 of the body; `X-Gitea-Delivery`,
  `X-Gitea-Event`.
- GitLab: `X-Gitlab-Token: SECRET` (the secret itself); `X-Gitlab-Event-UUID`, `X-Gitlab-Event`.
Every comparison is constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

MAX_BODY = 1024 * 1024  # 1 MiB: larger bodies get 413 and are not read further
PROVIDERS = ("github", "gitea", "gitlab")
_DELIVERY = {"github": "x-github-delivery", "gitea": "x-gitea-delivery", "gitlab": "x-gitlab-event-uuid"}
_EVENT = {"github": "x-github-event", "gitea": "x-gitea-event", "gitlab": "x-gitlab-event"}
_PUSH_EVENTS = {"push", "push hook", "tag push hook"}


def signature_ok(provider: str, headers: Mapping[str, str], body: bytes, secret: bytes) -> bool:
    """Is the request signed with `secret`? (`headers` keys in lower case.)"""
    if not secret:
        return False
    if provider == "gitlab":
        token = headers.get("x-gitlab-token", "")
        return bool(token) and hmac.compare_digest(token.encode(), secret)
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if provider == "github":
        given = headers.get("x-hub-signature-256", "")
        if not given.startswith("sha256="):
            return False
        given = given[len("sha256=") :]
    elif provider == "gitea":
        given = headers.get("x-gitea-signature", "")
    else:
        return False
    return bool(given) and hmac.compare_digest(given.strip().lower().encode(), digest.encode())


def sign(provider: str, body: bytes, secret: bytes) -> dict[str, str]:
    """The headers a sender would add (tests, docs)."""
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if provider == "github":
        return {"X-Hub-Signature-256": "sha256=" + digest}
    if provider == "gitea":
        return {"X-Gitea-Signature": digest}
    return {"X-Gitlab-Token": secret.decode()}


@dataclass(frozen=True)
class Push:
    event: str  # "push", or another event (ping...) that is acknowledged and ignored
    ref: str  # refs/heads/main
    delivery: str
    after: str = ""

    @property
    def is_push(self) -> bool:
        return self.event.lower() in _PUSH_EVENTS


class BadPayload(ValueError):
    """The body is not the JSON push event it claims to be."""


def parse_push(provider: str, headers: Mapping[str, str], body: bytes) -> Push:
    event = headers.get(_EVENT[provider], "")
    delivery = headers.get(_DELIVERY[provider], "") or headers.get("idempotency-key", "")
    try:
        doc = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as err:
        raise BadPayload(f"the body is not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise BadPayload("the body is not a JSON object")
    if not event and "ref" in doc:
        event = "push"
    ref = doc.get("ref", "")
    if event.lower() in _PUSH_EVENTS and not isinstance(ref, str):
        raise BadPayload("ref is not a string")
    after = doc.get("after") or doc.get("checkout_sha") or ""
    return Push(event, ref if isinstance(ref, str) else "", delivery, after if isinstance(after, str) else "")


class Deliveries:
    """Delivery ids seen lately: a repeated delivery is ignored (bounded memory)."""

    def __init__(self, size: int = 1000) -> None:
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def first_time(self, delivery: str) -> bool:
        if not delivery:
            return True
        with self._lock:
            if delivery in self._seen:
                return False
            self._seen[delivery] = None
            while len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return True
