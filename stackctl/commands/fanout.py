"""`deploy|diff|history|promote --env ENV` for an environment of many swarms (`targets:` in
stackctl.yml): CLI wiring for stackctl/fanout/driver.py, printed by render/fanout.py (docs/fan-out.md)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from stackctl.errors import EXIT_CHANGES, EXIT_ERROR, EXIT_OK, UsageError

if TYPE_CHECKING:
    from stackctl.deploy import DeployOptions
    from stackctl.fanout.spec import Rollout


def rollout_of(env: str | None) -> Rollout | None:
    """The environment's rollout when it lists `targets:`, else None (an ordinary environment)."""
    if not env:
        return None
    from stackctl.fanout.spec import has_targets, load_rollout
    from stackctl.project import find_project, load_project

    project = load_project(find_project())
    if not has_targets(project, env):
        return None
    return load_rollout(project, env)


def split_targets(value: str | None) -> list[str]:
    return [t.strip() for t in (value or "").split(",") if t.strip()]


def check_limits(env: str | None, targets: str | None, wave: int | None, resume: bool) -> None:
    """--targets/--wave/--resume only mean something for an environment of many swarms."""
    if (targets or wave is not None or resume) and not env:
        raise UsageError("--targets, --wave and --resume need --env (an environment with targets:)")


def deploy(rollout: Rollout, opts: DeployOptions, *, fmt: str, quiet: bool, targets: str | None,
           wave: int | None, resume: bool, images: Mapping[str, str] | None = None, note: str = "") -> int:
    from stackctl.fanout.driver import FanoutOptions, find_resume, roll_out
    from stackctl.render.fanout import FanoutPrinter

    limited = rollout.limited(split_targets(targets), wave)
    if opts.detach and not opts.plan_only and any(w.bake or w.gates for w in limited.waves):
        raise UsageError(f"--detach: environment {rollout.env!r} has waves with a bake or gates, which need "
                         "converged services (deploy without --detach)")
    fopts = FanoutOptions(deploy=opts, images=images, note=note)
    printer = FanoutPrinter(fmt=fmt, quiet=quiet, debug=opts.debug)
    if resume:
        if images:
            raise UsageError("--resume continues with the images the rollout shipped; it takes no new pins")
        point = find_resume(rollout, fopts)
        for message in point.unreachable.values():
            printer.say(f"warning: {message}: its history was not read")
        fopts = FanoutOptions(deploy=opts, rollout_id=point.id, images=point.images or None,
                              done=point.done, resume_wave=point.wave, note=note)
    result = roll_out(limited, fopts, on_event=printer)
    if fmt == "json":
        print(json.dumps(result.to_json(), indent=2, ensure_ascii=False))
    return result.exit_code


def diff(rollout: Rollout, opts: DeployOptions, *, fmt: str, targets: str | None, wave: int | None) -> int:
    """The plan of every target; one block for targets whose plans are identical."""
    from stackctl.fanout.driver import FanoutOptions, plan_targets
    from stackctl.render.fanout import plan_block_lines
    from stackctl.render.plan import plan_json

    limited = rollout.limited(split_targets(targets), wave)
    prepared, problems = plan_targets(limited, FanoutOptions(deploy=opts))
    plans = {name: prep.plan for name, prep in prepared.items()}
    changes = any(p.has_changes for p in plans.values())
    blocked = any(p.errors for p in plans.values())
    code = EXIT_ERROR if problems or blocked else (EXIT_CHANGES if changes else EXIT_OK)
    if fmt == "json":
        doc = {"schema": "stackctl.rollout-diff/v1", "env": rollout.env, "stack": rollout.stack,
               "targets": [{"target": n, "wave": limited.wave_of(n).number,
                            "plan": plan_json(plans[n]) if n in plans else None,
                            "error": problems[n][1] if n in problems else None}
                           for w in limited.waves for n in w.targets]}
        print(json.dumps(doc, indent=2, ensure_ascii=False))
        return code
    print("\n".join(plan_block_lines(plans, opts.debug)).rstrip("\n"))
    for _, message in problems.values():
        import sys

        print(f"error: {message}", file=sys.stderr)
    for prep in prepared.values():
        prep.close()
        if prep.plan.errors:
            import sys

            from stackctl.render.diagnostics import print_error

            try:
                prep.plan.check()
            except Exception as err:  # noqa: BLE001 - a PlanError to render
                print(f"[{prep.target.name}]", file=sys.stderr)
                print_error(err)  # type: ignore[arg-type]
    return code


def history(rollout: Rollout, *, fmt: str, debug: bool) -> int:
    """Every target's revisions, with the rollout each belongs to."""
    from stackctl.engine import open_engine
    from stackctl.errors import StackctlError
    from stackctl.fanout.driver import describe_problem
    from stackctl.history import list_revisions
    from stackctl.render.fanout import print_rollout_history
    from stackctl.render.tables import print_json

    rows: list[list[str]] = []
    docs: list[dict[str, object]] = []
    code = EXIT_OK
    import sys

    for target in rollout.targets:
        env = target.env
        try:
            with open_engine(env.context, debug, host=None if env.context else env.host) as engine:
                revisions = list_revisions(engine, rollout.stack)
        except StackctlError as err:
            message = describe_problem(target, err)[1]
            print(f"error: {message}", file=sys.stderr)
            docs.append({"target": target.name, "error": message, "revisions": None})
            code = EXIT_ERROR
            continue
        docs.append({"target": target.name, "error": None, "revisions": [r.summary() for r in revisions]})
        for r in revisions:
            ro = r.rollout or {}
            rows.append([target.name, str(r.revision), r.time.replace("T", " ").rstrip("Z"), r.status,
                         (str(ro.get("id", "")) + (" (rollback)" if ro.get("action") == "rollback" else ""))
                         or "-", str(ro.get("wave", "")) or "-", r.summary()["description"]])
    if fmt == "json":
        print_json({"schema": "stackctl.rollout-history/v1", "env": rollout.env, "stack": rollout.stack,
                    "targets": docs})
    else:
        print_rollout_history(rows)
    return code
