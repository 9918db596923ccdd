"""The words of the revision history: what a deploy did in one line (`describe_deploy`), and where a
revision came from (`describe_git`, `describe_ci`). Pure: history.py stores what these say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from stackctl.history import _one_line
from stackctl.model.compose import compose_key
from stackctl.names import descope

if TYPE_CHECKING:
    from stackctl.plan.model import Plan


class Write(Protocol):
    """One write of a deploy (apply's AppliedObject): its kind, name and action."""

    @property
    def kind(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def action(self) -> str: ...


def describe_git(git: Mapping[str, str]) -> str:
    """`git 1a2b3c4d5e6f "Bump web to 1.2" (Ann)`; "" for a revision not deployed from git."""
    if not git or not git.get("commit"):
        return ""
    subject = f' "{git["subject"]}"' if git.get("subject") else ""
    author = f" ({git['author']})" if git.get("author") else ""
    return f"git {git['commit'][:12]}{subject}{author}"


def describe_ci(ci: Mapping[str, str]) -> str:
    """`github-actions run 123`, `gitlab job 77`, `jenkins build 9`, `ci`; "" outside CI."""
    if not ci:
        return ""
    for key in ("run", "job", "build", "pipeline"):
        if ci.get(key):
            return f"{ci.get('system', 'ci')} {key} {ci[key]}"
    return ci.get("system", "ci")



_PLURAL = {"service": "services", "network": "networks", "secret": "secrets", "config": "configs"}

def describe_deploy(stack: str, writes: Sequence[Write], plan: Plan | None = None,
                    images: Mapping[str, str] | None = None, note: str = "") -> str:
    """One line saying what a deploy did: `create 2 services, 1 network; update web (image x:2)`.

    `writes`: what was written (objects with kind, name, action: ApplyResult's created/updated/removed);
    `plan`: for what changed in each updated service (its actions' changes, compose path when known);
    `images`: the image sent per service. `note` ("rollback to 3") comes first.
    """
    changed: dict[str, list[str]] = {}
    for act in getattr(plan, "actions", None) or []:
        if act.kind == "service":
            words: list[str] = []
            for ch in getattr(act, "compose", None) or act.changes:  # compose terms when the plan has them
                compose = getattr(ch, "compose_path", None)
                word = str(compose).split(".")[0] if compose else _detail(ch.path)
                if compose and word == "deploy":
                    word = ".".join(str(compose).split(".")[:2])
                if word not in words:
                    words.append(word)
            changed[act.name] = words
    parts: list[str] = []
    for verb in ("create", "update", "remove"):
        mine = [w for w in writes if w.action == verb]
        if not mine:
            continue
        items: list[str] = []
        services = [w for w in mine if w.kind == "service"]
        if verb == "create" or len(services) > 3:
            if services:
                items.append(f"{len(services)} {'service' if len(services) == 1 else 'services'}")
        else:
            for w in services:
                words = changed.get(w.name, [])
                shown = [f"image {(images or {}).get(w.name, '')}".strip() if x == "image" else x
                         for x in words[:3]]
                more = f", +{len(words) - 3}" if len(words) > 3 else ""
                detail = f" ({', '.join(shown)}{more})" if shown else ""
                items.append(descope(stack, w.name) + detail)
        for kind in ("network", "secret", "config"):
            n = sum(1 for w in mine if w.kind == kind)
            if n:
                items.append(f"{n} {kind if n == 1 else _PLURAL[kind]}")
        parts.append(f"{verb} {', '.join(items)}")
    text = "; ".join(parts) or "no change"
    return _one_line(f"{note}: {text}" if note else text)


def _detail(path: str) -> str:
    """The compose word of an engine path (the compose field registry: `deploy.replicas` -> replicas),
    else the path's last word."""
    key = compose_key(path)
    if key is None:
        return path.split(".")[-1].split("[")[0]
    parts = key.split(".")
    return parts[1] if parts[0] == "deploy" and len(parts) > 1 else parts[0]
