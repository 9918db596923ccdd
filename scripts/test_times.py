"""Seconds per test module from pytest's JUnit XML (`make test` with `--junitxml=FILE`).

    python3 scripts/test_times.py BEFORE.xml [AFTER.xml]

prints a Markdown table, slowest module first: tests and seconds per module (each test's setup, call
and teardown, as pytest's JUnit report counts them), and with two reports both columns side by side.
Used for the before/after table in bench/README.md.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from collections import defaultdict


def module_times(path: str) -> dict[str, tuple[int, float]]:
    counts: dict[str, int] = defaultdict(int)
    seconds: dict[str, float] = defaultdict(float)
    for case in ET.parse(path).getroot().iter("testcase"):
        module = (case.get("classname") or "?").split("@")[0]
        parts = module.split(".")
        # classname is the dotted module path, plus a class name for tests in a class
        while parts and not parts[-1].startswith("test_"):
            parts.pop()
        name = ".".join(parts) or module
        counts[name] += 1
        seconds[name] += float(case.get("time") or 0)
    return {name: (counts[name], seconds[name]) for name in counts}


def main(argv: list[str]) -> int:
    if not 1 <= len(argv) <= 2:
        print(__doc__, file=sys.stderr)
        return 64
    reports = [module_times(path) for path in argv]
    names = sorted(set().union(*reports), key=lambda n: -max(r.get(n, (0, 0.0))[1] for r in reports))
    head = ["module", "tests"] + [f"s ({i + 1})" for i in range(len(reports))]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in names:
        row = [name.removeprefix("tests."), str(max(r.get(name, (0, 0.0))[0] for r in reports))]
        row += [f"{r[name][1]:.0f}" if name in r else "-" for r in reports]
        print("| " + " | ".join(row) + " |")
    totals = [sum(s for _, s in r.values()) for r in reports]
    print("| **total** | " + str(max(sum(c for c, _ in r.values()) for r in reports)) + " | "
          + " | ".join(f"{t:.0f}" for t in totals) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
