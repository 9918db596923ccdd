"""Secrets and configs: the swarm cannot change their data, so new content is a new version.

The services switch to the version (same path in the containers); old versions stay for
rollback until apply's garbage collection (docs/rotation.md): `old_versions` decides which of them
go (a pure function: the executor's `collect_old_versions` only removes what it names).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from stackctl.convert.normalize_spec import prune_empty
from stackctl.errors import Diagnostic
from stackctl.names import CONTENT_DIGEST_LABEL, OBJECT_LABEL, user_labels
from stackctl.observe import ObservedObject, ObservedStack
from stackctl.plan.digests import content_digest, short_digest
from stackctl.plan.fields import field_changes
from stackctl.plan.model import CREATE, REMOVE, UNCHANGED, UPDATE, Action, FieldChange, Plan, short_name

DEFAULT_KEEP_VERSIONS = 2  # unused versions of a rotated secret/config kept for rollback


def _object(value: object) -> Mapping[str, object]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _file_refs(spec: Mapping[str, object], kind: str) -> Iterator[tuple[str, str]]:
    """(name, ID) of each secret/config a service spec mounts ("" where the spec gives none); a
    config may also be the credential spec's."""
    key, name_key, id_key = ("Secrets", "SecretName", "SecretID") if kind == "secret" else \
        ("Configs", "ConfigName", "ConfigID")
    cs = _object(_object(spec.get("TaskTemplate")).get("ContainerSpec"))
    refs = cs.get(key)
    for ref in map(_object, refs if isinstance(refs, list) else []):
        yield _text(ref.get(name_key)), _text(ref.get(id_key))
    cred = _text(_object(_object(cs.get("Privileges")).get("CredentialSpec")).get("Config"))
    if kind == "config" and cred:
        yield cred, cred


def _referenced(services: Mapping[str, Mapping[str, object]], kind: str) -> dict[str, list[str]]:
    """Secret/config name → the services that mount it."""
    out: dict[str, list[str]] = {}
    for svc_name, spec in services.items():
        for name, _ in _file_refs(spec, kind):
            out.setdefault(name, []).append(svc_name)
    return out


def used_names(observed: ObservedStack, kind: str) -> set[str]:
    """Names of the secrets/configs some service on the swarm (any stack) references, by name or ID."""
    names = observed.secret_names if kind == "secret" else observed.config_names
    used: set[str] = set()
    for svc in [*observed.services.values(), *observed.other_services]:
        for name, ident in _file_refs(svc.spec, kind):
            used.update((name, names.get(ident, "")))
    used.discard("")
    return used


@dataclass(frozen=True)
class OldVersion:
    """A version of a rotated secret/config to remove: no service uses it, and it is older than the
    versions kept for rollback."""

    kind: str  # "secret" | "config"
    base: str  # the key's base name (what the file names)
    obj: ObservedObject


def old_versions(versions: Mapping[str, Mapping[str, str]], observed: ObservedStack, *,
                 keep: int = DEFAULT_KEEP_VERSIONS) -> list[OldVersion]:
    """The versions to remove after a deploy: for each key the plan chose a version of
    (`Plan.versions`: section → base name → version), those no service on the swarm uses, except
    the newest `keep` of them (kept so that `rollback` can point the services back), oldest first.
    Only the keys the file names are considered; a version some service uses is never named."""
    out: list[OldVersion] = []
    for kind, section in (("secret", "secrets"), ("config", "configs")):
        used = used_names(observed, kind)
        own = observed.secrets if kind == "secret" else observed.configs
        for base in sorted(versions.get(section) or {}):
            unused = [v for v in versions_of(base, own) if v.name not in used]  # oldest first
            out += [OldVersion(kind, base, obj) for obj in unused[: max(0, len(unused) - max(0, keep))]]
    return out


def object_digest(kind: str, obj: ObservedObject) -> str | None:
    """The content digest of an existing secret/config: configs show their data, secrets only
    the label stackctl put on them (None for a secret created without stackctl)."""
    have = content_digest(obj.spec) if kind == "config" else None
    return have or obj.labels.get(CONTENT_DIGEST_LABEL)


