"""Drift: which changed fields were changed on the swarm, not in the file.

Every service stackctl writes carries a label with the digest of the normalised spec it
applied; when the current spec no longer has that digest, someone changed the service outside
the file, and the engine's PreviousSpec (when it is the spec we applied, as after `docker
service scale`) tells which fields.
"""

from __future__ import annotations

from stackctl.names import SPEC_DIGEST_LABEL
from stackctl.observe import ObservedService, ObservedStack
from stackctl.plan.digests import spec_digest
from stackctl.plan.fields import field_changes, normalize_service, path_parts, value_at
from stackctl.plan.model import Action


def mark_drift(act: Action, current: ObservedService, have: dict[str, object], want: dict[str, object],
               digest: str, observed: ObservedStack) -> dict[str, object] | None:
    """Which changed fields were changed on the swarm, not in the file (see module docstring).

    Returns the normalised spec stackctl last applied when it is known (what tells drift from
    the file's changes key by key), else None."""
    applied = current.labels.get(SPEC_DIGEST_LABEL)
    # An unchanged service (the bulk of a redeploy) has the digest of `want`, computed already.
    have_digest = digest if have == want else spec_digest(have)
    if not applied or have_digest == applied:
        return None  # never deployed by stackctl, or unchanged since: every difference is the file's
    last: dict[str, object] | None = None
    if current.previous_spec:
        prev = normalize_service(current.previous_spec, observed)
        if spec_digest(prev) == applied:
            last = prev
    if last is None and digest == applied:
        last = want  # the file did not change since that deploy: every difference is drift
    act.drift = True
    if last is None:
        act.notes.append("changed on the swarm since the last stackctl deploy (which fields is unknown)")
        return None
    for ch in act.changes:
        parts = path_parts(ch.path)
        ch.drift = value_at(last, parts) != value_at(have, parts)
    drifted = field_changes(last, have)
    changed_paths = {c.path for c in act.changes}
    for d in drifted:
        if d.path not in changed_paths and not any(d.path.startswith(p + ".") or d.path.startswith(p + "[")
                                                   for p in changed_paths):
            # changed outside the file, and the file now asks for the same value: nothing to do
            act.notes.append(f"{d.path} was changed on the swarm to the value the file now has")
    return last
