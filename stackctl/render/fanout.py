"""Fan-out output: a rollout's events as text (progress per target, prefixed `[target]`), the plans
of a wave with one block per group of identical plans, and the end table (target, wave, plan,
outcome, time). Lines go to stdout (stderr with --format json, where stdout holds the document)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from stackctl.fanout.driver import FanoutResult
    from stackctl.plan import Plan


class _Prefixed:
    """A text stream that puts `[target] ` before every line it passes on (never a terminal: the
    live rollout table of one target would fight the others')."""

    def __init__(self, prefix: str, stream: TextIO) -> None:
        self.prefix = prefix
        self.stream = stream
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self.stream.write(f"{self.prefix}{line}\n" if line else "\n")
        return len(text)

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False


def plan_groups(plans: Mapping[str, Plan], debug: bool = False) -> list[tuple[list[str], str]]:
    """Targets whose plans read the same, together: [(targets, plan text)], in first-seen order."""
    from stackctl.render.plan import render_plan_text

    groups: dict[str, list[str]] = {}
    for name, plan in plans.items():
        groups.setdefault(render_plan_text(plan, debug=debug), []).append(name)
    return [(names, text) for text, names in groups.items()]


def plan_block_lines(plans: Mapping[str, Plan], debug: bool = False) -> list[str]:
    """One block per group of identical plans, headed by the targets it is for."""
    lines: list[str] = []
    for names, text in plan_groups(plans, debug):
        if len(names) > 1:
            head = f"Targets {', '.join(names)} (identical plans):"
        else:
            head = f"Target {names[0]}:"
        lines.append(f"=== {head}")
        lines.extend(text.rstrip("\n").splitlines())
        lines.append("")
    return lines


def _time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds:.1f}s" if seconds < 120 else f"{seconds / 60:.1f}m"


def end_table_rows(result: FanoutResult) -> list[list[str]]:
    rows = []
    for t in result.targets:
        if t.status == "rolled back":  # it failed (or its wave did), then went back
            outcome = t.rollback + (f" after: {t.message}" if t.message else " (its wave failed)")
        else:
            outcome = t.status + (f": {t.message}" if t.message and t.status not in ("deployed", "up to date")
                                  else "")
            if t.rollback:
                outcome += f"; {t.rollback}"
        rows.append([t.target, str(t.wave), t.summary or "-", outcome, _time(t.seconds)])
    return rows


END_HEADERS = ["TARGET", "WAVE", "PLAN", "OUTCOME", "TIME"]


