"""`stackctl diff`: what deploy would change, terraform-plan style. Writes nothing.

Exit codes (terraform -detailed-exitcode): 0 no changes, 2 changes, 1 error (including a
plan with blocking problems, which is rendered first so the changes are still visible).
"""

from __future__ import annotations

from stackctl.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, UsageError


def run(*, stack: str | None, files: list[str], env_files: list[str], env: str | None = None,
        prune: bool = False,
        fmt: str = "text", context: str | None = None, debug: bool = False,
        against: str | None = None) -> int:
    if against:  # two environments' rendered stacks, no engine
        from stackctl.commands import env_diff

        return env_diff.run(env=env, against=against, fmt=fmt, files=files)
    from stackctl.commands.deploy import check_stack_name, convert, load_files, plan_for
    from stackctl.project import resolve_env_args

    if fmt not in ("text", "json"):
        raise UsageError(f"unknown --format {fmt!r} (text or json)")
    stack, files, env_files, environ, choice = resolve_env_args(
        env, files, env_files, stack, context=context, need_stack=True)
    stack = check_stack_name(stack or "")
    loaded = load_files(files, env_files, environ)
    desired = convert(stack, loaded.config, loaded.environ)
    from stackctl.engine import open_engine
    from stackctl.render.diagnostics import print_warnings
    from stackctl.render.plan import print_plan

    engine = open_engine(choice.context, debug, host=choice.host)
    plan = plan_for(engine, desired, stack, prune=prune, strict=False, sources=loaded.docs)
    print_plan(plan, fmt=fmt, debug=debug)
    if fmt == "json":
        return EXIT_ERROR if plan.errors else (EXIT_CHANGES if plan.has_changes else EXIT_OK)
    print_warnings(plan.warnings)
    plan.check()
    return EXIT_CHANGES if plan.has_changes else EXIT_OK
