"""Golden tests of the plain-text and JSON renderings of ps, services and ls.

Regenerate after an intended change with `STACKCTL_UPDATE_GOLDEN=1 pytest tests/unit/test_render_tables.py`
and review the diff.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from stackctl.observe import stack_summaries
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
    shorten,
)
from stackctl.render.tasks import task_rows
from stackctl.swarm.services import service_statuses
from stackctl.swarm.times import parse_time
from tests.paths import check_golden

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent.parent / "golden" / "ps"


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
    check_golden(GOLDEN / golden, ps_text(rows, statuses, no_trunc=no_trunc))


def test_ps_json() -> None:
    doc = load("ps_mixed_stack.json")
    now = parse_time(doc["now"])
    rows = task_rows(doc["tasks"], doc["services"], doc["nodes"], now=now)
    statuses = service_statuses(doc["services"], doc["tasks"])
    check_golden(GOLDEN / "mixed.json", json.dumps(ps_json("ts1", rows, statuses, now), indent=2) + "\n")


def test_print_ps_to_a_pipe_is_the_plain_text() -> None:
    doc = load("ps_lab_recorded.json")
    now = parse_time(doc["now"])
    rows = task_rows(doc["tasks"], doc["services"], doc["nodes"], now=now)
    statuses = service_statuses(doc["services"], doc["tasks"])
    out, err = io.StringIO(), io.StringIO()
    print_ps(rows, statuses, no_trunc=False, stream=out, summary_stream=err)
    assert out.getvalue() + "\n" + err.getvalue() == ps_text(rows, statuses, no_trunc=False)
    assert "converged" not in out.getvalue()  # stdout: the table only; the summary goes to stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


LONG = "convwidestackname_application-server"


def _long_rows() -> tuple[list, list]:
    doc = load("ps_mixed_stack.json")
    for obj in doc["services"]:
        obj["Spec"]["Name"] = obj["Spec"]["Name"].replace("ts1_", f"{LONG}_")
        image = obj["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
        obj["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] = "registry.example.com:5000/team/" + image
    for task in doc["tasks"]:
        task["ID"] = "3ykbwsig597c" + task["ID"] + "x" * 13
        task["Spec"]["ContainerSpec"]["Image"] = "registry.example.com:5000/team/busybox:latest"
    now = parse_time(doc["now"])
    return (task_rows(doc["tasks"], doc["services"], doc["nodes"], now=now),
            service_statuses(doc["services"], doc["tasks"]))


def test_ps_at_80_columns_never_cuts_names_ids_or_nodes(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, statuses = _long_rows()
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("NO_COLOR", "1")
    term, err = _Terminal(), io.StringIO()
    print_ps(rows, statuses, no_trunc=False, stream=term, summary_stream=err)
    lines = term.getvalue().splitlines()
    assert len(lines) == len(rows) + 1  # one line per task: nothing wrapped
    # the short headers and the short CURRENT STATE, which says the error: no ERROR column
    assert lines[0].split() == ["ID", "NAME", "IMAGE", "NODE", "DESIRED", "CURRENT", "PORTS"]
    for row, line in zip(rows, lines[1:], strict=True):
        assert line.startswith(row.id[:12] + "  ")  # IDs: 12 characters, whole
        assert f" {row.name} " in line and (row.node or "") in line  # names and nodes whole
    assert "Failed 2m: n…" in term.getvalue()  # the state and its age whole, then what the error leaves
    pipe = io.StringIO()
    print_ps(rows, statuses, no_trunc=False, stream=pipe, summary_stream=io.StringIO())
    header = pipe.getvalue().splitlines()[0].split()
    assert header == ["ID", "NAME", "IMAGE", "NODE", "DESIRED", "STATE", "CURRENT", "STATE", "ERROR", "PORTS"]
    assert LONG in pipe.getvalue() and "registry.example.com:5000/team/busybox:latest" in pipe.getvalue()


def test_no_trunc_shows_everything_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, statuses = _long_rows()
    monkeypatch.setenv("COLUMNS", "80")
    term = _Terminal()
    print_ps(rows, statuses, no_trunc=True, stream=term, summary_stream=io.StringIO())
    text = term.getvalue()
    assert "…" not in text and LONG in text and "3ykbwsig597c" + rows[0].id[12:] in text
    assert len(text.splitlines()) == len(rows) + 1


def test_terminal_rows_are_coloured_without_changing_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    rows, statuses = _long_rows()
    monkeypatch.setenv("COLUMNS", "300")
    monkeypatch.delenv("NO_COLOR", raising=False)
    term, pipe = _Terminal(), io.StringIO()
    print_ps(rows, statuses, no_trunc=False, stream=term, summary_stream=io.StringIO())
    print_ps(rows, statuses, no_trunc=False, stream=pipe, summary_stream=io.StringIO())
    assert "\x1b[31m" in term.getvalue()
    assert re.sub(r"\x1b\[[0-9;]*m", "", term.getvalue()) == pipe.getvalue()


def test_shorten_keeps_quotes_and_ends_with_an_ellipsis() -> None:
    assert shorten("abcdefghij", 5) == "abcd…"
    assert shorten('"task: non-zero exit (1)"', 10) == '"task: n…"'
    assert shorten("short", 10) == "short"


def test_services_and_ls() -> None:
    doc = load("ps_mixed_stack.json")
    statuses = service_statuses(doc["services"], doc["tasks"])
    stacks = stack_summaries(doc["services"], doc["networks"], doc["secrets"], doc["configs"])
    text = (plain_table(SERVICES_HEADERS, [services_cells(s) for s in statuses]) + "\n"
            + plain_table(LS_HEADERS, [ls_cells(s) for s in stacks]) + "\n"
            + json.dumps(services_json("ts1", statuses), indent=2) + "\n"
            + json.dumps(ls_json(stacks), indent=2) + "\n")
    check_golden(GOLDEN / "services_and_ls.txt", text)


def test_the_live_rollout_table_keeps_one_line_per_service_at_80_columns() -> None:
    from rich.console import Console

    from stackctl.apply.convergence import ServiceProgress
    from stackctl.render.progress import _table

    progress = [ServiceProgress(name=f"{LONG}_{i}", running=1, desired=2, message="1/2 running",
                                task_error="task: non-zero exit (1): " + "x" * 80) for i in range(3)]
    out = io.StringIO()
    Console(file=out, width=80).print(_table(progress, "rollout", 80))
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 + len(progress) and all(len(line) <= 80 for line in lines)
    assert lines[1].split() == ["SERVICE", "TASKS", "UPDATE", "STATE", "TASK", "ERROR"]
    assert all(f"{LONG}_{i}" in lines[2 + i] for i in range(3))  # the service names whole