def base_name(obj: ObservedObject) -> str:
    """The base name a secret/config is a version of (its own name for a first version)."""
    return obj.labels.get(OBJECT_LABEL) or obj.name


def version_name(base: str, digest: str) -> str:
    """`STACK_key-<first 8 hex of the content sha256>`: the name of a later version."""
    return f"{base}-{digest.partition(':')[2][:8]}"


def versions_of(base: str, own: Mapping[str, ObservedObject]) -> list[ObservedObject]:
    """The stack's versions of one secret/config, oldest first."""
    found = [o for o in own.values() if o.name == base or o.labels.get(OBJECT_LABEL) == base]
    return sorted(found, key=lambda o: (o.created, o.name != base, o.name))


def repoint_services(services: Mapping[str, dict[str, Any]],
                     versions: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, Any]]:
    """Copies of the service specs whose secret/config references name the chosen versions.

    Only the object name changes: File.Name (the path inside the container) stays, so the
    application sees the new content where it read the old one.
    """
    secrets, configs = versions.get("secrets") or {}, versions.get("configs") or {}
    if not any(base != name for base, name in [*secrets.items(), *configs.items()]):
        return dict(services)
    out: dict[str, dict[str, Any]] = {}
    for svc_name, spec in services.items():
        spec = copy.deepcopy(spec)
        cs = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
        for ref in cs.get("Secrets") or []:
            ref["SecretName"] = secrets.get(ref.get("SecretName", ""), ref.get("SecretName", ""))
        for ref in cs.get("Configs") or []:
            ref["ConfigName"] = configs.get(ref.get("ConfigName", ""), ref.get("ConfigName", ""))
        cred = (cs.get("Privileges") or {}).get("CredentialSpec") or {}
        if cred.get("Config"):
            cred["Config"] = configs.get(cred["Config"], cred["Config"])
        out[svc_name] = spec
    return out


def plan_file_objects(
    plan: Plan,
    kind: str,
    desired: Mapping[str, dict[str, Any]],
    external: list[str],
    own: Mapping[str, ObservedObject],
    everything: Mapping[str, ObservedObject],
    services: Mapping[str, Any],
    observed: ObservedStack,
    pins: Mapping[str, str],
) -> dict[str, str]:
    """Plan one kind of file object; return base name -> the version services will use.

    The swarm cannot change a secret's or config's data, so changed content is a new
    version (`version_name`), created before the services switch to it; the old versions
    stay for rollback until apply's garbage collection (docs/rotation.md).
    """
    refs = _referenced(services, kind)
    for name in external:
        if name not in everything:
            for svc in refs.get(name, []):
                plan.errors.append(Diagnostic(
                    f"service {short_name(svc, plan.stack)}: {kind} not found: {name}",
                    hint=f"external {kind}s must exist before the deploy (docker {kind} create {name} FILE)"))
    in_use = _referenced({n: s.spec for n, s in observed.services.items()}, kind)
    chosen: dict[str, str] = {}
    for base in sorted(desired):
        spec = desired[base]
        digest = content_digest(spec)
        if base in pins:
            chosen[base] = _plan_pinned(plan, kind, base, pins[base], spec, own, everything)
            continue
        current = own.get(base)
        if current is None:
            other = everything.get(base)
            if other is not None and other.stack and other.stack != plan.stack:
                plan.errors.append(Diagnostic(
                    f"{kind} {base} already exists and belongs to stack {other.stack}",
                    hint="give it another name: (3.5+) in the file"))
                chosen[base] = base
                continue
            current = other  # unlabelled, same name: adopt it (as docker stack deploy does)
        versions = versions_of(base, own)
        if current is not None and all(v.name != current.name for v in versions):
            versions.insert(0, current)
        if not versions:
            chosen[base] = base
            plan.actions.append(Action(kind, base, CREATE, desired=_version_spec(spec, base, base),
                                       digest=digest))
            continue
        used = [v for v in versions if v.name in in_use]
        old = used[-1] if used else (current or versions[-1])
        old_digest = object_digest(kind, old)
        target = old
        if digest:
            match = [v for v in versions if object_digest(kind, v) == digest]
            if match:
                target = old if old in match else match[-1]
            elif old_digest is not None:
                chosen[base] = _plan_new_version(plan, kind, base, spec, digest, old, old_digest, everything)
                continue
        chosen[base] = target.name
        plan.actions.append(_compare_object(plan, kind, target, spec, digest, base))
    keep = set(chosen.values()) | set(external)
    for name in sorted(own):
        obj = own[name]
        if name in keep or base_name(obj) in desired:
            continue  # old versions of kept keys: apply's garbage collection decides
        plan.drop(Action(kind, name, REMOVE, id=obj.id, version=obj.version,
                         current={k: v for k, v in obj.spec.items() if k != "Data"}))
    return chosen


