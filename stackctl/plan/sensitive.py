"""A plan as it may be shown: values from encrypted env files as their digest (secrets/sensitive.py).

The plan compares what the swarm holds with what the files say, so both sides of a sensitive
environment entry are plaintext; after `make_plan`, `redact_plan` replaces them in what is rendered
(text, `--debug`, JSON, drift, the history's description): `environment.DB_PASSWORD:
sha256:8d969eef6eca (sensitive) → sha256:1f0a9c3e5b77 (sensitive: from app.sops.env)`. An entry the
files mark as sensitive is hidden on both sides, whatever the old value was; any other value is
hidden where it holds a sensitive one. What the apply sends (`Action.desired`) is not touched.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from stackctl.names import SENSITIVE_LABEL
from stackctl.plan.compose_terms import ComposeChange
from stackctl.plan.model import Action, FieldChange, Plan, short_name
from stackctl.secrets.sensitive import Sensitive, placeholder, placeholder_digest

ENV_PATH = "TaskTemplate.ContainerSpec.Env"


def redact_plan(plan: Plan, sensitive: Sensitive | None) -> Plan:
    """`plan`, changed in place so that no sensitive value shows; returned for convenience.

    Besides the files' mark, a service's SENSITIVE_LABEL (written by the last deploy) names the
    keys that were sensitive then: their old values stay hidden when the files no longer mark them
    (an entry removed, or now written in the clear)."""
    sensitive = sensitive or Sensitive()
    plan.warnings = sensitive.hide_diagnostics(plan.warnings)
    plan.errors = sensitive.hide_diagnostics(plan.errors)
    for act in [*plan.actions, *plan.kept]:
        _redact_action(act, sensitive, short_name(act.name, plan.stack))
    return plan


def _redact_action(act: Action, sensitive: Sensitive, service: str) -> None:
    act.warnings = [sensitive.hide(w) for w in act.warnings]
    act.notes = [sensitive.hide(n) for n in act.notes]
    if act.kind != "service":
        return
    act.sensitive_keys = sensitive.keys_of(service)
    before = str(((act.current or {}).get("Labels") or {}).get(SENSITIVE_LABEL) or "")
    was = {key for key in before.split(",") if key} - set(act.sensitive_keys)
    if not was and not sensitive:
        return
    if was:  # marked by the last deploy only: hidden here, without a file to name
        sensitive = _with_keys(sensitive, service, was)
    act.changes = [_field(ch, sensitive, service) for ch in act.changes]
    act.compose = [_compose(ch, sensitive, service) for ch in act.compose]


def _with_keys(sensitive: Sensitive, service: str, keys: set[str]) -> Sensitive:
    out = Sensitive()
    out.update(sensitive)
    for key in keys:
        if key.startswith("environment."):
            out.env.setdefault((service, key[len("environment."):]), "")
        else:
            out.fields.setdefault((service, key), "")
    return out


def _field_source(sensitive: Sensitive, service: str, compose_path: str | None) -> str | None:
    """The file when the compose key `compose_path` (or the field it is part of) is sensitive."""
    if not compose_path:
        return None
    for (name, key), source in sensitive.fields.items():
        if name == service and (compose_path == key or compose_path.startswith((key + ".", key + "["))):
            return source
    return None


def _marked(sensitive: Sensitive, service: str, key: str) -> str | None:
    """The file an entry of `service`'s environment came from when it is sensitive, else None."""
    return sensitive.env_source(service, key)


def _hidden(value: str, source: str | None) -> str:
    return value if placeholder_digest(value) is not None else placeholder(value, source or None)


def _compose(ch: ComposeChange, sensitive: Sensitive, service: str) -> ComposeChange:
    parts = ch.key_path
    if len(parts) == 2 and parts[0] == "environment":
        source = _marked(sensitive, service, parts[1])
        if source is not None:
            return dataclasses.replace(ch, old=_env_shown(ch.old, None), new=_env_shown(ch.new, source))
    source = _field_source(sensitive, service, ch.compose_path)
    if source is not None:  # a field that holds a sensitive value: both sides by digest
        return dataclasses.replace(ch, old=_env_shown(ch.old, None), new=_env_shown(ch.new, source))
    new = _maybe(ch.new, sensitive)
    if new != ch.new and ch.old is not None:
        # the field holds a sensitive value now: what it held before (from the swarm) is not known
        # to the mark, but it was most likely one too (the last deploy's value): its digest only
        return dataclasses.replace(ch, old=_hidden(ch.old, None), new=new)
    return dataclasses.replace(ch, old=_maybe(ch.old, sensitive), new=new)


def _env_shown(value: str | None, source: str | None) -> str | None:
    if value is None or value == "(no value)":
        return value
    return _hidden(value, source)


def _maybe(value: str | None, sensitive: Sensitive) -> str | None:
    return None if value is None else sensitive.hide(value, words=False)


def _field(ch: FieldChange, sensitive: Sensitive, service: str) -> FieldChange:
    old, new = ch.old, ch.new
    if ch.path.startswith(ENV_PATH + "[") and isinstance(old, str | None) and isinstance(new, str | None):
        return dataclasses.replace(  # one element of the list
            ch, old=None if old is None else _env_item(old, sensitive, service, True),
            new=None if new is None else _env_item(new, sensitive, service, False))
    if ch.path == ENV_PATH:
        return dataclasses.replace(ch, old=_env_list(ch.old, sensitive, service, old=True),
                                   new=_env_list(ch.new, sensitive, service, old=False))
    hidden = _walk(ch.new, sensitive, service)
    if hidden != ch.new:  # as for a compose change: the old value of a sensitive field by digest
        return dataclasses.replace(ch, old=_all_hidden(ch.old), new=hidden)
    return dataclasses.replace(ch, old=_walk(ch.old, sensitive, service), new=hidden)


def _all_hidden(value: Any) -> Any:
    """Every string of `value` as its digest."""
    if isinstance(value, str):
        return _hidden(value, None)
    if isinstance(value, dict):
        return {k: _all_hidden(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_all_hidden(v) for v in value]
    return value


def _env_list(items: Any, sensitive: Sensitive, service: str, *, old: bool) -> Any:
    if not isinstance(items, list):
        return _walk(items, sensitive, service)
    return [_env_item(item, sensitive, service, old) if isinstance(item, str) else item for item in items]


def _env_item(item: str, sensitive: Sensitive, service: str, old: bool) -> str:
    key, eq, value = item.partition("=")
    if not eq:
        return item
    source = _marked(sensitive, service, key)
    if source is not None:
        return f"{key}={_hidden(value, None if old else source)}"
    return f"{key}={sensitive.hide(value, words=False)}"


def _walk(value: Any, sensitive: Sensitive, service: str) -> Any:
    if isinstance(value, str):
        return sensitive.hide(value, words=False)
    if isinstance(value, dict):
        return {k: _env_list(v, sensitive, service, old=False) if k == "Env" else _walk(v, sensitive, service)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, sensitive, service) for v in value]
    return value
