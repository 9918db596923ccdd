"""`stackctl rollback STACK [--to REV]`: redeploy a recorded revision, waiting as deploy does.

The default target is the revision before the latest. The revision's stack is deployed
through the same path as `deploy` (plan, lock, apply, wait, --rollback-on-failure), so the
exit codes are deploy's. Secrets and configs: the services are pointed back at the version
of each that the revision used (kept on the swarm by rotation, docs/rotation.md); when that
version was removed since, the rollback fails before any write, naming it. Revisions recorded
before rotation existed read the files again from the recorded paths; a file whose content
changed since that revision is reported (its digest differs). Values from encrypted env files are
stored as digests: they are taken back from the swarm's services (spec or previous spec) when the
digest matches, else the rollback fails before any write, naming the key (docs/secrets.md).
Like a deploy, it is recorded as a new revision (whatever its outcome), noted `rollback to N`.
`--plan-only` prints the plan against the revision and writes nothing (deploy's plan-only path).
"""

from __future__ import annotations

import sys

from stackctl.errors import UsageError


def run(*, stack: str, to: int | None = None, timeout: str = "10m", detach: bool = False,
        rollback_on_failure: bool = False, quiet: bool = False, resolve_image: str = "changed",
        fmt: str = "text", context: str | None = None, debug: bool = False, plan_only: bool = False,
        history_max: int = 10) -> int:
    from stackctl.commands.deploy import check_flags, finish
    from stackctl.deploy import DeployOptions, deploy, rollback_request
    from stackctl.engine import open_engine
    from stackctl.history import file_digest, get_revision
    from stackctl.render.deploy import DeployPrinter

    fmt = check_flags(resolve_image, fmt, timeout, history_max=history_max)
    if to is not None and to < 1:
        raise UsageError("--to must be a revision number (see `stackctl history STACK`)")
    engine = open_engine(context, debug)
    rev = get_revision(engine, stack, to)
    for section, digests in rev.digests.items() if not rev.objects else ():
        for name, digest in digests.items():
            entry = (rev.config.get(section) or {}).get(name) or {}
            path = entry.get("file")
            now = file_digest(path) if path else None
            what = f"warning: {section[:-1]} {name}: {path}"
            if now is None:
                print(f"{what} is gone; the deploy fails unless the object still exists", file=sys.stderr)
            elif now != digest:
                print(f"{what} changed since revision {rev.revision} (sha256 {digest} then, {now} now)",
                      file=sys.stderr)
    if not quiet and fmt != "json":
        verb = "Plan to roll back" if plan_only else "Rolling back"
        print(f"{verb} stack {stack} to revision {rev.revision} ({rev.status} {rev.time} by "
              f"{rev.user}@{rev.host})")
    # The revision's services go in its own `depends_on` order, undo in reverse (docs/ordering.md).
    request = rollback_request(rev, stack, engine=engine)
    opts = DeployOptions(resolve_image=resolve_image, detach=detach, timeout=timeout,
                         rollback_on_failure=rollback_on_failure, context=context, debug=debug,
                         record_history=True, plan_only=plan_only, history_max=history_max)
    outcome = deploy(request, opts, engine=engine, on_event=DeployPrinter(fmt=fmt, quiet=quiet))
    return finish(outcome, fmt, plan_only)
