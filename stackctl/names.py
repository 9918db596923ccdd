"""Label keys and object names that stackctl reads and writes in the swarm: each defined once.

The `com.docker.stack.*` labels are the reference's (`docker stack deploy` sets them), so the
docker CLI and stackctl manage each other's stacks. The `com.docker.stackctl.*` labels and the
`stackctl-*` config names are stackctl's own bookkeeping (docs/architecture.md, "State").
"""

from __future__ import annotations

# Set by the reference too.
NAMESPACE_LABEL = "com.docker.stack.namespace"  # every object of a stack: its stack name
IMAGE_LABEL = "com.docker.stack.image"  # services: the image as the file wrote it

# stackctl's own labels all start with this prefix (they are not the user's intent).
STACKCTL_LABEL_PREFIX = "com.docker.stackctl."
SPEC_DIGEST_LABEL = STACKCTL_LABEL_PREFIX + "spec-digest"  # services: digest of the spec last applied
CONTENT_DIGEST_LABEL = STACKCTL_LABEL_PREFIX + "content-digest"  # secrets/configs: sha256 of the data
OBJECT_LABEL = STACKCTL_LABEL_PREFIX + "object"  # secret/config versions: the base name they version
# services: the compose keys holding values from encrypted env files (`environment.KEY`, `command`,
# comma-separated), so that a later plan hides their old values even when the files no longer mark
# them (docs/secrets.md)
SENSITIVE_LABEL = STACKCTL_LABEL_PREFIX + "sensitive"

# The deploy lock: a config named LOCK_PREFIX + STACK.
LOCK_PREFIX = "stackctl-lock-"
LOCK_HOLDER_LABEL = STACKCTL_LABEL_PREFIX + "lock.holder"
LOCK_SINCE_LABEL = STACKCTL_LABEL_PREFIX + "lock.since"
LOCK_TOKEN_LABEL = STACKCTL_LABEL_PREFIX + "lock.token"
LOCK_STACK_LABEL = STACKCTL_LABEL_PREFIX + "lock.stack"
LOCK_PROCESS_LABEL = STACKCTL_LABEL_PREFIX + "lock.process"  # boot id, pid namespace, pid, start time
LOCK_TTL_LABEL = "com.docker.stackctl.lock.ttl"  # seconds the holder may keep it (it covers the wait)

# Revision history: configs named HISTORY_PREFIX + STACK-N. They carry the namespace label too, so
# that `docker stack rm` removes them; stackctl tells them apart by HISTORY_LABEL.
HISTORY_PREFIX = "stackctl-history-"
HISTORY_LABEL = STACKCTL_LABEL_PREFIX + "history"  # = STACK
REVISION_LABEL = STACKCTL_LABEL_PREFIX + "revision"  # = N
KEEP_LABEL = STACKCTL_LABEL_PREFIX + "history-max"  # the --history-max of the deploy that wrote it


def scope(stack: str, name: str) -> str:
    """`web` → `STACK_web`: the swarm name of a stack's own object (docker/cli's Namespace.Scope)."""
    return f"{stack}_{name}"


def descope(stack: str, name: str) -> str:
    """`STACK_web` → `web`: the name as the stack file spells it; a name outside the stack is kept."""
    prefix = f"{stack}_"
    return name[len(prefix):] if name.startswith(prefix) else name


def in_stack(stack: str, name: str) -> bool:
    """Whether `name` is scoped to `stack` (starts with `STACK_`)."""
    return name.startswith(f"{stack}_")


def user_labels(labels: dict[str, str] | None) -> dict[str, str]:
    """`labels` without stackctl's own bookkeeping labels (what the user controls)."""
    return {k: v for k, v in (labels or {}).items() if not k.startswith(STACKCTL_LABEL_PREFIX)}
