"""Stage 6, plan: compare the desired stack with the observed swarm; pure functions.

`make_plan(desired, observed, prune=...)` returns ordered actions (networks → secrets →
configs → services), each create / update (field by field) / remove / unchanged, plus the
checks that must pass before anything is written (external references, placement, ports,
mode changes). Nothing here talks to the engine. Comparison happens on specs normalised by
the one normaliser (`convert/normalize_spec.py`) on both sides.

- `model.py`: FieldChange, Action, Plan.
- `planner.py`: make_plan, the order of everything.
- `services.py`: the service diff; `drift.py`: which changes were made on the swarm.
- `networks.py`: networks; `rotation.py`: secrets and configs, new content as new versions.
- `checks.py`: placement, published ports, volumes; `fields.py`: field-level differences;
  `digests.py`: content and spec digests.
- `compose_terms.py`: an engine field change said as compose keys in the file's units;
  `sources.py`: a service's changes that way, located (FILE:LINE) in the parsed files
  (`make_plan(..., sources=LoadedStack.docs)`).

Objects of the stack the files no longer have are REMOVE actions with `prune`, else listed in
`Plan.kept` (never in `actions`: apply writes nothing for them).
"""

from __future__ import annotations

from stackctl.plan.compose_terms import ComposeChange
from stackctl.plan.digests import content_digest, data_bytes, short_digest, spec_digest
from stackctl.plan.fields import field_changes, normalize_service
from stackctl.plan.model import CREATE, KEPT, KIND_ORDER, REMOVE, UNCHANGED, UPDATE, Action, FieldChange, Plan
from stackctl.plan.networks import normalize_network
from stackctl.plan.planner import make_plan
from stackctl.plan.rotation import base_name, object_digest, repoint_services, version_name, versions_of

__all__ = [
    "CREATE", "KEPT", "KIND_ORDER", "REMOVE", "UNCHANGED", "UPDATE", "Action", "ComposeChange", "FieldChange",
    "Plan", "base_name",
    "content_digest", "data_bytes", "field_changes", "make_plan", "normalize_network", "normalize_service",
    "object_digest", "repoint_services", "short_digest", "spec_digest", "version_name", "versions_of",
]