def _version_spec(spec: Mapping[str, object], base: str, name: str) -> dict[str, object]:
    out = dict(spec)
    out["Name"] = name
    out["Labels"] = {**_object(spec.get("Labels")), OBJECT_LABEL: base}
    return out


def _plan_new_version(plan: Plan, kind: str, base: str, spec: Mapping[str, object], digest: str,
                      old: ObservedObject, old_digest: str, everything: Mapping[str, ObservedObject]) -> str:
    name = version_name(base, digest)
    taken = everything.get(name)
    if taken is not None:
        plan.errors.append(Diagnostic(
            f"{kind} {base}: its content changed, but the name for the new version, {name}, is taken "
            f"by a {kind} that is not a version of it", hint=f"remove {kind} {name}"))
        return name
    act = Action(kind, name, CREATE, desired=_version_spec(spec, base, name), digest=digest)
    act.changes.append(FieldChange("Data", short_digest(old_digest), short_digest(digest)))
    act.notes.append(f"new version of {base}, replacing {old.name} (same path in the containers; "
                     "the old one is kept for rollback, see --keep-versions)")
    plan.actions.append(act)
    return name


def _plan_pinned(plan: Plan, kind: str, base: str, pinned: str, spec: Mapping[str, object],
                 own: Mapping[str, ObservedObject], everything: Mapping[str, ObservedObject]) -> str:
    obj = own.get(pinned) or everything.get(pinned)
    if obj is None:
        plan.errors.append(Diagnostic(
            f"{kind} {pinned} (the version of {base} that revision used) no longer exists: old versions "
            "beyond --keep-versions are removed after each deploy",
            hint="deploy the files instead, or keep more versions (deploy --keep-versions N)"))
        return pinned
    act = Action(kind, pinned, UNCHANGED, id=obj.id, version=obj.version,
                 desired=_version_spec(spec, base, pinned),
                 current={k: v for k, v in obj.spec.items() if k != "Data"}, digest=object_digest(kind, obj))
    act.notes.append(f"kept version {pinned} of {base}, as the revision used it")
    plan.actions.append(act)
    return pinned


def _compare_object(plan: Plan, kind: str, current: ObservedObject, spec: Mapping[str, Any],
                    digest: str | None, base: str) -> Action:
    """An existing version the services will use: only labels can be updated in place."""
    name = current.name
    act = Action(kind, name, UNCHANGED, id=current.id, version=current.version,
                 desired=_version_spec(spec, base, name),
                 current={k: v for k, v in current.spec.items() if k != "Data"}, digest=digest)
    if digest and object_digest(kind, current) is None and kind == "secret":
        act.notes.append("content not verifiable (created without stackctl): treated as unchanged")
    for key in ("Driver", "Templating"):
        if prune_empty(spec.get(key) or {}) != prune_empty(current.spec.get(key) or {}):
            act.changes.append(FieldChange(key, current.spec.get(key), spec.get(key)))
            plan.errors.append(Diagnostic(f"{kind} {name}: {key} changed, but the swarm cannot update it",
                                          hint=f"give the {kind} a new name"))
    want_labels = user_labels(spec.get("Labels"))
    have_labels = user_labels(current.labels)
    if want_labels != have_labels:
        act.changes.extend(_prefix(field_changes(have_labels, want_labels), "Labels"))
    if act.changes:
        act.action = UPDATE
    return act


def _prefix(changes: list[FieldChange], prefix: str) -> list[FieldChange]:
    for ch in changes:
        ch.path = prefix + ("" if ch.path.startswith("[") else ".") + ch.path if ch.path else prefix
    return changes
