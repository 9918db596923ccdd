"""Deploy output: the callback the deploy, rollback and promote commands give the service layer
(stackctl/deploy.py). It turns the layer's events, the executor's ApplyEvents and the rollout's
RolloutEvents into text: ordinary lines on stdout (stderr with --format json, where stdout holds the
document), warnings and problems on stderr, nothing but those with --quiet."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from stackctl.render.diagnostics import print_warnings
from stackctl.render.progress import RolloutPrinter
from stackctl.units import elapsed


def order_lines(tiers: Sequence[Sequence[str]]) -> list[str]:
    """The deploy order, a line per tier: `  1. STACK_db` / `  2. STACK_migrate, STACK_api`."""
    lines = ["Order (depends_on): each tier is written once the one before it is ready"]
    lines += [f"  {index}. {', '.join(tier)}" for index, tier in enumerate(tiers, 1)]
    return lines


class DeployPrinter:
    """Callable for `deploy(..., on_event=)`. The plan is printed before anything is written, in a
    terminal and in a CI log alike (`--quiet` and `--format json` print none)."""

    def __init__(self, *, fmt: str = "text", quiet: bool = False, show_plan: bool | None = None,
                 out: TextIO | None = None, err: TextIO | None = None, debug: bool = False) -> None:
        self.fmt = fmt
        self.debug = debug  # the plan also names engine fields
        self.quiet = quiet
        self.err = err or sys.stderr
        self.out = self.err if fmt == "json" else (out or sys.stdout)
        self.show_plan = True if show_plan is None else show_plan
        self.rollout = RolloutPrinter(self.out, self.err, quiet=quiet)

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def __call__(self, event: object) -> None:
        from stackctl.apply.executor import ApplyEvent
        from stackctl.apply.rollout import RolloutEvent
        from stackctl.deploy import LockTaken, LockWaiting, Notice, PlanReady, UpToDate, Warnings
        from stackctl.lock import LockTakenOver
        from stackctl.render.lock import taken_over_line
        from stackctl.render.plan import print_plan

        if isinstance(event, ApplyEvent):
            if event.kind == "warning":
                print(event.text(), file=self.err, flush=True)
            else:
                self.say(event.text())
        elif isinstance(event, RolloutEvent):
            self.rollout(event)
        elif isinstance(event, Warnings):
            print_warnings(event.diagnostics)
        elif isinstance(event, PlanReady):
            if event.plan_only and self.fmt == "json":
                import json

                from stackctl.render.plan import plan_json

                doc = plan_json(event.plan)
                if event.ordering is not None:
                    doc["order"] = [list(tier) for tier in event.ordering.tiers]
                print(json.dumps(doc, indent=2, ensure_ascii=False))
            elif event.plan_only:
                print_plan(event.plan, debug=self.debug)
                if event.ordering is not None:
                    print("\n".join(order_lines(event.ordering.tiers)))
            elif event.final and self.fmt != "json" and not self.quiet:
                if self.show_plan:
                    print_plan(event.plan, stream=self.out, debug=self.debug)
                if event.ordering is not None:  # in CI logs too: it explains the waits that follow
                    print("\n".join(order_lines(event.ordering.tiers)), file=self.out)
                if self.show_plan or event.ordering is not None:
                    print(file=self.out)
        elif isinstance(event, UpToDate):
            if self.fmt != "json":
                self.say(f"Stack {event.plan.stack} is up to date: nothing to do.")
        elif isinstance(event, LockWaiting):
            print(f"Waiting for the deploy lock of stack {event.stack}, held by {event.holder.describe()}; "
                  f"waiting up to {elapsed(event.timeout)} (--lock-timeout)...", file=self.err, flush=True)
        elif isinstance(event, LockTaken):
            print(f"Got the deploy lock of stack {event.stack} after {event.waited:.1f}s; planning again",
                  file=self.err, flush=True)
        elif isinstance(event, LockTakenOver):
            print(taken_over_line(event), file=self.err, flush=True)
        elif isinstance(event, Notice):
            if event.level == "warning":
                print(event.text, file=self.err, flush=True)
            else:
                self.say(event.text)
