"""`stackctl history STACK [N [M]]`: the revisions deploys recorded (stored in the swarm).

`history STACK` lists them as `helm history` does; `history STACK N` shows one revision (its
metadata and its stack config as YAML: the stored config holds no secret or config content);
`history STACK N M` shows what changed from N to M, by compose key. `--format json` prints
one document per form: stackctl.history/v1, stackctl.revision/v1, stackctl.revision-diff/v1
(docs/json-output.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackctl.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from stackctl.engine import Engine


def run(*, stack: str | None, revisions: list[int] | None = None, fmt: str = "table",
        context: str | None = None, debug: bool = False, no_trunc: bool = False,
        env: str | None = None) -> int:
    from stackctl.commands._options import LIST_FORMATS, check_format
    from stackctl.commands._stackquery import connect_manager

    fmt = check_format(fmt, LIST_FORMATS)
    numbers = list(revisions or [])
    if len(numbers) > 2:
        raise UsageError("history takes at most two revisions: STACK [N [M]]")
    if any(n < 1 for n in numbers):
        raise UsageError("revisions are numbers from 1 (see `stackctl history STACK`)")
    if env:
        from stackctl.commands import fanout

        rollout = fanout.rollout_of(env)
        if rollout is not None:  # every target's revisions, with their rollout (docs/fan-out.md)
            if stack or revisions or context:
                raise UsageError(f"history --env {env}: environment {env!r} lists targets; give no STACK, "
                                 "revisions or --context")
            return fanout.history(rollout, fmt=fmt, debug=debug)
        from stackctl.project import environment_target

        target = environment_target(env)
        stack = stack or target.stack
        if not context and (target.context or target.host):
            from stackctl.engine import open_engine

            engine = open_engine(target.context, debug, host=None if target.context else target.host)
            return _dispatch(engine, stack, numbers, fmt, no_trunc)
    if not stack:
        raise UsageError("give a stack name (or an environment with --env)")
    engine = connect_manager(context, debug)
    return _dispatch(engine, stack, numbers, fmt, no_trunc)


def _dispatch(engine: Engine, stack: str, numbers: list[int], fmt: str, no_trunc: bool) -> int:
    if len(numbers) == 1:
        return _show(engine, stack, numbers[0], fmt)
    if len(numbers) == 2:
        return _diff(engine, stack, numbers[0], numbers[1], fmt)
    return _list(engine, stack, fmt, no_trunc)


def _list(engine: Engine, stack: str, fmt: str, no_trunc: bool) -> int:
    from stackctl.history import list_revisions
    from stackctl.history_text import describe_ci, describe_git
    from stackctl.render.tables import HISTORY_HEADERS, print_json, print_table

    revisions = list_revisions(engine, stack)
    if not revisions:
        _require_stack(engine, stack)
    if fmt == "json":
        print_json({"schema": "stackctl.history/v1", "stack": stack,
                    "revisions": [r.summary() for r in revisions]})
        return EXIT_OK
    if not revisions:
        print(f"stack {stack} has no recorded revisions (deployed without stackctl?)")
        return EXIT_OK
    rows = []
    for r in revisions:
        by = f"{r.user}@{r.host}" if r.user or r.host else ""
        source = describe_git(r.git) or describe_ci(r.ci)  # an agent revision: its commit says most
        rows.append([str(r.revision), r.time.replace("T", " ").rstrip("Z"), r.status,
                     f"{by} ({source})" if source else by, r.summary()["description"]])
    print_table(HISTORY_HEADERS, rows, no_trunc=no_trunc, wide=fmt == "wide")
    return EXIT_OK


def _require_stack(engine: Engine, stack: str) -> None:
    """No revisions: fine for a stack deployed by `docker stack deploy`, an error when nothing exists."""
    from stackctl.commands._stackquery import api_call, not_found
    from stackctl.swarm.stacks import stack_filters

    label = stack_filters(stack)
    if not (api_call("list services", lambda: engine.objects("service", label))
            or api_call("list networks", lambda: engine.objects("network", label))):
        raise not_found(stack, engine)


def _show(engine: Engine, stack: str, number: int, fmt: str) -> int:
    from stackctl.history import get_revision
    from stackctl.history_text import describe_ci
    from stackctl.render.tables import print_json

    rev = get_revision(engine, stack, number)
    if fmt == "json":
        print_json({"schema": "stackctl.revision/v1", "stack": stack, **rev.to_json()})
        return EXIT_OK
    import yaml

    meta = rev.summary()
    lines = [f"Revision:    {rev.revision}", f"Updated:     {rev.time}", f"Status:      {rev.status}",
             f"Description: {meta['description']}", f"By:          {rev.user}@{rev.host}"]
    if rev.ci:
        detail = ", ".join(f"{k}={v}" for k, v in rev.ci.items() if k != "system")
        lines.append(f"CI:          {describe_ci(rev.ci)}" + (f" ({detail})" if detail else ""))
    if rev.git:
        lines.append(f"Git:         {rev.git.get('url', '')} {rev.git.get('commit', '')}".rstrip())
        if rev.git.get("author") or rev.git.get("subject"):
            lines.append(f"Commit:      {rev.git.get('subject', '')} ({rev.git.get('author', '')})")
    lines.append(f"Files:       {', '.join(rev.files) or '-'}")
    if rev.images:
        lines.append("Images:      " + ", ".join(_image_text(k, v, rev.sent.get(k))
                                                 for k, v in sorted(rev.images.items())))
    lines.append(f"stackctl:    {rev.stackctl_version}")
    print("\n".join(lines))
    print("---")
    order = ("version", "name", "services", "networks", "volumes", "secrets", "configs")
    config = {k: rev.config[k] for k in order if k in rev.config}
    config.update({k: v for k, v in rev.config.items() if k not in config})  # stored with sorted keys
    print(yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=True), end="")
    return EXIT_OK


def _diff(engine: Engine, stack: str, first: int, second: int, fmt: str) -> int:
    from stackctl.config_diff import diff_configs
    from stackctl.history import get_revision, pin_changes
    from stackctl.render.tables import print_json

    old, new = get_revision(engine, stack, first), get_revision(engine, stack, second)
    changes = diff_configs(old.config, new.config)
    images = pin_changes(old, new)
    if fmt == "json":
        print_json({"schema": "stackctl.revision-diff/v1", "stack": stack, "from": first, "to": second,
                    "changes": [c.to_json() for c in changes],
                    "images": [{"service": n, "old": a, "new": b} for n, a, b in images]})
        return EXIT_OK
    print(f"Stack {stack}: revision {first} → {second}")
    if not changes and not images:
        print("No differences.")
        return EXIT_OK
    for change in changes:
        print(f"  {change.text()}")
    for name, a, b in images:
        print(f"  ~ image of {name} (sent): {a} → {b}")
    count = len(changes) + len(images)
    print(f"{count} {'change' if count == 1 else 'changes'}.")
    return EXIT_OK


def _image_text(service: str, image: str, sent: str | None) -> str:
    return f"{service}={image}" + (f" (sent {sent})" if sent and sent != image else "")
