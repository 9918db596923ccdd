"""`stackctl diff`: what deploy would change, terraform-plan style. Writes nothing.

Exit codes (terraform -detailed-exitcode): 0 no changes, 2 changes, 1 error (including a
plan with blocking problems, which is rendered first so the changes are still visible).
"""

from __future__ import annotations

from stackctl.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK


def run(*, stack: str | None, files: list[str], env_files: list[str], env: str | None = None,
        prune: bool = False,
        fmt: str = "text", context: str | None = None, debug: bool = False,
        against: str | None = None, resolve_image: str = "always", with_registry_auth: bool = False,
        targets: str | None = None, wave: int | None = None) -> int:
    if against:  # two environments' rendered stacks, no engine
        from stackctl.commands import env_diff

        return env_diff.run(env=env, against=against, fmt=fmt, files=files)
    from stackctl.commands import fanout

    fanout.check_limits(env, targets, wave, False)
    rollout = fanout.rollout_of(env)
    if rollout is not None:  # every target's plan, identical ones in one block (docs/fan-out.md)
        from stackctl.commands.deploy import check_flags, refuse_for_targets
        from stackctl.deploy import DeployOptions

        fmt = check_flags(resolve_image, fmt)
        refuse_for_targets(rollout.env, stack=stack, files=files, env_files=env_files, context=context)
        opts = DeployOptions(prune=prune, resolve_image=resolve_image, with_registry_auth=with_registry_auth,
                             debug=debug, plan_only=True)
        return fanout.diff(rollout, opts, fmt=fmt, targets=targets, wave=wave)
    if targets or wave is not None:
        from stackctl.errors import UsageError

        raise UsageError(f"--targets and --wave need an environment with targets: ({env!r} has none)")
    from stackctl.commands.deploy import check_flags
    from stackctl.deploy import (
        check_stack_name,
        convert,
        image_resolver,
        load_stack_files,
        ordering_for,
        plan_for,
        stack_for,
    )
    from stackctl.project import resolve_env_args
    from stackctl.render.deploy import DeployPrinter

    fmt = check_flags(resolve_image, fmt)
    stack, files, env_files, environ, choice = resolve_env_args(
        env, files, env_files, stack, context=context)
    stack = check_stack_name(stack) if stack is not None else None
    printer = DeployPrinter(fmt=fmt)
    loaded = load_stack_files(files, env_files, environ, on_event=printer)
    stack = stack_for(stack, loaded)
    desired = convert(stack, loaded.config, loaded.environ, on_event=printer, sensitive=loaded.sensitive)
    from stackctl.engine import open_engine
    from stackctl.render.deploy import order_lines
    from stackctl.render.diagnostics import print_warnings
    from stackctl.render.plan import plan_json, print_plan

    engine = open_engine(choice.context, debug, host=choice.host)
    # As deploy would: a tag pushed anew is a change (always/changed), a missing image a problem.
    resolver = image_resolver(engine, resolve_image, with_registry_auth)
    plan = plan_for(engine, desired, stack, prune=prune, strict=False, sources=loaded.docs, resolver=resolver,
                    resolve_image=resolve_image, sensitive=loaded.sensitive)
    ordering = ordering_for(loaded.config, stack)
    if fmt == "json":
        import json

        doc = plan_json(plan)
        if ordering is not None:
            doc["order"] = [list(tier) for tier in ordering.tiers]
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return EXIT_ERROR if plan.errors else (EXIT_CHANGES if plan.has_changes else EXIT_OK)
    print_plan(plan, fmt=fmt, debug=debug)
    if ordering is not None and plan.has_changes:
        print("\n".join(order_lines(ordering.tiers)))
    print_warnings(plan.warnings)
    plan.check(would=True)
    return EXIT_CHANGES if plan.has_changes else EXIT_OK