class FanoutPrinter:
    """Callable for `roll_out(..., on_event=)`."""

    def __init__(self, *, fmt: str = "text", quiet: bool = False, out: TextIO | None = None,
                 err: TextIO | None = None, debug: bool = False) -> None:
        self.fmt = fmt
        self.quiet = quiet
        self.debug = debug
        self.err = err or sys.stderr
        self.out = self.err if fmt == "json" else (out or sys.stdout)
        self.lock = threading.RLock()
        self.printers: dict[str, Any] = {}

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.out, flush=True)

    def _target_printer(self, name: str) -> Any:
        from stackctl.render.deploy import DeployPrinter

        if name not in self.printers:
            self.printers[name] = DeployPrinter(
                fmt="text", quiet=self.quiet, show_plan=False, debug=self.debug,
                out=_Prefixed(f"[{name}] ", self.out),  # type: ignore[arg-type]
                err=_Prefixed(f"[{name}] ", self.err))  # type: ignore[arg-type]
        return self.printers[name]

    def __call__(self, event: Any) -> None:
        from stackctl.fanout import driver as d

        with self.lock:
            if isinstance(event, d.TargetEvent):
                from stackctl.deploy import PlanReady, UpToDate

                if isinstance(event.event, PlanReady) and event.event.plan_only:
                    return  # the wave's plans are printed together
                if isinstance(event.event, UpToDate):
                    self.say(f"[{event.target}] up to date: nothing to do")
                    return
                self._target_printer(event.target)(event.event)
            elif isinstance(event, d.RolloutStarting):
                what = "Resuming rollout" if event.resumed else "Rollout"
                waves = " → ".join("[" + ", ".join(w.targets) + "]" for w in event.waves)
                self.say(f"{what} {event.id} of environment {event.env}: {waves}")
            elif isinstance(event, d.WavePlanned):
                wave = event.wave
                extra = f", max_parallel {wave.max_parallel}" if wave.max_parallel > 1 else ""
                extra += f", bake {wave.bake:g}s" if wave.bake else ""
                self.say(f"\n--- {wave.label}: {', '.join(wave.targets)}{extra}")
                for name in event.skipped:
                    self.say(f"[{name}] done earlier in this rollout: skipped")
                if event.plans and not self.quiet and self.fmt != "json":
                    print("\n".join(plan_block_lines(event.plans, self.debug)), file=self.out, flush=True)
                for message in event.problems.values():
                    print(f"error: {message}", file=self.err, flush=True)
            elif isinstance(event, d.TargetFinished):
                r = event.result
                took = f" in {_time(r.seconds)}" if r.seconds is not None else ""
                why = f": {r.message}" if r.message else ""
                stream = self.out if r.status in ("deployed", "up to date") else self.err
                print(f"[{r.target}] {r.status}{took}{why}", file=stream, flush=True)
            elif isinstance(event, d.BakeStarting):
                self.say(f"{event.wave.label}: baking {event.wave.bake:g}s on {', '.join(event.targets)} "
                         "(no task may fail or restart)")
            elif isinstance(event, d.GateFinished):
                g = event.result
                verdict = "passed" if g.ok else "FAILED"
                line = f"{event.wave.label}: gate {g.gate.describe()}: {verdict} ({g.detail})"
                print(line, file=self.out if g.ok else self.err, flush=True)
            elif isinstance(event, d.WaveFinished):
                if event.result.status == "passed":
                    self.say(f"{event.wave.label}: passed")
                elif event.result.status == "failed":
                    why = event.result.message.removeprefix(f"{event.wave.label}: ")
                    print(f"{event.wave.label}: FAILED: {why}", file=self.err, flush=True)
                elif event.result.status == "done earlier":
                    self.say(f"{event.wave.label}: done earlier in this rollout: skipped")
            elif isinstance(event, d.RollingBack):
                to = f"revision {event.revision}" if event.revision is not None else "(no earlier revision)"
                print(f"[{event.target}] rolling back to {to} (on_failure)", file=self.err, flush=True)
            elif isinstance(event, d.RolloutFinished):
                self.finish(event.result)

    def finish(self, result: FanoutResult) -> None:
        if self.fmt == "json" or self.quiet:
            return
        from stackctl.render.tables import print_table

        print(file=self.out)
        styles = ["" if t.status in ("deployed", "up to date", "planned", "done earlier") else
                  ("dim" if t.status == "not started" else "red") for t in result.targets]
        print_table(END_HEADERS, end_table_rows(result), styles=styles, stream=self.out)  # fits the terminal
        self.out.flush()
        verb = "planned" if result.plan_only else ("done" if result.exit_code == 0 else
                                                   f"failed (exit {result.exit_code})")
        print(f"Rollout {result.id} of {result.env}: {verb}", file=self.out, flush=True)
        if result.exit_code not in (0,) and not result.plan_only:
            print(f"error: {result.message}", file=self.err, flush=True)
            if any(t.status == "rolled back" for t in result.targets):
                print(f"hint: on_failure rolled the failing release back; deploy a fixed one with "
                      f"`stackctl deploy --env {result.env}` (a new rollout)", file=self.err, flush=True)
            elif any(t.status in ("not started", "unreachable", "failed") for t in result.targets):
                print(f"hint: fix the cause, then `stackctl deploy --env {result.env} --resume` continues "
                      "at the first wave not done, with the same images", file=self.err, flush=True)


def print_rollout_history(rows: Sequence[Sequence[str]]) -> None:
    from stackctl.render.tables import print_table

    print_table(["TARGET", "REVISION", "UPDATED", "STATUS", "ROLLOUT", "WAVE", "DESCRIPTION"], rows)
