"""Golden tests of the plain-text and JSON renderings of ps, services and ls.

Regenerate after an intended change with `STACKCTL_UPDATE_GOLDEN=1 pytest tests/unit/test_render_tables.py`
and review the diff.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from stackctl.inspect_tasks import parse_time, service_statuses, stack_summaries, task_rows
from stackctl.render.tables import (
    LS_HEADERS,
    SERVICES_HEADERS,
    ls_cells,
    ls_json,
    plain_table,
    print_ps,
    ps_json,
    ps_text,
    services_cells,
    services_json,
)

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent.parent / "golden" / "ps"


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("STACKCTL_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    assert path.exists(), f"missing golden file {path} (run with STACKCTL_UPDATE_GOLDEN=1)"
    assert actual == path.read_text()


def load(name: str) -> dict:
    return json.loads((DATA / name).read_text())


@pytest.mark.parametrize(("fixture", "all_tasks", "no_trunc", "golden"), [
    ("ps_mixed_stack.json", False, False, "mixed_default.txt"),
    ("ps_mixed_stack.json", True, False, "mixed_all.txt"),
    ("ps_mixed_stack.json", False, True, "mixed_no_trunc.txt"),
    ("ps_lab_recorded.json", False, False, "lab_default.txt"),
    ("ps_lab_recorded.json", False, True, "lab_no_trunc.txt"),
])
def test_ps_text(fixture: str, all_tasks: bool, no_trunc: bool, golden: str) -> None:
    doc = load(fixture)
    now = parse_time(doc["now"])
    rows = task_rows(doc["tasks"], doc["services"], doc["nodes"], now=now, all_tasks=all_tasks)
    statuses = service_statuses(doc["services"], doc["tasks"])
    check_golden(golden, ps_text(rows, statuses, no_trunc=no_trunc))


def test_ps_json() -> None:
    doc = load("ps_mixed_stack.json")
    now = parse_time(doc["now"])
    rows = task_rows(doc["tasks"], doc["services"], doc["nodes"], now=now)
    statuses = service_statuses(doc["services"], doc["tasks"])
    check_golden("mixed.json", json.dumps(ps_json("ts1", rows, statuses, now), indent=2) + "\n")


def test_print_ps_to_a_pipe_is_the_plain_text() -> None:
    doc = load("ps_lab_recorded.json")
    now = parse_time(doc["now"])
    rows = task_rows(doc["tasks"], doc["services"], doc["nodes"], now=now)
    statuses = service_statuses(doc["services"], doc["tasks"])
    out = io.StringIO()
    print_ps(rows, statuses, no_trunc=False, stream=out)
    assert out.getvalue() == ps_text(rows, statuses, no_trunc=False)


def test_services_and_ls() -> None:
    doc = load("ps_mixed_stack.json")
    statuses = service_statuses(doc["services"], doc["tasks"])
    stacks = stack_summaries(doc["services"], doc["networks"], doc["secrets"], doc["configs"])
    text = (plain_table(SERVICES_HEADERS, [services_cells(s) for s in statuses]) + "\n"
            + plain_table(LS_HEADERS, [ls_cells(s) for s in stacks]) + "\n"
            + json.dumps(services_json("ts1", statuses), indent=2) + "\n"
            + json.dumps(ls_json(stacks), indent=2) + "\n")
    check_golden("services_and_ls.txt", text)
